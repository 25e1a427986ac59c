package waenttest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/waproto"
)

// chatServer is the simulated chatd: it authenticates accounts by their
// noise static key, routes stanzas between them with store-and-forward, and
// serves the prekey and usync services. One mutex guards its state, held
// only for O(1) work per stanza (encoding and encryption happen outside
// it); each session writes through its own unbounded ordered queue, and
// simulated users get theirs through their inbox.
type chatServer struct {
	net *Network

	mu        sync.Mutex
	accounts  map[string]*account // by phone number
	contacts  map[string]bool     // directory entries without a device
	listeners map[int]net.Listener
	portList  [2]int
	sessions  map[*serverSession]struct{}
	users     map[*User]struct{} // running simulated devices, stopped on shutdown
	delay     atomic.Int64       // frame delay (time.Duration); read per frame without the lock
	closed    bool
	seq       atomic.Uint64 // server-made stanza ids

	wg sync.WaitGroup // accept loops and sessions
}

// account is the server's view of one number: a real client that logs in
// over TCP (session), or a simulated user's device living in-process
// (user). Every field is guarded by chatServer.mu.
type account struct {
	phone   string
	session *serverSession
	logins  int
	// pending holds stanzas for this account in delivery order until the
	// account acks them: queued while offline, re-sent on every login.
	pending pendingQueue
	keys    *keyBundle

	// user is the simulated device of a User, nil for real clients;
	// userOnline says whether it is reachable (SetOnline).
	user       *User
	userOnline bool
	pushName   string
	// peers are the accounts this one exchanged messages with: the ones
	// told about its identity or number changes.
	peers map[string]bool
	// blocked are the senders this account blocked: their messages are
	// acked to them but never delivered.
	blocked map[string]bool
}

// peer records that a and b exchanged a message. The caller holds s.mu.
func peer(a, b *account) {
	if a.peers == nil {
		a.peers = map[string]bool{}
	}
	if b.peers == nil {
		b.peers = map[string]bool{}
	}
	a.peers[b.phone] = true
	b.peers[a.phone] = true
}

func newChatServer(n *Network) *chatServer {
	return &chatServer{
		net:       n,
		accounts:  map[string]*account{},
		contacts:  map[string]bool{},
		listeners: map[int]net.Listener{},
		sessions:  map[*serverSession]struct{}{},
		users:     map[*User]struct{}{},
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
	s.stopUsers()
}

func (s *chatServer) setDelay(d time.Duration) { s.delay.Store(int64(d)) }

// newID returns a fresh id for a stanza the server originates.
func (s *chatServer) newID() string { return strconv.FormatUint(s.seq.Add(1), 16) }

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
	if a := s.accounts[phone]; a != nil && a.user != nil {
		return true
	}
	_, ok := s.net.reg.Registered(phone)
	return ok
}

// serverSession is one client connection after the handshake.
type serverSession struct {
	srv   *chatServer
	sock  *noise.Socket
	bc    *batchConn
	phone string
	out   *nodeQueue
	done  chan struct{}
	once  sync.Once
}

// maxSessionQueue bounds what waits for a session's writer: a client that
// falls this far behind is disconnected, and its pending stanzas wait for
// the next login, as before. It is far above what a burst of 10k msgs/s
// (each with an ack and a receipt) queues while the writer catches up.
const maxSessionQueue = 1 << 20

func (ss *serverSession) close() {
	ss.once.Do(func() {
		close(ss.done)
		ss.sock.Close()
	})
}

// enqueue sends nodes on the session's ordered writer. It never blocks the
// caller, who may hold the server lock.
func (ss *serverSession) enqueue(nodes ...wabin.Node) {
	if ss.out.push(nodes...) > maxSessionQueue {
		ss.close()
	}
}

// writeLoop drains the queue in batches: every stanza of a batch is
// sealed into the buffered socket and the batch goes out with one flush,
// so a burst costs a few syscalls instead of one per stanza.
func (ss *serverSession) writeLoop() {
	var batch []wabin.Node
	for {
		select {
		case <-ss.done:
			return
		case <-ss.out.ready:
		}
		batch = ss.out.drain(batch[:0])
		for _, n := range batch {
			if d := time.Duration(ss.srv.delay.Load()); d > 0 {
				// The delay applies per frame, so what was sealed so far
				// goes out first. A test knob: timers only when it is set.
				if ss.bc.flush() != nil {
					ss.close()
					return
				}
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ss.done:
					t.Stop()
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
		if err := ss.bc.flush(); err != nil {
			ss.close()
			return
		}
		clear(batch) // let the sent stanzas be collected
	}
}

// serveConn runs the handshake, authenticates the account and serves its
// session until either side closes.
func (s *chatServer) serveConn(c net.Conn) {
	bc := &batchConn{Conn: c}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	sock, res, err := noise.Server(ctx, bc, noise.ServerConfig{
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
		// directly (unbuffered), before the close.
		if b, err := wabin.Pack(wabin.Node{Tag: "failure", Attrs: wabin.Attrs{"reason": strconv.Itoa(reason)}}); err == nil {
			sock.WriteFrame(b)
		}
		sock.Close()
		return
	}
	// From here on only writeLoop writes, so it can own the buffer.
	bc.w = bufio.NewWriterSize(c, 64<<10)
	ss := &serverSession{srv: s, sock: sock, bc: bc, out: newNodeQueue(), done: make(chan struct{}), phone: phone}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		ss.writeLoop()
	}()
	// The writer ends with the session: close first, then wait, in one
	// deferred call so the order cannot be turned around.
	defer func() {
		ss.close()
		<-writerDone
	}()
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
		s.closeSoon(old)
	}
	a.session = ss
	a.logins++
	s.sessions[ss] = struct{}{}
	out := []wabin.Node{{Tag: "success", Attrs: wabin.Attrs{"t": s.t()}}}
	out = append(out, a.pending.nodes()...)
	out = append(out, wabin.Node{Tag: "ib", Content: []wabin.Node{{Tag: "offline", Attrs: wabin.Attrs{"count": strconv.Itoa(a.pending.len())}}}})
	ss.enqueue(out...)
	return true
}

// closeSoon closes ss after giving its writer a moment to deliver a
// stream error; once per replaced login, never per stanza.
func (s *chatServer) closeSoon(ss *serverSession) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(50 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ss.done:
		}
		ss.close()
	}()
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
	a.pending.add(ackKey(class, n.AttrString("id"), n.AttrString("type")), n)
	s.push(a, n)
}

// push hands nodes to a's live connection or online device, if any; the
// hand-over never blocks. The caller holds s.mu.
func (s *chatServer) push(a *account, nodes ...wabin.Node) {
	switch {
	case a.session != nil:
		a.session.enqueue(nodes...)
	case a.user != nil && a.userOnline:
		a.user.inbox.push(nodes...)
	}
}

// acked drops a pending stanza once the account acknowledged it. The
// caller holds s.mu.
func (s *chatServer) acked(phone, key string) {
	if a := s.accounts[phone]; a != nil {
		a.pending.ack(key)
	}
}

func (s *chatServer) handle(ss *serverSession, n wabin.Node) {
	switch n.Tag {
	case "iq":
		s.handleIQ(ss, n)
	case "message":
		s.mu.Lock()
		ss.enqueue(s.routeMessage(ss.phone, n))
		s.mu.Unlock()
	case "receipt":
		s.mu.Lock()
		ss.enqueue(s.routeReceipt(ss.phone, n))
		s.mu.Unlock()
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
	case "w:biz:templates": // the template catalogue (templates.go)
		s.handleTemplates(ss, n, typ, result, iqError)
	case "w:m": // media_conn, the media CDN's address (media.go)
		s.handleMediaConn(n, typ, result, iqError)
	default:
		if typ == "result" || typ == "error" {
			return // answers to our own pings
		}
		iqError(501, "feature-not-implemented")
	}
}

// routeMessage routes a message from the account from to its recipient
// and returns the server's ack for the sender. The caller holds s.mu.
func (s *chatServer) routeMessage(from string, n wabin.Node) wabin.Node {
	id := n.AttrString("id")
	to, ok := n.AttrJID("to")
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "message", "id": id, "t": s.t()}}
	if ok {
		ack.Attrs["from"] = to
	}
	if !ok || id == "" || to.Server != wabin.DefaultUserServer || !s.known(to.User) {
		ack.Attrs["error"] = "400"
		if ok && to.Server == wabin.DefaultUserServer && id != "" {
			ack.Attrs["error"] = "404" // no such WhatsApp user
		}
		return ack
	}
	sender, rcpt := s.account(from), s.account(to.User)
	peer(sender, rcpt)
	if rcpt.blocked[from] {
		// Like the real server: the sender sees its message accepted
		// (one tick) and never learns it was blocked.
		return ack
	}
	inbound := wabin.Node{Tag: "message", Attrs: wabin.Attrs{
		"from": wabin.NewJID(from, wabin.DefaultUserServer), "id": id, "t": ack.Attrs["t"],
	}}
	for _, k := range []string{"type", "notify", "category", "edit", "mediatype"} {
		if v := n.AttrString(k); v != "" {
			inbound.Attrs[k] = v
		}
	}
	if sender.pushName != "" {
		inbound.Attrs["notify"] = sender.pushName // the server stamps a user's push name
	}
	inbound.Content = recipientContent(n, to.User)
	s.deliver(to.User, "message", inbound)
	return ack
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

// routeReceipt forwards a receipt from the account from to the message's
// sender and returns the server's ack; a receipt also acknowledges the
// message on the receiving side. The caller holds s.mu.
func (s *chatServer) routeReceipt(from string, n wabin.Node) wabin.Node {
	id := n.AttrString("id")
	to, ok := n.AttrJID("to")
	typ := n.AttrString("type")
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "receipt", "id": id}}
	if typ != "" {
		ack.Attrs["type"] = typ
	}
	if !ok || id == "" {
		return ack
	}
	s.acked(from, "message:"+id)
	if rcpt := s.accounts[to.User]; rcpt != nil && rcpt.blocked[from] {
		return ack // a blocked contact's receipts are not shown either
	}
	fwd := wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"from": wabin.NewJID(from, wabin.DefaultUserServer), "id": id, "t": s.t()}}
	if typ != "" {
		fwd.Attrs["type"] = typ
	}
	if children := n.Children(); len(children) > 0 {
		fwd.Content = children
	}
	s.deliver(to.User, "receipt", fwd)
	return ack
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
	s.closeSoon(old) // let the writer deliver the error before the socket closes
	return true
}
