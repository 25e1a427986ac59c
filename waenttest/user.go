package waenttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waproto/waE2E"
)

// Errors of User operations (wrapped; test with errors.Is).
var (
	// ErrClosed: the network was closed, or the user changed number and
	// this User no longer lives anywhere.
	ErrClosed = errors.New("waenttest: user closed")
	// ErrOffline: the user was set offline and cannot send.
	ErrOffline = errors.New("waenttest: user is offline")
	// ErrNotOnWhatsApp: the recipient is not a WhatsApp user.
	ErrNotOnWhatsApp = errors.New("waenttest: not on WhatsApp")
)

// UserOptions tune a simulated user. The zero value is ready to use.
type UserOptions struct {
	// PushName is the profile name the server stamps (notify) on the
	// user's messages.
	PushName string
	// PreKeys is how many one-time prekeys are uploaded at first and on
	// every replenishment. 0 means 50; negative means none, ever, so
	// every session with the user is built without a one-time key.
	PreKeys int
	// ManualDeliveryReceipts turns off the automatic delivery receipt for
	// each decrypted message; send them with SendDelivered.
	ManualDeliveryReceipts bool
	// TemplateLanguages, if non-nil, are the only languages of template
	// translations the phone holds: an entry "en" holds "en" and every
	// "en_XX", "en_US" holds only "en_US". A template message needing
	// another translation fails to render (templates.go).
	TemplateLanguages []string
}

// Received is a message a user decrypted.
type Received struct {
	ID      string
	From    string // the sender's phone number
	Message *waE2E.Message
	Text    string // what a phone shows for it (content.Render, or the rendered template)
	PreKey  bool   // it arrived as a pkmsg (it started a session)
	At      time.Time
	// Template is the rendered template of a highlyStructuredMessage, nil
	// for other messages.
	Template *catalog.Rendered
	// Media is the downloaded, verified and decrypted file of a media
	// message; MediaErr says why there is none when the message has media
	// (media.go).
	Media    []byte
	MediaErr error
}

// Receipt is a receipt a user got for one of its own messages.
type Receipt struct {
	ID   string
	From string // who sent the receipt
	Type string // "" for delivered, "read", ...
	At   time.Time
}

// Notification is a <notification> a user got (identity changes, number
// changes, low prekeys).
type Notification struct {
	ID   string
	From string // the user it is about, "" for the server
	Type string // "encrypt", "change_number", ...
	Node wabin.Node
	At   time.Time
}

// maxRetries is the last retry receipt a user sends for one message, as
// whatsmeow does (protocol.md §3, Retry receipt).
const maxRetries = 5

// maxSentCache bounds the plaintexts a user keeps to answer retry
// receipts; the oldest go first.
const maxSentCache = 4096

// User is a simulated WhatsApp user: a phone with one device that lives
// in-process on a Network. It speaks to the chat server in the same
// stanzas as a TCP client, encrypts with real Signal, decrypts what it
// receives, and answers with acks, receipts and retry receipts. Its
// methods are safe for concurrent use.
type User struct {
	net   *Network
	srv   *chatServer
	phone string
	opts  UserOptions

	inbox   *nodeQueue
	ctx     context.Context // cancelled by stop
	cancel  context.CancelFunc
	stopped chan struct{}

	// procMu is held while the device processes stanzas from its inbox,
	// sendMu while it encrypts and sends; dev is read under either and
	// replaced (Reinstall) under both, in that order.
	procMu sync.Mutex
	sendMu sync.Mutex
	dev    *device
	sent   map[string]sentMessage // guarded by sendMu
	sentQ  []string               // ids of sent, oldest first

	mu            sync.Mutex // guards what follows; a leaf lock
	received      []Received
	seen          map[msgKey]bool
	dups, fails   int
	retries       map[msgKey]int
	receipts      []Receipt
	notifications []Notification
	forgotten     map[string]bool   // template namespaces the phone lost (ForgetTemplates)
	tfails        []TemplateFailure // template messages it could not render
	changed       chan struct{}     // closed and replaced on every change
}

type msgKey struct{ from, id string }

// sentMessage is what a user keeps of its own message to answer a retry
// receipt by encrypting it again.
type sentMessage struct {
	to        string
	plaintext []byte
	attrs     wabin.Attrs // type, mediatype
}

// NewUser puts a simulated user at phone: on WhatsApp (usync knows it),
// with its keys on the prekey service, online. phone is digits with
// country code; other characters are ignored.
func (n *Network) NewUser(phone string, opts UserOptions) (*User, error) {
	phone = digits(phone)
	if phone == "" {
		return nil, errors.New("waenttest: user needs a phone number")
	}
	u, kb, err := n.newUser(phone, opts)
	if err != nil {
		return nil, err
	}
	if err := n.chat.addUser(u, kb); err != nil {
		u.cancel()
		return nil, err
	}
	u.start()
	return u, nil
}

// newUser prepares a user and its device without putting it on the
// network.
func (n *Network) newUser(phone string, opts UserOptions) (*User, *keyBundle, error) {
	if opts.PreKeys == 0 {
		opts.PreKeys = 50
	}
	ctx, cancel := context.WithCancel(context.Background())
	dev, keys, err := newDevice(ctx, n, opts.PreKeys)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	u := &User{
		net: n, srv: n.chat, phone: phone, opts: opts,
		inbox: newNodeQueue(), ctx: ctx, cancel: cancel, stopped: make(chan struct{}),
		dev: dev, sent: map[string]sentMessage{},
		seen: map[msgKey]bool{}, retries: map[msgKey]int{}, changed: make(chan struct{}),
	}
	return u, dev.bundle(keys), nil
}

// User returns the simulated user living at phone.
func (n *Network) User(phone string) (*User, bool) { return n.chat.userAt(digits(phone)) }

// Phone is the user's number, digits only.
func (u *User) Phone() string { return u.phone }

// PushName is the user's profile name.
func (u *User) PushName() string { return u.opts.PushName }

// Online reports whether the user's device is reachable (SetOnline).
func (u *User) Online() bool { return u.srv.userOnline(u) }

// start runs the device: one goroutine, owned by the Network, that
// processes the inbox until stop.
func (u *User) start() {
	go func() {
		defer close(u.stopped)
		u.run()
	}()
}

// stop ends the device's goroutine and waits for it. Safe to call more
// than once.
func (u *User) stop() {
	u.cancel()
	<-u.stopped
}

func (u *User) run() {
	var batch []wabin.Node
	for {
		select {
		case <-u.ctx.Done():
			return
		case <-u.inbox.ready:
		}
		u.procMu.Lock()
		batch = u.inbox.drain(batch[:0])
		for _, n := range batch {
			if u.ctx.Err() != nil {
				break
			}
			u.handle(n)
		}
		u.procMu.Unlock()
		clear(batch)
	}
}

// handle processes one stanza the server pushed. The caller holds procMu.
func (u *User) handle(n wabin.Node) {
	n, err := wire(n)
	if err != nil {
		u.net.log.Error("user: undecodable stanza", "phone", u.phone, "err", err)
		return
	}
	switch n.Tag {
	case "message":
		u.onMessage(n)
	case "receipt":
		u.onReceipt(n)
	case "notification":
		u.onNotification(n)
	}
}

// toServer sends a stanza that needs no answer.
func (u *User) toServer(n wabin.Node) {
	if _, err := u.srv.fromUser(u, n); err != nil {
		u.net.log.Debug("user: send", "phone", u.phone, "tag", n.Tag, "err", err)
	}
}

func userJID(phone string) wabin.JID { return wabin.NewJID(phone, wabin.DefaultUserServer) }

// onMessage decrypts a message and answers it as a phone does: ack and
// delivery receipt on success, retry receipt and ack on failure.
func (u *User) onMessage(n wabin.Node) {
	id := n.AttrString("id")
	from, ok := n.AttrJID("from")
	if id == "" || !ok || from.User == "" {
		u.net.log.Warn("user: message without id or sender", "phone", u.phone, "node", n.String())
		return
	}
	sender := from.User
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "message", "id": id, "to": userJID(sender)}}
	var encs []wabin.Node
	for _, e := range n.ChildrenByTag("enc") {
		if t := e.AttrString("type"); t == crypto.TypePreKey || t == crypto.TypeMsg {
			encs = append(encs, e)
		}
	}
	if len(encs) == 0 {
		ack.Attrs["error"] = "488" // nothing this device can decrypt
		u.toServer(ack)
		return
	}
	var msg *waE2E.Message
	var preKey bool
	var failure error
	for _, e := range encs {
		typ := e.AttrString("type")
		d, err := u.dev.decrypt(u.ctx, sender, crypto.Ciphertext{Type: typ, Data: e.Bytes()})
		if err != nil {
			failure = err
			break
		}
		m := new(waE2E.Message)
		if err := proto.Unmarshal(d.Plaintext, m); err != nil {
			failure = fmt.Errorf("waenttest: undecodable plaintext: %w", err)
			break
		}
		if msg == nil {
			msg, preKey = m, typ == crypto.TypePreKey
		}
	}
	if u.ctx.Err() != nil {
		return // shutting down: the server keeps the message pending
	}
	key := msgKey{sender, id}
	if failure != nil {
		u.onDecryptFailure(n, key, failure)
		u.toServer(ack)
		return
	}
	// A template message is rendered from the phone's catalogue; one that
	// cannot be is not shown, and gets an error receipt (templates.go).
	rec := Received{ID: id, From: sender, Message: msg, PreKey: preKey, At: u.net.opts.Now()}
	var tfail *TemplateFailure
	if h := hsmOf(msg); h != nil {
		rec.Template, tfail = u.renderTemplate(h)
	}
	if rec.Template != nil {
		rec.Text = rec.Template.Text()
	} else {
		rec.Text = content.Render(msg)
	}
	// A phone downloads media on arrival (media.go).
	if data, ok, err := u.fetchMedia(msg); ok {
		rec.Media, rec.MediaErr = data, err
	}
	u.mu.Lock()
	switch {
	case u.seen[key]:
		u.dups++
	case tfail != nil:
		u.seen[key] = true
		tfail.ID, tfail.From, tfail.At = id, sender, rec.At
		u.tfails = append(u.tfails, *tfail)
	default:
		u.seen[key] = true
		u.received = append(u.received, rec)
	}
	delete(u.retries, key)
	u.changedLocked()
	u.mu.Unlock()
	u.toServer(ack)
	switch {
	case tfail != nil:
		u.toServer(templateErrorReceipt(id, sender, tfail.Reason))
	case !u.opts.ManualDeliveryReceipts:
		u.toServer(wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": id, "to": userJID(sender)}})
	}
}

// onDecryptFailure counts a failure and asks the sender to try again,
// with this device's keys from the second retry on so the sender can
// rebuild the session (protocol.md §3, Retry receipt).
func (u *User) onDecryptFailure(n wabin.Node, key msgKey, failure error) {
	u.mu.Lock()
	if errors.Is(failure, crypto.ErrDuplicate) && u.seen[key] {
		// The same ciphertext again, already consumed: a redelivery.
		u.dups++
		u.changedLocked()
		u.mu.Unlock()
		return
	}
	u.fails++
	u.retries[key]++
	count := u.retries[key]
	u.changedLocked()
	u.mu.Unlock()
	u.net.log.Debug("user: decrypt failed", "phone", u.phone, "from", key.from, "id", key.id, "retry", count, "err", failure)
	if count > maxRetries || errors.Is(failure, crypto.ErrDuplicate) {
		return
	}
	t := n.AttrString("t")
	if t == "" {
		t = unix(u.net.opts.Now())
	}
	children := []wabin.Node{
		{Tag: "retry", Attrs: wabin.Attrs{"count": strconv.Itoa(count), "id": key.id, "t": t, "v": "1"}},
		{Tag: "registration", Content: u.dev.registration()},
	}
	if count > 1 {
		pk, err := u.dev.retryPreKey(u.ctx)
		if err != nil {
			u.net.log.Error("user: prekey for retry", "phone", u.phone, "err", err)
			return
		}
		children = append(children, u.dev.retryKeys(pk))
	}
	u.toServer(wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": key.id, "to": userJID(key.from), "type": "retry"}, Content: children})
}

// onReceipt records a receipt for the user's own message, or answers a
// retry receipt by encrypting the message again.
func (u *User) onReceipt(n wabin.Node) {
	id := n.AttrString("id")
	typ := n.AttrString("type")
	from, _ := n.AttrJID("from")
	if typ == "retry" {
		u.resend(from.User, id, n)
	} else if id != "" {
		ids := []string{id}
		if list, ok := n.Child("list"); ok {
			for _, item := range list.ChildrenByTag("item") {
				if v := item.AttrString("id"); v != "" {
					ids = append(ids, v)
				}
			}
		}
		at := u.net.opts.Now()
		u.mu.Lock()
		for _, id := range ids {
			u.receipts = append(u.receipts, Receipt{ID: id, From: from.User, Type: typ, At: at})
		}
		u.changedLocked()
		u.mu.Unlock()
	}
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "receipt", "id": id, "to": from}}
	if typ != "" {
		ack.Attrs["type"] = typ
	}
	u.toServer(ack)
}

// resend answers a retry receipt from peer: the cached message goes out
// again with the same id and enc count=N. The session is rebuilt from the
// keys in the receipt when it carries some, fetched anew when it does not
// and the first retry did not help, and otherwise reused.
func (u *User) resend(peer, id string, n wabin.Node) {
	count := 1
	if r, ok := n.Child("retry"); ok {
		if c, err := strconv.Atoi(r.AttrString("count")); err == nil && c > 0 {
			count = c
		}
	}
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	sm, ok := u.sent[id]
	if !ok || sm.to != peer {
		return // not ours, or forgotten: the message stays undelivered
	}
	var bundle *crypto.Bundle
	if keys, ok := n.Child("keys"); ok {
		reg, _ := n.Child("registration")
		b, err := parseBundle(keys, reg.Bytes())
		if err != nil {
			u.net.log.Debug("user: bad keys in retry receipt", "phone", u.phone, "from", peer, "err", err)
		} else {
			bundle = &b
		}
	}
	ct, err := u.dev.encrypt(u.ctx, u.srv, peer, sm.plaintext, bundle, bundle == nil && count > 1)
	if err != nil {
		u.net.log.Debug("user: re-encrypt", "phone", u.phone, "to", peer, "id", id, "err", err)
		return
	}
	u.toServer(u.messageNode(id, peer, sm.attrs, ct, count))
}

// onNotification acts on a notification and records it: low prekeys are
// replenished, and a peer's new identity drops the session with it.
func (u *User) onNotification(n wabin.Node) {
	id, typ := n.AttrString("id"), n.AttrString("type")
	from, _ := n.AttrJID("from")
	switch {
	case typ == "encrypt" && from.User == "" && hasChild(n, "count"):
		u.replenish()
	case typ == "encrypt" && from.User != "" && hasChild(n, "identity"):
		if err := u.dev.forget(u.ctx, from.User); err != nil {
			u.net.log.Error("user: forget peer", "phone", u.phone, "peer", from.User, "err", err)
		}
	}
	u.mu.Lock()
	u.notifications = append(u.notifications, Notification{ID: id, From: from.User, Type: typ, Node: n, At: u.net.opts.Now()})
	u.changedLocked()
	u.mu.Unlock()
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "notification", "id": id, "to": from}}
	if typ != "" {
		ack.Attrs["type"] = typ
	}
	u.toServer(ack)
}

// replenish uploads more one-time keys if the server runs low. It asks
// the server for the count first: several low-key notifications may be
// queued, and only the first should upload.
func (u *User) replenish() {
	if u.opts.PreKeys < 0 || u.srv.preKeyCount(u) >= lowPreKeys {
		return
	}
	var keys []store.PreKey
	err := u.dev.st.InTx(u.ctx, func(tx store.Store) error {
		var err error
		keys, err = u.dev.newPreKeys(u.ctx, tx, u.opts.PreKeys)
		return err
	})
	if err == nil {
		err = u.srv.uploadUserKeys(u, u.dev.bundle(keys))
	}
	if err != nil {
		u.net.log.Error("user: replenish prekeys", "phone", u.phone, "err", err)
	}
}

// changedLocked wakes every waiter. The caller holds u.mu.
func (u *User) changedLocked() {
	close(u.changed)
	u.changed = make(chan struct{})
}

// wait blocks until cond (called with u.mu held) holds.
func (u *User) wait(ctx context.Context, cond func() bool) error {
	for {
		u.mu.Lock()
		ok, ch := cond(), u.changed
		u.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-u.ctx.Done():
			return ErrClosed
		}
	}
}

// Received returns the messages the user decrypted, from anyone, in
// arrival order; a message delivered again under the same id is not
// repeated (see Duplicates).
func (u *User) Received() []Received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Received(nil), u.received...)
}

// WaitReceived waits until the user has received at least n messages and
// returns them all; on ctx's end it returns what there is with the error.
func (u *User) WaitReceived(ctx context.Context, n int) ([]Received, error) {
	err := u.wait(ctx, func() bool { return len(u.received) >= n })
	return u.Received(), err
}

// Duplicates counts messages that arrived with a sender and id the user
// had already received: a phone shows them once, so they are not in
// Received, and a test can assert that nothing was delivered twice.
func (u *User) Duplicates() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.dups
}

// DecryptFailures counts messages the user could not decrypt (each
// delivery attempt counts).
func (u *User) DecryptFailures() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fails
}

// Receipts returns the receipts the user got for its own messages, in
// arrival order; a read receipt naming several messages counts once per
// message. Retry receipts are answered, not listed.
func (u *User) Receipts() []Receipt {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Receipt(nil), u.receipts...)
}

// WaitReceipts waits until the user has at least n receipts and returns
// them all.
func (u *User) WaitReceipts(ctx context.Context, n int) ([]Receipt, error) {
	err := u.wait(ctx, func() bool { return len(u.receipts) >= n })
	return u.Receipts(), err
}

// Notifications returns the notifications the user got, in arrival order.
func (u *User) Notifications() []Notification {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Notification(nil), u.notifications...)
}

// WaitNotifications waits until the user has at least n notifications
// and returns them all.
func (u *User) WaitNotifications(ctx context.Context, n int) ([]Notification, error) {
	err := u.wait(ctx, func() bool { return len(u.notifications) >= n })
	return u.Notifications(), err
}

// Send encrypts m for to and hands it to the server, fetching to's prekey
// bundle first when there is no session yet. It returns the message id
// once the server accepted the message, which it holds for to while to is
// offline.
func (u *User) Send(ctx context.Context, to string, m *waE2E.Message) (string, error) {
	if m == nil {
		return "", errors.New("waenttest: nil message")
	}
	to = digits(to)
	if to == "" {
		return "", errors.New("waenttest: recipient needs a phone number")
	}
	plaintext, err := proto.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("waenttest: encode message: %w", err)
	}
	id := NewMessageID()
	attrs := messageAttrs(m)
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	if err := u.srv.checkOnline(u); err != nil {
		return "", err
	}
	ct, err := u.dev.encrypt(ctx, u.srv, to, plaintext, nil, false)
	if err != nil {
		return "", fmt.Errorf("waenttest: encrypt for %s: %w", to, err)
	}
	ack, err := u.srv.fromUser(u, u.messageNode(id, to, attrs, ct, 0))
	if err != nil {
		return "", err
	}
	switch code := ack.AttrString("error"); code {
	case "":
	case "404":
		return "", fmt.Errorf("%w: %s", ErrNotOnWhatsApp, to)
	default:
		return "", fmt.Errorf("waenttest: server refused message %s: error %s", id, code)
	}
	u.sent[id] = sentMessage{to: to, plaintext: plaintext, attrs: attrs}
	u.sentQ = append(u.sentQ, id)
	if len(u.sentQ) > maxSentCache {
		delete(u.sent, u.sentQ[0])
		u.sentQ = u.sentQ[1:]
	}
	return id, nil
}

// SendText sends a plain text message.
func (u *User) SendText(ctx context.Context, to, text string) (string, error) {
	return u.Send(ctx, to, &waE2E.Message{Conversation: proto.String(text)})
}

// messageNode is the stanza for one encrypted message; retry > 0 marks a
// copy encrypted again after a retry receipt.
func (u *User) messageNode(id, to string, attrs wabin.Attrs, ct crypto.Ciphertext, retry int) wabin.Node {
	enc := wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": ct.Type}, Content: ct.Data}
	if mt := attrs["mediatype"]; mt != nil {
		enc.Attrs["mediatype"] = mt
	}
	if retry > 0 {
		enc.Attrs["count"] = strconv.Itoa(retry)
	}
	return wabin.Node{Tag: "message", Attrs: wabin.Attrs{
		"id": id, "to": userJID(to), "type": attrs["type"], "t": unix(u.net.opts.Now()),
	}, Content: []wabin.Node{enc}}
}

// MarkRead sends one read receipt for ids, which must be messages from
// to: the first id in the id attribute, the rest in a <list>, as phones
// do (protocol.md §3, Receipts).
func (u *User) MarkRead(ctx context.Context, to string, ids ...string) error {
	return u.sendReceipt(ctx, to, "read", ids)
}

// SendDelivered sends a delivery receipt for each of ids (messages from
// to), for users made with ManualDeliveryReceipts.
func (u *User) SendDelivered(ctx context.Context, to string, ids ...string) error {
	for _, id := range ids {
		if err := u.sendReceipt(ctx, to, "", []string{id}); err != nil {
			return err
		}
	}
	return nil
}

func (u *User) sendReceipt(ctx context.Context, to, typ string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	to = digits(to)
	r := wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": ids[0], "to": userJID(to), "t": unix(u.net.opts.Now())}}
	if typ != "" {
		r.Attrs["type"] = typ
	}
	if len(ids) > 1 {
		items := make([]wabin.Node, 0, len(ids)-1)
		for _, id := range ids[1:] {
			items = append(items, wabin.Node{Tag: "item", Attrs: wabin.Attrs{"id": id}})
		}
		r.Content = []wabin.Node{{Tag: "list", Content: items}}
	}
	_, err := u.srv.fromUser(u, r)
	return err
}

// SetOnline connects or disconnects the user's device. While offline,
// stanzas for it wait on the server; back online, it gets everything
// pending, in order. Unprocessed stanzas are dropped on the way out and
// come again from the server, so nothing is processed twice.
func (u *User) SetOnline(online bool) {
	u.procMu.Lock()
	defer u.procMu.Unlock()
	u.srv.setUserOnline(u, online)
}

// Block makes the server swallow phone's messages to this user: the
// sender gets its ack as usual and never learns.
func (u *User) Block(phone string) { u.srv.block(u, digits(phone), true) }

// Unblock lifts Block; messages sent while blocked stay lost.
func (u *User) Unblock(phone string) { u.srv.block(u, digits(phone), false) }

// Reinstall reinstalls WhatsApp on the user's phone: a new identity key,
// registration id and prekeys are uploaded, every local session is gone,
// and every peer the user exchanged messages with gets an identity-change
// notification. What the user received so far stays in Received.
func (u *User) Reinstall(ctx context.Context) error {
	u.procMu.Lock()
	defer u.procMu.Unlock()
	u.sendMu.Lock()
	defer u.sendMu.Unlock()
	dev, keys, err := newDevice(ctx, u.net, u.opts.PreKeys)
	if err != nil {
		return err
	}
	if err := u.srv.reinstallUser(u, dev.bundle(keys)); err != nil {
		return err
	}
	u.dev = dev
	return nil
}

// ChangeNumber moves the user to newPhone: a fresh account and device
// there, the old number gone from the directory, and every peer notified
// with a change_number notification (see the package documentation). The
// returned User lives at newPhone; this one is closed, its history kept.
func (u *User) ChangeNumber(ctx context.Context, newPhone string) (*User, error) {
	newPhone = digits(newPhone)
	if newPhone == "" {
		return nil, errors.New("waenttest: new number needs digits")
	}
	next, kb, err := u.net.newUser(newPhone, u.opts)
	if err != nil {
		return nil, err
	}
	u.procMu.Lock()
	err = u.srv.changeNumber(u, next, kb)
	u.procMu.Unlock()
	if err != nil {
		next.cancel()
		return nil, err
	}
	next.start()
	u.stop()
	return next, nil
}

// NewMessageID returns an id in the form phones use: "3EB0" and 18
// uppercase hex digits.
func NewMessageID() string {
	var b [9]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	return "3EB0" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// messageAttrs picks the stanza's type and enc mediatype for m, as phones
// set them.
func messageAttrs(m *waE2E.Message) wabin.Attrs {
	media := func(t string) wabin.Attrs { return wabin.Attrs{"type": "media", "mediatype": t} }
	switch {
	case m.GetReactionMessage() != nil:
		return wabin.Attrs{"type": "reaction"}
	case m.GetImageMessage() != nil:
		return media("image")
	case m.GetVideoMessage() != nil:
		return media("video")
	case m.GetAudioMessage() != nil:
		if m.GetAudioMessage().GetPTT() {
			return media("ptt")
		}
		return media("audio")
	case m.GetDocumentMessage() != nil, m.GetDocumentWithCaptionMessage() != nil:
		return media("document")
	case m.GetStickerMessage() != nil:
		return media("sticker")
	case m.GetContactMessage() != nil:
		return media("vcard")
	case m.GetContactsArrayMessage() != nil:
		return media("contact_array")
	case m.GetListResponseMessage() != nil:
		return media("list_response")
	case m.GetButtonsResponseMessage() != nil:
		return media("buttons_response")
	case m.GetInteractiveResponseMessage() != nil:
		return media("native_flow_response")
	}
	return wabin.Attrs{"type": "text"}
}
