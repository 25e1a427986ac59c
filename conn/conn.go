package conn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/waproto"
)

// State is the connection's health as /v1/health reports it.
type State string

// Connection states (the gateway_status values of /v1/health).
const (
	StateDisconnected State = "disconnected"
	StateConnecting   State = "connecting"
	StateConnected    State = "connected"
	// StateUnregistered: the server refused the account (logged out,
	// banned, unknown key); the connection stays down until restarted
	// after re-registration.
	StateUnregistered State = "unregistered"
)

// Config configures a Conn. Zero durations take the defaults noted.
type Config struct {
	Dialer Dialer
	// NoiseKey is the account's static key; RootKey the trusted root of
	// the server certificate chain.
	NoiseKey noise.KeyPair
	RootKey  [32]byte
	// Username is the business number as digits (cc + national number).
	Username string
	// Passive asks the server not to send offline messages yet: a primary
	// device logs in passive the first time to upload its keys.
	Passive  bool
	PushName string
	// UserAgent is sent in the ClientPayload; nil uses DefaultUserAgent().
	UserAgent *waproto.ClientPayload_UserAgent

	IQTimeout        time.Duration // default 75s
	LoginTimeout     time.Duration // handshake and success/failure; default 30s
	KeepAliveMin     time.Duration // default 20s
	KeepAliveMax     time.Duration // default 30s
	KeepAliveTimeout time.Duration // default 10s
	ReconnectMin     time.Duration // first backoff ceiling; default 1s
	ReconnectMax     time.Duration // backoff cap; default 2m
	Logger           *slog.Logger  // default slog.Default()
	// OnEvent receives connection events (Connected, Disconnected,
	// LoggedOut, StreamReplaced) from the supervisor goroutine, in order.
	// It must return quickly.
	OnEvent func(Event)
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.IQTimeout, 75*time.Second)
	def(&c.LoginTimeout, 30*time.Second)
	def(&c.KeepAliveMin, 20*time.Second)
	def(&c.KeepAliveMax, 30*time.Second)
	def(&c.KeepAliveTimeout, 10*time.Second)
	def(&c.ReconnectMin, time.Second)
	def(&c.ReconnectMax, 2*time.Minute)
	if c.KeepAliveMax < c.KeepAliveMin {
		c.KeepAliveMax = c.KeepAliveMin
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Event is something that happened to the connection.
type Event interface{ isEvent() }

// Connected: login succeeded. ServerTime is the t of <success>.
type Connected struct{ ServerTime time.Time }

// Disconnected: the connection dropped; Conn reconnects by itself.
type Disconnected struct{ Err error }

// LoggedOut: the server refused or removed the account; Conn stops.
type LoggedOut struct{ Err error }

// StreamReplaced: another connection logged in as this account; Conn
// stops, as the server expects of the replaced side.
type StreamReplaced struct{}

func (Connected) isEvent()      {}
func (Disconnected) isEvent()   {}
func (LoggedOut) isEvent()      {}
func (StreamReplaced) isEvent() {}

// Handler handles one inbound stanza. Handlers run one at a time, in
// arrival order, on the connection's dispatch goroutine; a handler that
// needs a reply from the server (SendIQ) may wait for it, since replies
// bypass the dispatch queue.
type Handler func(ctx context.Context, n wabin.Node)

// Errors.
var (
	// ErrNotConnected: there is no live connection to send on.
	ErrNotConnected = errors.New("conn: not connected")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("conn: closed")
	// ErrTimeout: no reply within the deadline.
	ErrTimeout = errors.New("conn: timed out waiting for the server")
	// ErrReplaced: another connection logged in as this account.
	ErrReplaced = errors.New("conn: stream replaced by another login")
)

// IQError is an <iq type="error"> reply.
type IQError struct {
	Code int
	Text string
}

func (e *IQError) Error() string { return fmt.Sprintf("conn: iq error %d %s", e.Code, e.Text) }

// LoginError is a <failure> answer to login, or a stream error that logs
// the account out.
type LoginError struct {
	Reason  int
	Message string
	// Expire is how long a temporary ban lasts (reason 402).
	Expire time.Duration
}

func (e *LoginError) Error() string {
	msg := loginReasons[e.Reason]
	if msg == "" {
		msg = "login failed"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return fmt.Sprintf("conn: login failure %d (%s)", e.Reason, msg)
}

// Permanent reports whether retrying the login cannot help until the
// account changes (re-registration, unban, upgrade).
func (e *LoginError) Permanent() bool {
	switch e.Reason {
	case 500, 501, 503:
		return false
	}
	return true
}

var loginReasons = map[int]string{
	400: "generic failure", 401: "logged out", 402: "temporarily banned", 403: "account locked",
	405: "client outdated", 406: "banned", 409: "bad user agent", 413: "CAT expired", 414: "CAT invalid",
	415: "not found", 418: "client unknown", 500: "internal server error", 501: "not implemented", 503: "service unavailable",
}

// Conn is the coreapp's chat connection: it connects, logs in, keeps the
// connection alive and reconnects until Close. Create it with New, register
// handlers, then Start.
type Conn struct {
	cfg      Config
	handlers map[string]Handler
	payload  []byte // marshaled ClientPayload

	mu      sync.Mutex
	state   State
	live    *session // nil while disconnected
	waiters map[string]chan wabin.Node
	started bool

	idPrefix string
	idSeq    atomic.Uint64

	stop context.CancelFunc
	done chan struct{}
}

// session is one logged-in socket.
type session struct {
	sock *noise.Socket
}

// New checks cfg and returns a Conn that is not yet connected.
func New(cfg Config) (*Conn, error) {
	cfg.setDefaults()
	if cfg.Username == "" {
		return nil, errors.New("conn: Config.Username is required")
	}
	user, err := strconv.ParseUint(cfg.Username, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("conn: Config.Username %q must be digits: %w", cfg.Username, err)
	}
	if len(cfg.Dialer.Hosts) == 0 {
		return nil, errors.New("conn: Config.Dialer.Hosts is empty")
	}
	ua := cfg.UserAgent
	if ua == nil {
		ua = DefaultUserAgent()
	}
	payload, err := proto.Marshal(&waproto.ClientPayload{
		Username:      proto.Uint64(user),
		Passive:       proto.Bool(cfg.Passive),
		PushName:      proto.String(cfg.PushName),
		SessionID:     proto.Int32(rand.Int32()),
		ShortConnect:  proto.Bool(true),
		ConnectType:   waproto.ClientPayload_WIFI_UNKNOWN.Enum(),
		ConnectReason: waproto.ClientPayload_USER_ACTIVATED.Enum(),
		Device:        proto.Uint32(0),
		UserAgent:     ua,
	})
	if err != nil {
		return nil, fmt.Errorf("conn: client payload: %w", err)
	}
	return &Conn{
		cfg:      cfg,
		handlers: map[string]Handler{},
		payload:  payload,
		state:    StateDisconnected,
		waiters:  map[string]chan wabin.Node{},
		idPrefix: fmt.Sprintf("%d.%d-", rand.IntN(256), rand.IntN(256)),
	}, nil
}

// DefaultUserAgent is the UserAgent sent when Config.UserAgent is nil: an
// enterprise (On-Premises) client.
func DefaultUserAgent() *waproto.ClientPayload_UserAgent {
	return &waproto.ClientPayload_UserAgent{
		Platform: waproto.ClientPayload_UserAgent_ENTERPRISE.Enum(),
		AppVersion: &waproto.ClientPayload_UserAgent_AppVersion{
			Primary: proto.Uint32(2), Secondary: proto.Uint32(53), Tertiary: proto.Uint32(0),
		},
		Mcc: proto.String("000"), Mnc: proto.String("000"),
		OsVersion: proto.String("1"), Manufacturer: proto.String("waent"), Device: proto.String("waent"),
		OsBuildNumber:               proto.String("1"),
		LocaleLanguageIso6391:       proto.String("en"),
		LocaleCountryIso31661Alpha2: proto.String("US"),
	}
}

// Handle registers h for stanzas with the given tag, replacing any
// previous one (nil removes it). Stanzas with no handler are logged and
// dropped; the server's pings are answered by Conn itself.
func (c *Conn) Handle(tag string, h Handler) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == nil {
		delete(c.handlers, tag)
		return
	}
	c.handlers[tag] = h
}

// Start launches the supervisor that connects and stays connected until
// Close. It returns at once; watch State or OnEvent for progress.
func (c *Conn) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return
	}
	c.started = true
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	c.done = make(chan struct{})
	go c.supervise(ctx)
}

// Close stops the connection and waits for every goroutine to end.
func (c *Conn) Close() error {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.started = true // Start after Close stays a no-op
	c.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	<-done
	return nil
}

// State returns the current connection state.
func (c *Conn) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Conn) setState(s State) {
	c.mu.Lock()
	c.state = s
	c.mu.Unlock()
}

func (c *Conn) emit(e Event) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(e)
	}
}

// supervise connects, serves the session until it ends and reconnects
// with capped exponential backoff and full jitter, so a fleet of clients
// does not reconnect in lockstep after a server restart.
func (c *Conn) supervise(ctx context.Context) {
	defer close(c.done)
	defer c.setState(StateDisconnected)
	failures := 0
	for ctx.Err() == nil {
		c.setState(StateConnecting)
		s, when, err := c.connect(ctx)
		if err == nil {
			failures = 0
			err = c.serve(ctx, s, when)
		}
		if ctx.Err() != nil {
			return
		}
		var le *LoginError
		switch {
		case errors.As(err, &le) && le.Permanent():
			c.cfg.Logger.Warn("chat login refused; not reconnecting", "err", err)
			c.setState(StateUnregistered)
			c.emit(LoggedOut{Err: err})
			<-ctx.Done()
			return
		case errors.Is(err, ErrReplaced):
			c.cfg.Logger.Warn("chat stream replaced by another login; not reconnecting")
			c.setState(StateDisconnected)
			c.emit(StreamReplaced{})
			<-ctx.Done()
			return
		case errors.Is(err, errRestartNow):
			c.setState(StateDisconnected)
			c.emit(Disconnected{Err: err})
			continue // the server asked for an immediate reconnect
		}
		c.setState(StateDisconnected)
		c.emit(Disconnected{Err: err})
		failures++
		pause := backoff(failures, c.cfg.ReconnectMin, c.cfg.ReconnectMax)
		c.cfg.Logger.Info("chat connection lost; reconnecting", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// backoff is "full jitter": uniform in [0, min(max, min·2^(n-1))).
func backoff(n int, lo, hi time.Duration) time.Duration {
	ceiling := hi
	if n < 30 {
		if d := lo << (n - 1); d > 0 && d < hi {
			ceiling = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

// dispatchQueue bounds the stanzas read but not yet handled.
const dispatchQueue = 1024

var errRestartNow = errors.New("conn: server asked to reconnect (stream error 515)")

// connect dials, runs the Noise handshake and waits for the login result.
func (c *Conn) connect(ctx context.Context) (*noise.Socket, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LoginTimeout)
	defer cancel()
	raw, addr, err := c.cfg.Dialer.DialContext(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	sock, err := noise.Client(ctx, raw, noise.ClientConfig{Static: c.cfg.NoiseKey, Payload: c.payload, RootKey: c.cfg.RootKey})
	if err != nil {
		raw.Close()
		return nil, time.Time{}, fmt.Errorf("conn: handshake with %s: %w", addr, err)
	}
	// The first node after the handshake is the login result.
	if dl, ok := ctx.Deadline(); ok {
		sock.SetReadDeadline(dl)
	}
	n, err := readNode(sock)
	sock.SetReadDeadline(time.Time{})
	if err != nil {
		sock.Close()
		return nil, time.Time{}, fmt.Errorf("conn: waiting for login result from %s: %w", addr, err)
	}
	switch n.Tag {
	case "success":
		t, _ := strconv.ParseInt(n.AttrString("t"), 10, 64)
		return sock, time.Unix(t, 0), nil
	case "failure":
		sock.Close()
		return nil, time.Time{}, loginError(n)
	}
	sock.Close()
	return nil, time.Time{}, fmt.Errorf("conn: unexpected <%s> instead of a login result", n.Tag)
}

func loginError(n wabin.Node) *LoginError {
	reason, _ := strconv.Atoi(n.AttrString("reason"))
	expire, _ := strconv.Atoi(n.AttrString("expire"))
	return &LoginError{Reason: reason, Message: n.AttrString("message"), Expire: time.Duration(expire) * time.Second}
}

func readNode(sock *noise.Socket) (wabin.Node, error) {
	frame, err := sock.ReadFrame()
	if err != nil {
		return wabin.Node{}, err
	}
	return wabin.Unpack(frame)
}

// serve runs a logged-in session: the read loop here, dispatch and
// keepalive beside it. It returns why the session ended.
func (c *Conn) serve(ctx context.Context, sock *noise.Socket, serverTime time.Time) error {
	s := &session{sock: sock}
	c.mu.Lock()
	c.live = s
	c.state = StateConnected
	c.mu.Unlock()
	c.emit(Connected{ServerTime: serverTime}) // once sends can succeed

	sctx, cancel := context.WithCancel(ctx)
	// Replies to SendIQ and SendAwaitAck bypass this queue, so a handler
	// may wait for one; but while the queue is full the read loop waits
	// too, which is the backpressure that keeps a slow consumer from
	// buffering without bound (the server keeps what is not acked).
	queue := make(chan wabin.Node, dispatchQueue)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); c.dispatch(sctx, queue) }()
	go func() { defer wg.Done(); c.keepAlive(sctx, s) }()
	go func() { // closing the socket is how the read loop is interrupted
		<-sctx.Done()
		sock.Close()
	}()

	err := c.readLoop(sctx, s, queue)
	cancel()
	close(queue)
	wg.Wait()

	c.mu.Lock()
	c.live = nil
	for id, w := range c.waiters {
		delete(c.waiters, id)
		close(w) // waiters see the disconnect at once
	}
	c.mu.Unlock()
	return err
}

func (c *Conn) readLoop(ctx context.Context, s *session, queue chan<- wabin.Node) error {
	for {
		n, err := readNode(s.sock)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("conn: read: %w", err)
		}
		switch n.Tag {
		case "stream:error":
			return streamError(n)
		case "xmlstreamend":
			return errors.New("conn: server ended the stream")
		case "iq":
			typ := n.AttrString("type")
			if typ == "result" || typ == "error" {
				if c.deliver("iq:"+n.AttrString("id"), n) {
					continue
				}
			} else if typ == "get" && n.AttrString("xmlns") == "urn:xmpp:ping" {
				c.send(s, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"id": n.AttrString("id"), "type": "result", "to": wabin.ServerJID}})
				continue
			}
		case "ack":
			if c.deliver("ack:"+n.AttrString("id"), n) {
				continue
			}
		}
		select {
		case queue <- n:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func streamError(n wabin.Node) error {
	code := n.AttrString("code")
	if conflict, ok := n.Child("conflict"); ok {
		switch conflict.AttrString("type") {
		case "replaced":
			return ErrReplaced
		case "device_removed":
			return &LoginError{Reason: 401, Message: "device removed"}
		}
	}
	switch code {
	case "515":
		return errRestartNow
	case "401":
		return &LoginError{Reason: 401, Message: "stream error"}
	}
	return fmt.Errorf("conn: stream error %s", code)
}

func (c *Conn) dispatch(ctx context.Context, queue <-chan wabin.Node) {
	for n := range queue {
		c.mu.Lock()
		h := c.handlers[n.Tag]
		c.mu.Unlock()
		if h == nil {
			c.cfg.Logger.Debug("no handler for stanza; dropped", "tag", n.Tag, "id", n.AttrString("id"))
			continue
		}
		h(ctx, n)
	}
}

// keepAlive pings at random intervals; a ping left unanswered past the
// timeout ends the session so the supervisor reconnects.
func (c *Conn) keepAlive(ctx context.Context, s *session) {
	for {
		wait := c.cfg.KeepAliveMin + time.Duration(rand.Int64N(int64(c.cfg.KeepAliveMax-c.cfg.KeepAliveMin)+1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		pctx, cancel := context.WithTimeout(ctx, c.cfg.KeepAliveTimeout)
		_, err := c.SendIQ(pctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:p", "type": "get", "to": wabin.ServerJID},
			Content: []wabin.Node{{Tag: "ping"}}})
		cancel()
		if err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("keepalive failed; reconnecting", "err", err)
			s.sock.Close()
			return
		}
	}
}

// NewID returns a fresh stanza id.
func (c *Conn) NewID() string {
	return c.idPrefix + strconv.FormatUint(c.idSeq.Add(1), 10)
}

// Send writes one stanza on the live connection.
func (c *Conn) Send(ctx context.Context, n wabin.Node) error {
	c.mu.Lock()
	s := c.live
	c.mu.Unlock()
	if s == nil {
		return ErrNotConnected
	}
	return c.send(s, n)
}

func (c *Conn) send(s *session, n wabin.Node) error {
	b, err := wabin.Pack(n)
	if err != nil {
		return fmt.Errorf("conn: encode <%s>: %w", n.Tag, err)
	}
	if err := s.sock.WriteFrame(b); err != nil {
		return fmt.Errorf("conn: write <%s>: %w", n.Tag, err)
	}
	return nil
}

// SendIQ sends an <iq> (giving it an id if it has none) and waits for the
// matching result; an error reply is returned as *IQError.
func (c *Conn) SendIQ(ctx context.Context, n wabin.Node) (wabin.Node, error) {
	reply, err := c.request(ctx, "iq", n)
	if err != nil {
		return reply, err
	}
	if reply.AttrString("type") == "error" {
		e := &IQError{}
		if en, ok := reply.Child("error"); ok {
			e.Code, _ = strconv.Atoi(en.AttrString("code"))
			e.Text = en.AttrString("text")
		}
		return reply, e
	}
	return reply, nil
}

// SendAwaitAck sends a stanza (a <message>, typically) and waits for the
// server's <ack> with the same id, which it returns.
func (c *Conn) SendAwaitAck(ctx context.Context, n wabin.Node) (wabin.Node, error) {
	return c.request(ctx, "ack", n)
}

func (c *Conn) request(ctx context.Context, replyTag string, n wabin.Node) (wabin.Node, error) {
	if n.Attrs == nil {
		n.Attrs = wabin.Attrs{}
	}
	id := n.AttrString("id")
	if id == "" {
		id = c.NewID()
		n.Attrs["id"] = id
	}
	key := replyTag + ":" + id
	w := make(chan wabin.Node, 1)
	c.mu.Lock()
	s := c.live
	if s == nil {
		c.mu.Unlock()
		return wabin.Node{}, ErrNotConnected
	}
	c.waiters[key] = w
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.waiters[key] == w {
			delete(c.waiters, key)
		}
		c.mu.Unlock()
	}()
	if err := c.send(s, n); err != nil {
		return wabin.Node{}, err
	}
	timeout := time.NewTimer(c.cfg.IQTimeout)
	defer timeout.Stop()
	select {
	case reply, ok := <-w:
		if !ok {
			return wabin.Node{}, ErrNotConnected
		}
		return reply, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return wabin.Node{}, fmt.Errorf("%w: <%s id=%s>", ErrTimeout, n.Tag, id)
		}
		return wabin.Node{}, ctx.Err()
	case <-timeout.C:
		return wabin.Node{}, fmt.Errorf("%w: <%s id=%s>", ErrTimeout, n.Tag, id)
	}
}

// deliver hands a reply to its waiter, reporting whether there was one.
func (c *Conn) deliver(key string, n wabin.Node) bool {
	c.mu.Lock()
	w, ok := c.waiters[key]
	if ok {
		delete(c.waiters, key)
	}
	c.mu.Unlock()
	if ok {
		w <- n // buffered, and each waiter gets at most one reply
	}
	return ok
}

// RemoteAddr is the address of the live connection, or nil.
func (c *Conn) RemoteAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == nil {
		return nil
	}
	return c.live.sock.RemoteAddr()
}
