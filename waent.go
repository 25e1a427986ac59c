package waent

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/internal/groupcommit"
	"github.com/waent/waent/outbox"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/templates"
	"github.com/waent/waent/webhook"
)

// Config configures a Client. Store is required; everything else has a
// default.
type Config struct {
	// Store keeps everything durable (keys, messages, queues, settings).
	Store store.Store

	// Dialer reaches the chat servers (5222, then 443, through a proxy if
	// the environment says so). ChatRootKey is the public key that signs
	// the servers' certificate chains.
	Dialer      conn.Dialer
	ChatRootKey [32]byte
	// RegistrationURL is the registration service's base URL.
	RegistrationURL string

	// PushName is the name phones show for the business before it is
	// saved as a contact.
	PushName string

	// Media keeps media bytes (uploads, downloads of received media).
	// Default: in memory, which suits tests; a deployment passes a
	// filesystem store.
	Media store.MediaStore

	// Webhook receives the callbacks (inbound messages, statuses, system
	// messages). Nil: HTTPS POSTs to the webhooks.url setting; while none
	// is set, callbacks wait in the store.
	Webhook webhook.Sink
	// WebhookSecrets, when set, sign the HTTPS callbacks (Standard
	// Webhooks); two during a rotation. WebhookCACertPEM adds roots to
	// trust for the webhook server.
	WebhookSecrets   []string
	WebhookCACertPEM []byte
	// MaxCallbackQueue bounds the callbacks waiting for the webhook: past
	// it, Send fails with 1016 "System overloaded" instead of the queue
	// growing without end. Default 100,000.
	MaxCallbackQueue int

	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()

	// ReadyTimeout caps the wait for offline messages after connecting
	// before sends are accepted (On-Premises: 6 minutes).
	ReadyTimeout time.Duration
	// ContactTTL is how long contact checks are cached (7 days).
	ContactTTL time.Duration
	// ReconnectMin and ReconnectMax bound the reconnect backoff
	// (defaults 1s and 2m); IQTimeout bounds server requests (75s).
	ReconnectMin, ReconnectMax, IQTimeout time.Duration

	// Outbox tunables; see outbox.Config.
	OutboxBatchSize   int
	OutboxWindow      int
	OutboxAckTimeout  time.Duration
	OutboxRetryMin    time.Duration
	OutboxRetryMax    time.Duration
	OutboxMemoryLimit int
	// InboundBatchSize bounds the inbound messages committed in one
	// transaction. Default 256.
	InboundBatchSize int

	// Users tunes the API users: password hashing, token lifetime,
	// login throttling.
	Users UsersConfig

	// TemplateRefresh is how often the template catalogue is pulled
	// besides (re)connections and the server's change notifications.
	// Default 20 minutes (On-Premises: changes reach the client within
	// about 20 minutes). TemplateMaxAge is how old a cached catalogue may
	// be and still serve (default 7 days).
	TemplateRefresh time.Duration
	TemplateMaxAge  time.Duration
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = 6 * time.Minute
	}
	if c.ContactTTL <= 0 {
		c.ContactTTL = 7 * 24 * time.Hour
	}
	if c.InboundBatchSize <= 0 {
		c.InboundBatchSize = 256
	}
	if c.MaxCallbackQueue <= 0 {
		c.MaxCallbackQueue = 100_000
	}
	if c.Media == nil {
		c.Media = memstore.NewMedia()
	}
	if c.IQTimeout <= 0 {
		c.IQTimeout = 75 * time.Second
	}
	if c.TemplateRefresh <= 0 {
		c.TemplateRefresh = 20 * time.Minute
	}
}

// Health is the coreapp's state as /v1/health reports it.
type Health string

// Health states.
const (
	HealthUnregistered Health = "unregistered"
	HealthConnecting   Health = "connecting"
	HealthConnected    Health = "connected"
	HealthDisconnected Health = "disconnected"
	HealthStopped      Health = "stopped"
)

// Client is the On-Premises coreapp hosted in-process: the chat
// connection, Signal, the outbox and the inbound pipeline over one Store.
// Create it with New, then Start; Close stops everything it started.
type Client struct {
	cfg Config
	st  *callbackQueue // cfg.Store, with the callback queue where callback_persist says
	log *slog.Logger

	mu           sync.Mutex
	chatStarting bool
	// signalMu serialises the transactions that change Signal sessions
	// (inbound decryption, outbound encryption); see outbox.Config.
	signalMu sync.Mutex
	// acctMu serialises creating the account on first use.
	acctMu   sync.Mutex
	acct     store.Account
	settings Settings
	// settingsGen counts local settings writes, so a periodic reload that
	// raced one does not bring the old values back.
	settingsGen uint64
	started     bool
	closed      bool
	chat        *chatParts // nil until registered and started
	// readiness: sends are accepted once the connection has been up and
	// the offline backlog processed (or ReadyTimeout passed).
	ready       bool
	offlineDone bool // the offline backlog is committed
	tmplSettled bool // the template catalogue was loaded or a pull attempted
	readyTimer  *time.Timer
	identities  map[string]bool // peer → unacknowledged identity change (cache)
	userState   *usersState     // login throttling, hashing slots
	pendingCode *pendingRegistration

	decryptFailures decryptLog
	// lookups bounds the background contact checks of no_wait requests.
	lookups chan struct{}
	// hooks delivers the callback queue to the webhook.
	hooks *webhook.Dispatcher
	// tmpl is the template catalogue sends are validated against.
	tmpl *templates.Catalogue
	// mediaSlots bounds concurrent media downloads; mediaHTTP is the
	// client for the media CDN and links (shared, so connections are
	// re-used).
	mediaSlots chan struct{}
	mediaHTTP  *http.Client
	// mediaConn caches the media hosts and auth for their ttl.
	mediaConnMu    sync.Mutex
	mediaConn      mediaConn
	mediaConnUntil time.Time

	bg   sync.WaitGroup // background work (contact lookups, key uploads)
	stop context.CancelFunc
	ctx  context.Context
}

// chatParts are the pieces that exist once the account is registered.
type chatParts struct {
	sig     *crypto.Signal
	conn    *conn.Conn
	ob      *outbox.Outbox
	inbound *groupcommit.Group[*inboundMsg]
	keys    chan struct{} // prekey check requests
	tmpl    chan struct{} // template catalogue pull requests
}

// New checks cfg and returns a Client; nothing runs until Start.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if cfg.Store == nil {
		return nil, errors.New("waent: Config.Store is required")
	}
	st := newCallbackQueue(cfg.Store)
	tmpl, err := templates.New(templates.Config{Store: st, MaxAge: cfg.TemplateMaxAge, Now: cfg.Now, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{cfg: cfg, st: st, tmpl: tmpl, mediaSlots: make(chan struct{}, 4), mediaHTTP: newMediaHTTPClient(), settings: defaultSettings(), userState: newUsersState(cfg.Users), log: cfg.Logger, identities: map[string]bool{}, ctx: ctx, stop: cancel,
		lookups: make(chan struct{}, 4)}, nil
}

func (c *Client) now() time.Time { return c.cfg.Now() }

// Start loads (or creates) the account and, if it is registered, connects.
// An unregistered Client waits for Register and Verify.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		return errors.New("waent: Client already started")
	}
	c.started = true
	c.mu.Unlock()
	acct, err := c.loadAccount(ctx)
	if err != nil {
		return err
	}
	s, _, err := loadSettings(ctx, c.st)
	if err != nil {
		return newError(CodeDatabase, "load settings", err)
	}
	if !s.CallbackPersist {
		if err := c.st.goVolatile(ctx); err != nil {
			return newError(CodeDatabase, "move callbacks to memory", err)
		}
	}
	hooks, err := c.newWebhooks(s)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.acct, c.settings, c.hooks = acct, s, hooks
	c.bg.Add(1)
	c.mu.Unlock()
	hooks.Start()
	go func() {
		defer c.bg.Done()
		c.settingsLoop()
	}()
	c.startGC()
	if acct.State == store.RegistrationRegistered {
		return c.startChat(acct)
	}
	return nil
}

// loadAccount returns the stored account, creating a fresh unregistered
// one (with its keys) on first start.
func (c *Client) loadAccount(ctx context.Context) (store.Account, error) {
	// Start and Register may both get here on a fresh install; only one
	// may create the keys.
	c.acctMu.Lock()
	defer c.acctMu.Unlock()
	acct, err := c.st.GetAccount(ctx)
	if err == nil {
		return acct, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return acct, newError(CodeDatabase, "load account", err)
	}
	acct, spk, err := crypto.NewAccount(c.now())
	if err != nil {
		return acct, newError(CodeInternal, "generate keys", err)
	}
	err = c.st.InTx(ctx, func(tx store.Store) error {
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		return tx.PutSignedPreKey(ctx, spk)
	})
	if err != nil {
		return acct, newError(CodeDatabase, "create account", err)
	}
	return acct, nil
}

// startChat builds the Signal engine, the outbox and the connection for a
// registered account and connects.
func (c *Client) startChat(acct store.Account) error {
	// Start, Register and Verify may race (a double-submitted verify):
	// exactly one of them builds the chat parts.
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return errClientClosed
	case c.chat != nil || c.chatStarting:
		c.mu.Unlock()
		return nil
	}
	c.chatStarting = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.chatStarting = false
		c.mu.Unlock()
	}()
	sig, err := crypto.New(acct, crypto.Options{Now: c.cfg.Now, Logger: c.log})
	if err != nil {
		return newError(CodeInternal, "signal", err)
	}
	nk := noise.KeyPair{}
	copy(nk.Public[:], acct.NoiseKey.Public)
	copy(nk.Private[:], acct.NoiseKey.Private)
	parts := &chatParts{sig: sig, keys: make(chan struct{}, 1), tmpl: make(chan struct{}, 1)}
	if fresh, err := c.tmpl.LoadCache(c.ctx); err != nil {
		c.log.Warn("template cache", "err", err)
	} else if fresh {
		c.templatesSettled()
	}
	cc, err := conn.New(conn.Config{
		Dialer: c.cfg.Dialer, NoiseKey: nk, RootKey: c.cfg.ChatRootKey,
		Username: acct.WAID, PushName: c.cfg.PushName,
		IQTimeout: c.cfg.IQTimeout, ReconnectMin: c.cfg.ReconnectMin, ReconnectMax: c.cfg.ReconnectMax,
		Logger: c.log, OnEvent: c.onConnEvent,
	})
	if err != nil {
		return newError(CodeInternal, "connection", err)
	}
	parts.conn = cc
	ob, err := outbox.New(outbox.Config{
		Store: c.st, Signal: sig, Transport: cc, Now: c.cfg.Now, Logger: c.log,
		BatchSize: c.cfg.OutboxBatchSize, Window: c.cfg.OutboxWindow, AckTimeout: c.cfg.OutboxAckTimeout,
		RetryMin: c.cfg.OutboxRetryMin, RetryMax: c.cfg.OutboxRetryMax, MemoryLimit: c.cfg.OutboxMemoryLimit,
		SignalLock: &c.signalMu,
		Hooks:      outbox.Hooks{Wire: wireOf, OnStatuses: c.statusCallbacks, OnIdentityChange: c.outboundIdentityChange, Held: c.heldForIdentity, Committed: c.kickWebhooks},
	})
	if err != nil {
		return newError(CodeInternal, "outbox", err)
	}
	parts.ob = ob
	parts.inbound = groupcommit.New(c.cfg.InboundBatchSize, func(ctx context.Context, msgs []*inboundMsg) error {
		return c.commitInbound(ctx, parts, msgs)
	})
	cc.Handle("message", func(ctx context.Context, n wabin.Node) { c.handleMessage(ctx, parts, n) })
	cc.Handle("receipt", func(ctx context.Context, n wabin.Node) { c.handleReceipt(ctx, parts, n) })
	cc.Handle("ack", func(ctx context.Context, n wabin.Node) {
		if n.AttrString("class") == "message" {
			ob.HandleAck(n)
		}
	})
	cc.Handle("notification", func(ctx context.Context, n wabin.Node) { c.handleNotification(ctx, parts, n) })
	cc.Handle("ib", func(ctx context.Context, n wabin.Node) { c.handleIB(parts, n) })
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		// Closed while we were building: nothing was started yet.
		parts.inbound.Close()
		ob.Close()
		return errClientClosed
	}
	c.chat = parts
	c.mu.Unlock()
	ob.Start()
	c.bg.Add(2)
	go func() {
		defer c.bg.Done()
		c.keysLoop(parts)
	}()
	go func() {
		defer c.bg.Done()
		c.templatesLoop(parts)
	}()
	cc.Start()
	return nil
}

// Close stops the connection and every background loop and waits for
// them. Accepted messages stay in the store and are sent after the next
// Start.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	parts := c.chat
	if c.readyTimer != nil {
		c.readyTimer.Stop()
	}
	c.mu.Unlock()
	if parts != nil {
		// Stop the input first, then commit what was accepted.
		parts.conn.Close()
		parts.inbound.Close()
		parts.ob.Close()
	}
	c.mu.Lock()
	hooks := c.hooks
	c.mu.Unlock()
	if hooks != nil {
		hooks.Close() // after the committers: what they queued is durable
	}
	c.stop()
	c.bg.Wait()
	return nil
}

// Health returns the connection state.
func (c *Client) Health() Health {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.closed:
		return HealthStopped
	case c.acct.State != store.RegistrationRegistered:
		return HealthUnregistered
	case c.chat == nil:
		return HealthDisconnected
	}
	switch c.chat.conn.State() {
	case conn.StateConnected:
		return HealthConnected
	case conn.StateConnecting:
		return HealthConnecting
	case conn.StateUnregistered:
		return HealthUnregistered
	}
	return HealthDisconnected
}

// Ready reports whether sends are accepted: connected once, offline
// messages processed (or ReadyTimeout passed).
func (c *Client) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

// WAID is the registered number, or "" before registration.
func (c *Client) WAID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acct.WAID
}

func (c *Client) onConnEvent(e conn.Event) {
	c.mu.Lock()
	parts := c.chat
	c.mu.Unlock()
	if parts == nil {
		return
	}
	switch e.(type) {
	case conn.Connected:
		parts.ob.SetConnected(true)
		select {
		case parts.keys <- struct{}{}:
		default:
		}
		c.askTemplates(parts)
		c.mu.Lock()
		if !c.ready && c.readyTimer == nil && !c.closed {
			c.readyTimer = time.AfterFunc(c.cfg.ReadyTimeout, c.markReady)
		}
		c.mu.Unlock()
	case conn.Disconnected, conn.LoggedOut, conn.StreamReplaced:
		parts.ob.SetConnected(false)
	}
}

// markReady makes the Client accept sends, whatever is still pending
// (ReadyTimeout passed).
func (c *Client) markReady() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready {
		c.ready = true
		c.log.Info("ready: accepting messages", "offline_done", c.offlineDone, "templates", c.tmplSettled)
	}
}

// tryReady makes the Client ready once the offline backlog is committed
// and the template catalogue settled (On-Premises readiness).
func (c *Client) tryReady() {
	c.mu.Lock()
	both := c.offlineDone && c.tmplSettled
	c.mu.Unlock()
	if both {
		c.markReady()
	}
}

func (c *Client) offlineProcessed() {
	c.mu.Lock()
	c.offlineDone = true
	c.mu.Unlock()
	c.tryReady()
}

// handleIB marks the offline backlog done once the server says so and
// every inbound message before it is committed.
func (c *Client) handleIB(parts *chatParts, n wabin.Node) {
	if _, ok := n.Child("offline"); !ok {
		return
	}
	// Submitting a marker through the inbound group commits after every
	// message queued before it.
	err := parts.inbound.SubmitAsync(c.ctx, &inboundMsg{marker: true}, func(error) { c.offlineProcessed() })
	if err != nil {
		c.offlineProcessed()
	}
}

func (c *Client) parts() (*chatParts, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.chat == nil {
		return nil, newError(CodeServiceNotReady, "the account is not registered", nil)
	}
	return c.chat, nil
}

var errClientClosed = errors.New("waent: Client closed")
