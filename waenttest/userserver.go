package waenttest

import (
	"fmt"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
)

// The chat server's side of simulated users. A user's device has no
// connection: the server pushes its stanzas into the user's inbox and the
// user hands its own stanzas to fromUser. Both directions go through the
// same routing, pending queue and acks as a TCP session, so store-and-
// forward, blocking and receipts behave the same for users and clients.

// addUser gives phone the simulated device u, online, with keys uploaded.
func (s *chatServer) addUser(u *User, kb *keyBundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if a := s.accounts[u.phone]; a != nil && a.user != nil {
		return fmt.Errorf("waenttest: %s is already a simulated user", u.phone)
	}
	if _, ok := s.net.reg.Registered(u.phone); ok {
		return fmt.Errorf("waenttest: %s is registered by a client", u.phone)
	}
	a := s.account(u.phone)
	a.user, a.userOnline, a.pushName = u, true, u.opts.PushName
	a.keys = kb
	s.users[u] = struct{}{}
	if nodes := a.pending.nodes(); len(nodes) > 0 {
		u.inbox.push(nodes...) // held for the number before it had a device: a first login
	}
	return nil
}

// userAt returns the simulated user living at phone.
func (s *chatServer) userAt(phone string) (*User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[phone]; a != nil && a.user != nil {
		return a.user, true
	}
	return nil, false
}

// userAccount is u's account while u still lives there. The caller holds
// s.mu.
func (s *chatServer) userAccount(u *User) (*account, error) {
	if s.closed {
		return nil, ErrClosed
	}
	a := s.accounts[u.phone]
	if a == nil || a.user != u {
		return nil, fmt.Errorf("%w: %s no longer lives at this number", ErrClosed, u.phone)
	}
	return a, nil
}

// checkOnline reports why u cannot send now, if it cannot.
func (s *chatServer) checkOnline(u *User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	if err != nil {
		return err
	}
	if !a.userOnline {
		return ErrOffline
	}
	return nil
}

// setUserOnline connects or disconnects u's device. Going offline drops
// what sits unprocessed in the inbox, as a lost connection loses what was
// in flight; coming back pushes everything pending, in order, as a login
// does. The caller holds u.procMu, so no stanza is half processed.
func (s *chatServer) setUserOnline(u *User, online bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	if err != nil || a.userOnline == online {
		return
	}
	a.userOnline = online
	if !online {
		u.inbox.clear()
		return
	}
	if nodes := a.pending.nodes(); len(nodes) > 0 {
		u.inbox.push(nodes...)
	}
}

func (s *chatServer) userOnline(u *User) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	return err == nil && a.userOnline
}

// fromUser takes a stanza from u's device, as handle does from a session,
// and returns the server's ack for messages and receipts. The stanza goes
// through the wire encoding first, so a user cannot send what a real
// client could not.
func (s *chatServer) fromUser(u *User, n wabin.Node) (wabin.Node, error) {
	n, err := wire(n)
	if err != nil {
		return wabin.Node{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	if err != nil {
		return wabin.Node{}, err
	}
	if !a.userOnline {
		return wabin.Node{}, ErrOffline
	}
	switch n.Tag {
	case "message":
		return s.routeMessage(u.phone, n), nil
	case "receipt":
		return s.routeReceipt(u.phone, n), nil
	case "ack":
		s.acked(u.phone, ackKey(n.AttrString("class"), n.AttrString("id"), n.AttrString("type")))
		return wabin.Node{}, nil
	}
	return wabin.Node{}, fmt.Errorf("waenttest: users do not send <%s>", n.Tag)
}

// wire passes n through the binary encoding and back: what a user sends
// or receives is exactly what a TCP client would.
func wire(n wabin.Node) (wabin.Node, error) {
	b, err := wabin.Marshal(n)
	if err != nil {
		return wabin.Node{}, fmt.Errorf("waenttest: encode <%s>: %w", n.Tag, err)
	}
	return wabin.Unmarshal(b)
}

// fetchBundle serves a user's prekey fetch, consuming a one-time key like
// a fetch over the wire.
func (s *chatServer) fetchBundle(phone string) (crypto.Bundle, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return crypto.Bundle{}, ErrClosed
	}
	if !s.known(phone) {
		s.mu.Unlock()
		return crypto.Bundle{}, fmt.Errorf("%w: %s", ErrNotOnWhatsApp, phone)
	}
	node := s.bundleFor(wabin.NewJID(phone, wabin.DefaultUserServer))
	s.mu.Unlock()
	return parseBundle(node, nil)
}

// preKeyCount is how many one-time keys the server holds for u.
func (s *chatServer) preKeyCount(u *User) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, err := s.userAccount(u); err == nil && a.keys != nil {
		return len(a.keys.oneTime)
	}
	return 0
}

// uploadUserKeys adds one-time keys to u's bundle.
func (s *chatServer) uploadUserKeys(u *User, kb *keyBundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	if err != nil {
		return err
	}
	a.upload(kb)
	return nil
}

// reinstallUser replaces u's whole bundle and tells every peer that u's
// identity changed (protocol.md §3, Notifications).
func (s *chatServer) reinstallUser(u *User, kb *keyBundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	if err != nil {
		return err
	}
	a.keys = kb
	for p := range a.peers {
		s.deliver(p, "notification", wabin.Node{Tag: "notification", Attrs: wabin.Attrs{
			"from": wabin.NewJID(u.phone, wabin.DefaultUserServer), "type": "encrypt", "id": s.newID(), "t": s.t(),
		}, Content: []wabin.Node{{Tag: "identity"}}})
	}
	return nil
}

// changeNumber moves old's account to next, a fresh device at a new
// number: the old number leaves the directory with whatever was pending
// for it, and every peer is told where the user went.
func (s *chatServer) changeNumber(old, next *User, kb *keyBundle) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(old)
	if err != nil {
		return err
	}
	if s.known(next.phone) {
		return fmt.Errorf("waenttest: %s is already on WhatsApp", next.phone)
	}
	na := s.account(next.phone)
	na.user, na.userOnline, na.pushName = next, a.userOnline, a.pushName
	na.keys = kb
	na.blocked = a.blocked
	na.peers = a.peers
	for p := range a.peers {
		if pa := s.accounts[p]; pa != nil {
			delete(pa.peers, old.phone)
			pa.peers[next.phone] = true
		}
		s.deliver(p, "notification", wabin.Node{Tag: "notification", Attrs: wabin.Attrs{
			"from": wabin.NewJID(old.phone, wabin.DefaultUserServer), "type": "change_number", "id": s.newID(), "t": s.t(),
		}, Content: []wabin.Node{{Tag: "user", Attrs: wabin.Attrs{"jid": wabin.NewJID(next.phone, wabin.DefaultUserServer)}}}})
	}
	delete(s.accounts, old.phone)
	delete(s.contacts, old.phone)
	delete(s.users, old)
	s.users[next] = struct{}{}
	return nil
}

// block adds or removes sender from u's block list.
func (s *chatServer) block(u *User, sender string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.userAccount(u)
	if err != nil {
		return
	}
	if !on {
		delete(a.blocked, sender)
		return
	}
	if a.blocked == nil {
		a.blocked = map[string]bool{}
	}
	a.blocked[sender] = true
}

// stopUsers stops every simulated device and waits for them. New users
// are refused from here on (s.closed is set first).
func (s *chatServer) stopUsers() {
	s.mu.Lock()
	users := make([]*User, 0, len(s.users))
	for u := range s.users {
		users = append(users, u)
	}
	s.mu.Unlock()
	for _, u := range users {
		u.stop()
	}
}
