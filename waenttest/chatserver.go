package waenttest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/waproto"
)

// chatServer is the simulated chatd: it authenticates accounts by their
// noise static key, routes stanzas between them with store-and-forward, and
// serves the prekey and usync services. One mutex guards its state; each
// session writes through its own ordered queue.
type chatServer struct {
	net *Network

	mu        sync.Mutex
	accounts  map[string]*account // by phone number
	contacts  map[string]bool     // directory entries without a device
	listeners map[int]net.Listener
	portList  [2]int
	sessions  map[*serverSession]struct{}
	delay     time.Duration
	closed    bool

	wg sync.WaitGroup // accept loops and sessions
}

// account is the server's view of one number.
type account struct {
	phone   string
	session *serverSession
	logins  int
	// pending holds stanzas for this account in delivery order until the
	// account acks them: queued while offline, re-sent on every login.
	pending []pendingStanza
	keys    *keyBundle
}

type pendingStanza struct {
	key  string // "<class>:<id>", matched against the client's ack
	node wabin.Node
}

func newChatServer(n *Network) *chatServer {
	return &chatServer{
		net:       n,
		accounts:  map[string]*account{},
		contacts:  map[string]bool{},
		listeners: map[int]net.Listener{},
		sessions:  map[*serverSession]struct{}{},
	}
}

func (s *chatServer) now() time.Time { return s.net.opts.Now() }

func (s *chatServer) t() string { return strconv.FormatInt(s.now().Unix(), 10) }

// listen opens both chat ports (0 picks a free one).
func (s *chatServer) listen(p1, p2 int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var opened []net.Listener
	for i, p := range []int{p1, p2} {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			for _, o := range opened {
				o.Close()
			}
			return fmt.Errorf("waenttest: listen on chat port %d: %w", p, err)
		}
		opened = append(opened, l)
		port := l.Addr().(*net.TCPAddr).Port
		s.portList[i] = port
	}
	for _, l := range opened {
		s.startAccepting(l)
	}
	return nil
}

// startAccepting registers l and serves it. The caller holds s.mu.
func (s *chatServer) startAccepting(l net.Listener) {
	port := l.Addr().(*net.TCPAddr).Port
	s.listeners[port] = l
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serveConn(c)
			}()
		}
	}()
}

func (s *chatServer) ports() [2]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.portList
}

func (s *chatServer) refuse(port int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.listeners[port]
	if !ok {
		return fmt.Errorf("waenttest: not listening on %d", port)
	}
	delete(s.listeners, port)
	return l.Close()
}

func (s *chatServer) accept(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		l.Close()
		return errors.New("waenttest: network closed")
	}
	s.startAccepting(l)
	return nil
}

// stopListening closes the listeners and every session, and waits for
// their goroutines; state is kept.
func (s *chatServer) stopListening() {
	s.mu.Lock()
	for p, l := range s.listeners {
		l.Close()
		delete(s.listeners, p)
	}
	for ss := range s.sessions {
		ss.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *chatServer) shutdown() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.stopListening()
}

func (s *chatServer) setDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

func (s *chatServer) addContacts(phones []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range phones {
		s.contacts[digits(p)] = true
	}
}

func (s *chatServer) online(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[phone]
	return a != nil && a.session != nil
}

func (s *chatServer) logins(phone string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[phone]; a != nil {
		return a.logins
	}
	return 0
}

func (s *chatServer) drop(phone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[phone]
	if a == nil || a.session == nil {
		return false
	}
	a.session.close()
	return true
}

// account returns the account for phone, creating it. The caller holds s.mu.
func (s *chatServer) account(phone string) *account {
	a := s.accounts[phone]
	if a == nil {
		a = &account{phone: phone}
		s.accounts[phone] = a
	}
	return a
}

// known reports whether phone is a WhatsApp user. The caller holds s.mu.
func (s *chatServer) known(phone string) bool {
	if s.contacts[phone] {
		return true
	}
	_, ok := s.net.reg.Registered(phone)
	return ok
}

// serverSession is one client connection after the handshake.
type serverSession struct {
	srv   *chatServer
	sock  *noise.Socket
	phone string
	out   chan wabin.Node
	done  chan struct{}
	once  sync.Once
}

func (ss *serverSession) close() {
	ss.once.Do(func() {
		close(ss.done)
		ss.sock.Close()
	})
}

// enqueue sends n on the session's ordered writer; it never blocks the
// caller (who may hold the server lock): a client that cannot keep up with
// a full queue is disconnected, and its pending stanzas wait for the
// next login.
func (ss *serverSession) enqueue(n wabin.Node) {
	select {
	case ss.out <- n:
	case <-ss.done:
	default:
		ss.close()
	}
}

func (ss *serverSession) writeLoop() {
	for {
		select {
		case <-ss.done:
			return
		case n := <-ss.out:
			ss.srv.mu.Lock()
			d := ss.srv.delay
			ss.srv.mu.Unlock()
			if d > 0 {
				select {
				case <-time.After(d):
				case <-ss.done:
					return
				}
			}
			b, err := wabin.Pack(n)
			if err != nil {
				ss.srv.net.log.Error("encode stanza", "tag", n.Tag, "err", err)
				continue
			}
			if err := ss.sock.WriteFrame(b); err != nil {
				ss.close()
				return
			}
		}
	}
}

// serveConn runs the handshake, authenticates the account and serves its
// session until either side closes.
func (s *chatServer) serveConn(c net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	sock, res, err := noise.Server(ctx, c, noise.ServerConfig{
		Static:       s.net.static,
		CertChain:    s.net.chain,
		Authenticate: func([32]byte, []byte) error { return nil }, // decided below, so the client gets a <failure>
	})
	cancel()
	if err != nil {
		c.Close()
		return
	}
	phone, reason := s.authenticate(res)
	if reason != 0 {
		// Nothing else writes to this socket yet, so the failure goes out
		// directly, before the close.
		if b, err := wabin.Pack(wabin.Node{Tag: "failure", Attrs: wabin.Attrs{"reason": strconv.Itoa(reason)}}); err == nil {
			sock.WriteFrame(b)
		}
		sock.Close()
		return
	}
	ss := &serverSession{srv: s, sock: sock, out: make(chan wabin.Node, 4096), done: make(chan struct{})}
	defer ss.close()
	go ss.writeLoop()
	ss.phone = phone
	if !s.login(ss) {
		return
	}
	defer s.logout(ss)
	for {
		frame, err := sock.ReadFrame()
		if err != nil {
			return
		}
		n, err := wabin.Unpack(frame)
		if err != nil {
			s.net.log.Warn("undecodable stanza; closing", "phone", phone, "err", err)
			return
		}
		s.handle(ss, n)
	}
}

// authenticate maps the ClientPayload to an account and checks its key;
// reason is a <failure> reason, 0 on success.
func (s *chatServer) authenticate(res noise.ServerResult) (phone string, reason int) {
	var p waproto.ClientPayload
	if err := proto.Unmarshal(res.Payload, &p); err != nil || p.GetUsername() == 0 {
		return "", 400
	}
	phone = strconv.FormatUint(p.GetUsername(), 10)
	key, ok := s.net.reg.Registered(phone)
	if !ok || key != res.ClientStatic {
		return phone, 401
	}
	return phone, 0
}

// login makes ss the account's live session, replacing any earlier one,
// then pushes what is pending and the offline count.
func (s *chatServer) login(ss *serverSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	a := s.account(ss.phone)
	if old := a.session; old != nil {
		old.enqueue(wabin.Node{Tag: "stream:error", Content: []wabin.Node{{Tag: "conflict", Attrs: wabin.Attrs{"type": "replaced"}}}})
		go func() { // give the old writer a moment to deliver the stream error
			time.Sleep(50 * time.Millisecond)
			old.close()
		}()
	}
	a.session = ss
	a.logins++
	s.sessions[ss] = struct{}{}
	ss.enqueue(wabin.Node{Tag: "success", Attrs: wabin.Attrs{"t": s.t()}})
	for _, p := range a.pending {
		ss.enqueue(p.node)
	}
	ss.enqueue(wabin.Node{Tag: "ib", Content: []wabin.Node{{Tag: "offline", Attrs: wabin.Attrs{"count": strconv.Itoa(len(a.pending))}}}})
	return true
}

func (s *chatServer) logout(ss *serverSession) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, ss)
	if a := s.accounts[ss.phone]; a != nil && a.session == ss {
		a.session = nil
	}
}

// ackKey names a pending stanza as the client's ack will name it.
// Receipts include their type: a delivery and a read receipt for one
// message are separate stanzas to acknowledge.
func ackKey(class, id, typ string) string {
	if class == "receipt" {
		return class + ":" + id + ":" + typ
	}
	return class + ":" + id
}

// deliver queues n for phone until acked and sends it if phone is online.
// The caller holds s.mu.
func (s *chatServer) deliver(phone, class string, n wabin.Node) {
	a := s.account(phone)
	a.pending = append(a.pending, pendingStanza{key: ackKey(class, n.AttrString("id"), n.AttrString("type")), node: n})
	if a.session != nil {
		a.session.enqueue(n)
	}
}

// acked drops a pending stanza once the account acknowledged it. The
// caller holds s.mu.
func (s *chatServer) acked(phone, key string) {
	a := s.accounts[phone]
	if a == nil {
		return
	}
	for i, p := range a.pending {
		if p.key == key {
			a.pending = append(a.pending[:i], a.pending[i+1:]...)
			return
		}
	}
}

func (s *chatServer) handle(ss *serverSession, n wabin.Node) {
	switch n.Tag {
	case "iq":
		s.handleIQ(ss, n)
	case "message":
		s.handleMessage(ss, n)
	case "receipt":
		s.handleReceipt(ss, n)
	case "ack":
		s.mu.Lock()
		s.acked(ss.phone, ackKey(n.AttrString("class"), n.AttrString("id"), n.AttrString("type")))
		s.mu.Unlock()
	case "presence", "chatstate":
		// accepted and ignored: the simulation has no presence
	default:
		s.net.log.Debug("unhandled stanza", "tag", n.Tag)
	}
}

func (s *chatServer) handleIQ(ss *serverSession, n wabin.Node) {
	id := n.AttrString("id")
	result := func(children ...wabin.Node) {
		reply := wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"id": id, "type": "result", "from": wabin.ServerJID}}
		if len(children) > 0 {
			reply.Content = children
		}
		ss.enqueue(reply)
	}
	iqError := func(code int, text string) {
		ss.enqueue(wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"id": id, "type": "error", "from": wabin.ServerJID},
			Content: []wabin.Node{{Tag: "error", Attrs: wabin.Attrs{"code": strconv.Itoa(code), "text": text}}}})
	}
	typ := n.AttrString("type")
	switch n.AttrString("xmlns") {
	case "w:p":
		result()
	case "passive":
		result()
	case "encrypt":
		s.handleEncrypt(ss, n, typ, result, iqError)
	case "usync":
		s.handleUsync(n, result, iqError)
	default:
		if typ == "result" || typ == "error" {
			return // answers to our own pings
		}
		iqError(501, "feature-not-implemented")
	}
}

// handleMessage acks a client's message and routes it to its recipient.
func (s *chatServer) handleMessage(ss *serverSession, n wabin.Node) {
	id := n.AttrString("id")
	to, ok := n.AttrJID("to")
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "message", "id": id, "t": s.t()}}
	if ok {
		ack.Attrs["from"] = to
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || id == "" || to.Server != wabin.DefaultUserServer || !s.known(to.User) {
		ack.Attrs["error"] = "400"
		if ok && to.Server == wabin.DefaultUserServer && id != "" {
			ack.Attrs["error"] = "404" // no such WhatsApp user
		}
		ss.enqueue(ack)
		return
	}
	ss.enqueue(ack)
	inbound := wabin.Node{Tag: "message", Attrs: wabin.Attrs{
		"from": wabin.NewJID(ss.phone, wabin.DefaultUserServer), "id": id, "t": s.t(),
	}}
	for _, k := range []string{"type", "notify", "category", "edit"} {
		if v := n.AttrString(k); v != "" {
			inbound.Attrs[k] = v
		}
	}
	inbound.Content = recipientContent(n, to.User)
	s.deliver(to.User, "message", inbound)
}

// recipientContent is what the recipient's primary device gets: the <enc>
// addressed to it inside <participants>, or the direct children.
func recipientContent(n wabin.Node, user string) []wabin.Node {
	var out []wabin.Node
	for _, c := range n.Children() {
		if c.Tag != "participants" {
			out = append(out, c)
			continue
		}
		for _, to := range c.ChildrenByTag("to") {
			if jid, ok := to.AttrJID("jid"); ok && jid.User == user && jid.Device == 0 {
				out = append(out, to.Children()...)
			}
		}
	}
	return out
}

// handleReceipt forwards a receipt to the message's sender; a delivery or
// read receipt also acknowledges the message on the receiving side.
func (s *chatServer) handleReceipt(ss *serverSession, n wabin.Node) {
	id := n.AttrString("id")
	to, ok := n.AttrJID("to")
	typ := n.AttrString("type")
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "receipt", "id": id}}
	if typ != "" {
		ack.Attrs["type"] = typ
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss.enqueue(ack)
	if !ok || id == "" {
		return
	}
	s.acked(ss.phone, "message:"+id)
	fwd := wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"from": wabin.NewJID(ss.phone, wabin.DefaultUserServer), "id": id, "t": s.t()}}
	if typ != "" {
		fwd.Attrs["type"] = typ
	}
	if children := n.Children(); len(children) > 0 {
		fwd.Content = children
	}
	s.deliver(to.User, "receipt", fwd)
}

// digits keeps the digits of a phone number as typed.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (s *chatServer) streamError(phone, code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[phone]
	if a == nil || a.session == nil {
		return false
	}
	old := a.session
	old.enqueue(wabin.Node{Tag: "stream:error", Attrs: wabin.Attrs{"code": code}})
	go func() { // let the writer deliver the error before the socket closes
		time.Sleep(50 * time.Millisecond)
		old.close()
	}()
	return true
}
