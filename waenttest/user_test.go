package waenttest_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/waproto/waE2E"
)

func newUser(t *testing.T, n *waenttest.Network, phone string, opts waenttest.UserOptions) *waenttest.User {
	t.Helper()
	u, err := n.NewUser(phone, opts)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitReceived(t *testing.T, ctx context.Context, u *waenttest.User, n int) []waenttest.Received {
	t.Helper()
	got, err := u.WaitReceived(ctx, n)
	if err != nil {
		t.Fatalf("%s: %d of %d messages received: %v (decrypt failures %d)", u.Phone(), len(got), n, err, u.DecryptFailures())
	}
	return got
}

func texts(rs []waenttest.Received) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Text
	}
	return out
}

var messageID = regexp.MustCompile(`^3EB0[0-9A-F]{18}$`)

func TestUsersExchangeMessages(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "+1 631 555 0101", waenttest.UserOptions{PushName: "Alice"})
	bob := newUser(t, n, "16315550102", waenttest.UserOptions{PushName: "Bob"})
	if alice.Phone() != "16315550101" {
		t.Fatalf("phone %q, want digits only", alice.Phone())
	}
	if u, ok := n.User("16315550102"); !ok || u != bob {
		t.Fatal("Network.User does not find bob")
	}

	id1, err := alice.SendText(ctx, bob.Phone(), "hello bob")
	if err != nil {
		t.Fatal(err)
	}
	if !messageID.MatchString(id1) {
		t.Fatalf("message id %q, want 3EB0 + 18 uppercase hex", id1)
	}
	got := waitReceived(t, ctx, bob, 1)
	if r := got[0]; r.ID != id1 || r.From != alice.Phone() || r.Text != "hello bob" || !r.PreKey || r.Message.GetConversation() != "hello bob" {
		t.Fatalf("bob received %+v, want alice's pkmsg %s", r, id1)
	}

	id2, err := bob.SendText(ctx, alice.Phone(), "hi alice")
	if err != nil {
		t.Fatal(err)
	}
	got = waitReceived(t, ctx, alice, 1)
	if r := got[0]; r.ID != id2 || r.From != bob.Phone() || r.Text != "hi alice" || r.PreKey {
		t.Fatalf("alice received %+v, want bob's reply as a msg on the session alice started", r)
	}

	// Once bob answered, alice's session is confirmed: no more pkmsg.
	id3, err := alice.Send(ctx, bob.Phone(), &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("second")}})
	if err != nil {
		t.Fatal(err)
	}
	got = waitReceived(t, ctx, bob, 2)
	if r := got[1]; r.ID != id3 || r.Text != "second" || r.PreKey {
		t.Fatalf("bob's second message %+v, want a msg", r)
	}

	// Delivery receipts come back automatically; read receipts on demand.
	rs, err := alice.WaitReceipts(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].ID != id1 || rs[0].From != bob.Phone() || rs[0].Type != "" {
		t.Fatalf("alice's first receipt %+v, want bob's delivery of %s", rs[0], id1)
	}
	if err := bob.MarkRead(ctx, alice.Phone(), id1, id3); err != nil {
		t.Fatal(err)
	}
	err = waitFor(ctx, func() bool { return len(receiptsOf(alice, "read")) == 2 })
	if read := receiptsOf(alice, "read"); err != nil || read[0] != id1 || read[1] != id3 {
		t.Fatalf("alice's read receipts %v (%v), want %s and %s", read, err, id1, id3)
	}
	if bob.Duplicates() != 0 || bob.DecryptFailures() != 0 || alice.DecryptFailures() != 0 {
		t.Fatalf("duplicates %d, failures %d/%d", bob.Duplicates(), bob.DecryptFailures(), alice.DecryptFailures())
	}
}

func receiptsOf(u *waenttest.User, typ string) []string {
	var ids []string
	for _, r := range u.Receipts() {
		if r.Type == typ {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// waitFor polls cond until it holds or ctx ends: for state that has no
// Wait method of its own.
func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

func TestSendToUnknownNumber(t *testing.T) {
	n := waenttest.New(t)
	alice := newUser(t, n, "16315550111", waenttest.UserOptions{})
	if _, err := alice.SendText(testCtx(t), "19995550000", "anyone?"); !errors.Is(err, waenttest.ErrNotOnWhatsApp) {
		t.Fatalf("send to a number not on WhatsApp: %v, want ErrNotOnWhatsApp", err)
	}
	if _, err := n.NewUser("16315550111", waenttest.UserOptions{}); err == nil {
		t.Fatal("a second user at the same number was accepted")
	}
}

func TestOfflineUserReceivesEverythingInOrder(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550121", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550122", waenttest.UserOptions{})
	bob.SetOnline(false)
	if bob.Online() {
		t.Fatal("bob still online")
	}
	if _, err := bob.SendText(ctx, alice.Phone(), "from offline"); !errors.Is(err, waenttest.ErrOffline) {
		t.Fatalf("offline send: %v, want ErrOffline", err)
	}
	var ids []string
	for i := range 20 {
		id, err := alice.SendText(ctx, bob.Phone(), strconv.Itoa(i))
		if err != nil {
			t.Fatalf("send %d while bob is offline: %v", i, err)
		}
		ids = append(ids, id)
	}
	// The server accepted everything synchronously and pushed nothing to
	// an offline device.
	if got := bob.Received(); len(got) != 0 {
		t.Fatalf("offline bob received %d messages", len(got))
	}
	if got := alice.Receipts(); len(got) != 0 {
		t.Fatalf("alice has %d receipts while bob is offline", len(got))
	}
	bob.SetOnline(true)
	got := waitReceived(t, ctx, bob, 20)
	for i, r := range got {
		if r.ID != ids[i] || r.Text != strconv.Itoa(i) {
			t.Fatalf("message %d is %q (%s), want %d (%s): out of order", i, r.Text, r.ID, i, ids[i])
		}
	}
	if _, err := alice.WaitReceipts(ctx, 20); err != nil {
		t.Fatal(err)
	}
	// Going offline and back must not bring anything again.
	bob.SetOnline(false)
	bob.SetOnline(true)
	if _, err := alice.SendText(ctx, bob.Phone(), "after"); err != nil {
		t.Fatal(err)
	}
	got = waitReceived(t, ctx, bob, 21)
	if len(got) != 21 || got[20].Text != "after" || bob.Duplicates() != 0 {
		t.Fatalf("after reconnecting: %d messages, last %q, %d duplicates", len(got), got[len(got)-1].Text, bob.Duplicates())
	}
}

// Going offline while messages stream in loses none and repeats none.
func TestOnlineFlappingLosesNothing(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550131", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550132", waenttest.UserOptions{})
	const total = 100
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 10 {
			bob.SetOnline(i%2 == 1)
			time.Sleep(time.Millisecond)
		}
		bob.SetOnline(true)
	}()
	for i := range total {
		if _, err := alice.SendText(ctx, bob.Phone(), strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	<-done
	got := waitReceived(t, ctx, bob, total)
	for i, r := range got {
		if r.Text != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: out of order", i, r.Text)
		}
	}
	if bob.Duplicates() != 0 || bob.DecryptFailures() != 0 {
		t.Fatalf("%d duplicates, %d failures", bob.Duplicates(), bob.DecryptFailures())
	}
}

func TestBlock(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550141", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550142", waenttest.UserOptions{})
	bob.Block(alice.Phone())
	blockedID, err := alice.SendText(ctx, bob.Phone(), "you will not see this")
	if err != nil {
		t.Fatalf("a blocked sender's message must still be acked: %v", err)
	}
	bob.Unblock(alice.Phone())
	okID, err := alice.SendText(ctx, bob.Phone(), "but this")
	if err != nil {
		t.Fatal(err)
	}
	// Stanzas reach bob in order: had the blocked one been delivered, it
	// would come first.
	got := waitReceived(t, ctx, bob, 1)
	if got[0].ID != okID || got[0].Text != "but this" {
		t.Fatalf("bob received %+v first, want only the message sent after Unblock", got[0])
	}
	rs, err := alice.WaitReceipts(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.ID == blockedID {
			t.Fatal("alice got a receipt for the blocked message")
		}
	}
}

// party is a Signal participant run by the test itself: the business
// side of a conversation, with its own keys and store.
type party struct {
	st   *memstore.Store
	acct store.Account
	spk  store.SignedPreKey
	sig  *crypto.Signal
	pre  []store.PreKey
}

func newParty(t *testing.T) *party {
	t.Helper()
	ctx := context.Background()
	acct, spk, err := crypto.NewAccount(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := crypto.New(acct, crypto.Options{})
	if err != nil {
		t.Fatal(err)
	}
	pre, err := crypto.NewPreKeys(1, 10)
	if err != nil {
		t.Fatal(err)
	}
	p := &party{st: memstore.New(), acct: acct, spk: spk, sig: sig, pre: pre}
	if err := p.st.PutSignedPreKey(ctx, spk); err != nil {
		t.Fatal(err)
	}
	if err := p.st.PutPreKeys(ctx, pre); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *party) registration() []byte {
	return binary.BigEndian.AppendUint32(nil, p.acct.RegistrationID)
}

func (p *party) skey() wabin.Node {
	return wabin.Node{Tag: "skey", Content: []wabin.Node{{Tag: "id", Content: id3(p.spk.ID)}, {Tag: "value", Content: p.spk.Key.Public}, {Tag: "signature", Content: p.spk.Signature}}}
}

func keyNode(k store.PreKey) wabin.Node {
	return wabin.Node{Tag: "key", Content: []wabin.Node{{Tag: "id", Content: id3(k.ID)}, {Tag: "value", Content: k.Key.Public}}}
}

// biz plays the business side over a real TCP connection with its own
// Signal state, to see the stanzas users send exactly as the wire has them.
type biz struct {
	*client
	*party
}

func newBiz(t *testing.T, n *waenttest.Network, phone string) *biz {
	t.Helper()
	c := newClient(t, n, phone, true, nil)
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	b := &biz{client: c, party: newParty(t)}
	var keys []wabin.Node
	for _, k := range b.pre {
		keys = append(keys, keyNode(k))
	}
	upload := wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "encrypt", "type": "set", "to": wabin.ServerJID}, Content: []wabin.Node{
		{Tag: "registration", Content: b.registration()},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: b.acct.IdentityKey.Public},
		{Tag: "list", Content: keys},
		b.skey(),
	}}
	if _, err := c.SendIQ(context.Background(), upload); err != nil {
		t.Fatal(err)
	}
	return b
}

func id3(id uint32) []byte { return []byte{byte(id >> 16), byte(id >> 8), byte(id)} }

// encrypt builds a session from bundle when given one, then encrypts m.
func (b *party) encrypt(t *testing.T, to string, bundle *crypto.Bundle, m *waE2E.Message) crypto.Ciphertext {
	t.Helper()
	ctx := context.Background()
	pt, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var ct crypto.Ciphertext
	err = b.st.InTx(ctx, func(tx store.Store) error {
		bt := b.sig.Begin(tx)
		addr := store.Address{Name: to}
		if bundle != nil {
			if _, err := bt.ProcessBundle(ctx, addr, *bundle); err != nil {
				return err
			}
		}
		if ct, err = bt.Encrypt(ctx, addr, pt); err != nil {
			return err
		}
		return bt.Flush(ctx)
	})
	if err != nil {
		t.Fatalf("biz encrypt for %s: %v", to, err)
	}
	return ct
}

func (b *party) decrypt(t *testing.T, from string, enc wabin.Node) *waE2E.Message {
	t.Helper()
	ctx := context.Background()
	var d crypto.Decrypted
	err := b.st.InTx(ctx, func(tx store.Store) error {
		bt := b.sig.Begin(tx)
		var err error
		if d, err = bt.Decrypt(ctx, store.Address{Name: from}, crypto.Ciphertext{Type: enc.AttrString("type"), Data: enc.Bytes()}); err != nil {
			return err
		}
		return bt.Flush(ctx)
	})
	if err != nil {
		t.Fatalf("biz decrypt from %s: %v", from, err)
	}
	m := new(waE2E.Message)
	if err := proto.Unmarshal(d.Plaintext, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (b *biz) sendEnc(t *testing.T, to, id string, enc wabin.Node) {
	t.Helper()
	ack, err := b.SendAwaitAck(context.Background(), wabin.Node{Tag: "message",
		Attrs: wabin.Attrs{"id": id, "to": wabin.NewJID(to, wabin.DefaultUserServer), "type": "text"}, Content: []wabin.Node{enc}})
	if err != nil || ack.AttrString("error") != "" {
		t.Fatalf("send %s: ack %s, %v", id, ack, err)
	}
}

func garbage(count int) wabin.Node {
	data := make([]byte, 48)
	rand.Read(data)
	enc := wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": "msg"}, Content: data}
	if count > 0 {
		enc.Attrs["count"] = strconv.Itoa(count)
	}
	return enc
}

// nextStanza returns the next <tag> the client receives that satisfies
// ok, skipping others.
func nextStanza(t *testing.T, c *client, tag string, ok func(wabin.Node) bool) wabin.Node {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case n := <-c.received:
			if n.Tag == tag && ok(n) {
				return n
			}
		case <-deadline:
			t.Fatalf("%s: no matching <%s>", c.phone, tag)
			return wabin.Node{}
		}
	}
}

func isRetry(n wabin.Node) bool { return n.AttrString("type") == "retry" }

// A message the user cannot decrypt gets a retry receipt shaped as
// protocol.md §3 describes, at most five per message; the copy the sender
// encrypts again on a session built from the receipt's keys is received.
func TestRetryReceipts(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	bob := newUser(t, n, "16315550152", waenttest.UserOptions{PushName: "Bob"})
	b := newBiz(t, n, "16315550151")

	const id = "3EB0AAAAAAAAAAAAAAAAAA"
	var bundle crypto.Bundle
	for count := 1; count <= 5; count++ {
		b.sendEnc(t, bob.Phone(), id, garbage(count-1))
		r := nextStanza(t, b.client, "receipt", isRetry)
		if from, _ := r.AttrJID("from"); from.User != bob.Phone() || r.AttrString("id") != id {
			t.Fatalf("retry receipt %s, want one from bob for %s", r, id)
		}
		retry, ok := r.Child("retry")
		if !ok || retry.AttrString("count") != strconv.Itoa(count) || retry.AttrString("id") != id || retry.AttrString("v") != "1" || retry.AttrString("t") == "" {
			t.Fatalf("retry %d: %s", count, r)
		}
		if reg, _ := r.Child("registration"); len(reg.Bytes()) != 4 {
			t.Fatalf("retry %d: registration %s", count, r)
		}
		k, hasKeys := r.Child("keys")
		if hasKeys != (count > 1) {
			t.Fatalf("retry %d has keys: %v, want keys from the second retry on", count, hasKeys)
		}
		if count == 2 {
			var err error
			bundle, err = waenttest.ParseBundle(k, mustChild(t, r, "registration").Bytes())
			if err != nil || bundle.PreKey == nil {
				t.Fatalf("retry keys %s: %v", k, err)
			}
		}
	}
	// A sixth failure gets no receipt: the next receipt is for another
	// message, which bob processes after the sixth copy.
	b.sendEnc(t, bob.Phone(), id, garbage(5))
	b.sendEnc(t, bob.Phone(), "3EB0BBBBBBBBBBBBBBBBBB", garbage(0))
	if r := nextStanza(t, b.client, "receipt", isRetry); r.AttrString("id") != "3EB0BBBBBBBBBBBBBBBBBB" {
		t.Fatalf("after five retries bob still asked again: %s", r)
	}
	if got := bob.DecryptFailures(); got != 7 {
		t.Fatalf("%d decrypt failures, want 7", got)
	}

	// The sender rebuilds the session from the keys of a retry receipt
	// and re-encrypts: bob records the message normally.
	ct := b.encrypt(t, bob.Phone(), &bundle, &waE2E.Message{Conversation: proto.String("third time lucky")})
	b.sendEnc(t, bob.Phone(), "3EB0BBBBBBBBBBBBBBBBBB", wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": ct.Type, "count": "2"}, Content: ct.Data})
	got := waitReceived(t, ctx, bob, 1)
	if got[0].ID != "3EB0BBBBBBBBBBBBBBBBBB" || got[0].Text != "third time lucky" || got[0].From != b.phone {
		t.Fatalf("bob received %+v", got[0])
	}
	delivered := nextStanza(t, b.client, "receipt", func(n wabin.Node) bool { return n.AttrString("type") == "" })
	if delivered.AttrString("id") != "3EB0BBBBBBBBBBBBBBBBBB" {
		t.Fatalf("delivery receipt %s", delivered)
	}
}

func mustChild(t *testing.T, n wabin.Node, tag string) wabin.Node {
	t.Helper()
	c, ok := n.Child(tag)
	if !ok {
		t.Fatalf("no <%s> in %s", tag, n)
	}
	return c
}

// A user's message reaches a real client with the server-stamped push
// name, and decrypts there; the client's reply reaches the user.
func TestUserAndBusinessClient(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	b := newBiz(t, n, "16315550161")
	bob := newUser(t, n, "16315550162", waenttest.UserOptions{PushName: "Bob"})

	id, err := bob.SendText(ctx, b.phone, "hi business")
	if err != nil {
		t.Fatal(err)
	}
	m := nextStanza(t, b.client, "message", func(wabin.Node) bool { return true })
	if m.AttrString("id") != id || m.AttrString("notify") != "Bob" || m.AttrString("type") != "text" {
		t.Fatalf("business got %s, want id %s with notify=Bob", m, id)
	}
	enc := mustChild(t, m, "enc")
	if enc.AttrString("type") != "pkmsg" || enc.AttrString("v") != "2" {
		t.Fatalf("enc %s, want a v2 pkmsg", enc)
	}
	if got := b.decrypt(t, bob.Phone(), enc).GetConversation(); got != "hi business" {
		t.Fatalf("business decrypted %q", got)
	}

	ct := b.encrypt(t, bob.Phone(), nil, &waE2E.Message{Conversation: proto.String("hello Bob")})
	b.sendEnc(t, bob.Phone(), "3EB0CCCCCCCCCCCCCCCCCC", wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": ct.Type}, Content: ct.Data})
	got := waitReceived(t, ctx, bob, 1)
	if got[0].Text != "hello Bob" || got[0].From != b.phone || got[0].PreKey {
		t.Fatalf("bob received %+v", got[0])
	}
	r := nextStanza(t, b.client, "receipt", func(wabin.Node) bool { return true })
	if r.AttrString("id") != "3EB0CCCCCCCCCCCCCCCCCC" || r.AttrString("type") != "" {
		t.Fatalf("business got receipt %s, want bob's delivery receipt", r)
	}
}

func TestReinstall(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550171", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550172", waenttest.UserOptions{})
	b := newBiz(t, n, "16315550173")
	if _, err := alice.SendText(ctx, bob.Phone(), "before"); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ctx, bob, 1)
	if _, err := bob.SendText(ctx, alice.Phone(), "before too"); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ctx, alice, 1)
	// The business exchanged a message with bob as well.
	bundle, err := waenttest.ParseBundle(fetchBundle(t, b.client, bob.Phone()), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct := b.encrypt(t, bob.Phone(), &bundle, &waE2E.Message{Conversation: proto.String("from the business")})
	b.sendEnc(t, bob.Phone(), "3EB0DDDDDDDDDDDDDDDDDD", wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": ct.Type}, Content: ct.Data})
	waitReceived(t, ctx, bob, 2)

	if err := bob.Reinstall(ctx); err != nil {
		t.Fatal(err)
	}
	// Both peers are told, the business in the wire form of §3.
	note := nextStanza(t, b.client, "notification", func(wabin.Node) bool { return true })
	if from, _ := note.AttrJID("from"); from.User != bob.Phone() || note.AttrString("type") != "encrypt" || note.AttrString("id") == "" || note.AttrString("t") == "" {
		t.Fatalf("business got %s, want an encrypt notification from bob", note)
	}
	if _, ok := note.Child("identity"); !ok {
		t.Fatalf("notification %s has no <identity/>", note)
	}
	notes, err := alice.WaitNotifications(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if notes[0].From != bob.Phone() || notes[0].Type != "encrypt" {
		t.Fatalf("alice got %+v", notes[0])
	}
	// The identity is new: the business's bundle for bob has changed.
	after, err := waenttest.ParseBundle(fetchBundle(t, b.client, bob.Phone()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(after.Identity) == string(bundle.Identity) || after.RegistrationID == bundle.RegistrationID && string(after.SignedPreKey) == string(bundle.SignedPreKey) {
		t.Fatal("bob's bundle did not change with the reinstall")
	}

	// Bob has no sessions left: his next message starts one, and alice,
	// who dropped hers on the notification, decrypts it under the new
	// identity.
	if _, err := bob.SendText(ctx, alice.Phone(), "new phone"); err != nil {
		t.Fatal(err)
	}
	got := waitReceived(t, ctx, alice, 2)
	if got[1].Text != "new phone" || !got[1].PreKey {
		t.Fatalf("alice received %+v, want a pkmsg", got[1])
	}
	if _, err := alice.SendText(ctx, bob.Phone(), "welcome back"); err != nil {
		t.Fatal(err)
	}
	got = waitReceived(t, ctx, bob, 3)
	if got[2].Text != "welcome back" || got[2].PreKey {
		t.Fatalf("bob received %+v", got[2])
	}
	// The business's pkmsg from before is not a failure; nothing failed.
	if alice.DecryptFailures() != 0 || bob.DecryptFailures() != 0 {
		t.Fatalf("decrypt failures alice %d bob %d", alice.DecryptFailures(), bob.DecryptFailures())
	}
}

// A sender that missed the identity change encrypts on its stale session;
// the retry receipts bring it to rebuild, and the message arrives once.
func TestReinstallRecoversThroughRetries(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550181", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550182", waenttest.UserOptions{})
	if _, err := alice.SendText(ctx, bob.Phone(), "one"); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ctx, bob, 1)
	if _, err := bob.SendText(ctx, alice.Phone(), "two"); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ctx, alice, 1)

	alice.SetOnline(false) // alice will not hear of the reinstall in time
	if err := bob.Reinstall(ctx); err != nil {
		t.Fatal(err)
	}
	alice.SetOnline(true)
	// Alice may or may not have processed the notification when she
	// sends; either way the message must arrive exactly once.
	id, err := alice.SendText(ctx, bob.Phone(), "three")
	if err != nil {
		t.Fatal(err)
	}
	got := waitReceived(t, ctx, bob, 2)
	if got[1].ID != id || got[1].Text != "three" {
		t.Fatalf("bob received %+v", got[1])
	}
	if bob.Duplicates() != 0 {
		t.Fatalf("%d duplicates", bob.Duplicates())
	}
}

func TestChangeNumber(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550191", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550192", waenttest.UserOptions{PushName: "Bob"})
	b := newBiz(t, n, "16315550193")
	if _, err := bob.SendText(ctx, alice.Phone(), "hi"); err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ctx, alice, 1)
	// The business is a peer too.
	b.sendEnc(t, bob.Phone(), "3EB0EEEEEEEEEEEEEEEEEE", wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": "skmsg"}, Content: []byte{1}})

	newBob, err := bob.ChangeNumber(ctx, "16315550199")
	if err != nil {
		t.Fatal(err)
	}
	if newBob.Phone() != "16315550199" || newBob.PushName() != "Bob" {
		t.Fatalf("new user %s %q", newBob.Phone(), newBob.PushName())
	}
	if _, ok := n.User("16315550192"); ok {
		t.Fatal("the old number still has a user")
	}
	if u, ok := n.User("16315550199"); !ok || u != newBob {
		t.Fatal("the new number has no user")
	}

	note := nextStanza(t, b.client, "notification", func(wabin.Node) bool { return true })
	user := mustChild(t, note, "user")
	from, _ := note.AttrJID("from")
	jid, _ := user.AttrJID("jid")
	if from.User != "16315550192" || note.AttrString("type") != "change_number" || jid.User != "16315550199" || jid.Server != wabin.DefaultUserServer {
		t.Fatalf("business got %s, want change_number from the old to the new number", note)
	}
	notes, err := alice.WaitNotifications(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if notes[0].Type != "change_number" || notes[0].From != "16315550192" {
		t.Fatalf("alice got %+v", notes[0])
	}

	// The old number is gone from the directory; the new one works.
	if _, err := alice.SendText(ctx, "16315550192", "still there?"); !errors.Is(err, waenttest.ErrNotOnWhatsApp) {
		t.Fatalf("send to the old number: %v, want ErrNotOnWhatsApp", err)
	}
	if _, err := bob.SendText(ctx, alice.Phone(), "from the old user"); !errors.Is(err, waenttest.ErrClosed) {
		t.Fatalf("send from the moved user: %v, want ErrClosed", err)
	}
	if _, err := alice.SendText(ctx, newBob.Phone(), "hi again"); err != nil {
		t.Fatal(err)
	}
	got := waitReceived(t, ctx, newBob, 1)
	if got[0].Text != "hi again" || !got[0].PreKey {
		t.Fatalf("new bob received %+v", got[0])
	}
	if _, err := bob.WaitReceived(ctx, 5); !errors.Is(err, waenttest.ErrClosed) {
		t.Fatalf("waiting on the moved user: %v, want ErrClosed", err)
	}
}

// The automatic delivery receipt can be turned off and sent by hand.
func TestManualDeliveryReceipts(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550201", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550202", waenttest.UserOptions{ManualDeliveryReceipts: true})
	id1, err := alice.SendText(ctx, bob.Phone(), "one")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := alice.SendText(ctx, bob.Phone(), "two")
	if err != nil {
		t.Fatal(err)
	}
	waitReceived(t, ctx, bob, 2)
	// Bob's device processed both without a receipt; the read receipt is
	// the first thing alice hears.
	if err := bob.MarkRead(ctx, alice.Phone(), id1); err != nil {
		t.Fatal(err)
	}
	if err := bob.SendDelivered(ctx, alice.Phone(), id2); err != nil {
		t.Fatal(err)
	}
	rs, err := alice.WaitReceipts(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].ID != id1 || rs[0].Type != "read" || rs[1].ID != id2 || rs[1].Type != "" || len(rs) != 2 {
		t.Fatalf("alice's receipts %+v, want read %s then delivered %s only", rs, id1, id2)
	}
}

// One-time keys running low on the server makes the user upload more.
func TestPreKeysReplenished(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	b := newBiz(t, n, "16315550211")
	bob := newUser(t, n, "16315550212", waenttest.UserOptions{PreKeys: 6})
	hasKey := func() bool {
		_, ok := fetchBundle(t, b.client, bob.Phone()).Child("key")
		return ok
	}
	for range 2 { // 4 left: below 5, the server tells bob
		if !hasKey() {
			t.Fatal("bundle without a one-time key")
		}
	}
	if err := waitFor(ctx, func() bool {
		for _, nt := range bob.Notifications() {
			if nt.Type == "encrypt" && nt.From == "" {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatal("no low-prekey notification")
	}
	// Bob records the notification after uploading: 4 + 6 keys now, so six
	// more fetches all get one (without the upload only four would).
	for i := range 6 {
		if !hasKey() {
			t.Fatalf("fetch %d after replenishing has no one-time key", i+1)
		}
	}

	carol := newUser(t, n, "16315550213", waenttest.UserOptions{PreKeys: -1})
	if _, ok := fetchBundle(t, b.client, carol.Phone()).Child("key"); ok {
		t.Fatal("a user with PreKeys < 0 published a one-time key")
	}
	if _, err := bob.SendText(ctx, carol.Phone(), "no one-time key needed"); err != nil {
		t.Fatal(err)
	}
	if got := waitReceived(t, ctx, carol, 1); got[0].Text != "no one-time key needed" {
		t.Fatalf("carol received %+v", got[0])
	}
}

// Many users writing at once: every message arrives, each sender's in
// order, none twice.
func TestManyUsersInOrder(t *testing.T) {
	n := waenttest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	hub := newUser(t, n, "16315550300", waenttest.UserOptions{})
	const users, each = 20, 50
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for i := range users {
		u := newUser(t, n, fmt.Sprintf("163155503%02d", i+1), waenttest.UserOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if _, err := u.SendText(ctx, hub.Phone(), strconv.Itoa(j)); err != nil {
					errs <- fmt.Errorf("%s message %d: %w", u.Phone(), j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := waitReceived(t, ctx, hub, users*each)
	next := map[string]int{}
	for _, r := range got {
		if want := strconv.Itoa(next[r.From]); r.Text != want {
			t.Fatalf("from %s got %q, want %q", r.From, r.Text, want)
		}
		next[r.From]++
	}
	if len(next) != users || hub.Duplicates() != 0 || hub.DecryptFailures() != 0 {
		t.Fatalf("%d senders, %d duplicates, %d failures", len(next), hub.Duplicates(), hub.DecryptFailures())
	}
}

func TestCloseStopsUsers(t *testing.T) {
	n, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	alice, err := n.NewUser("16315550401", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	if _, err := alice.WaitReceived(context.Background(), 1); !errors.Is(err, waenttest.ErrClosed) {
		t.Fatalf("wait after Close: %v, want ErrClosed", err)
	}
	if _, err := alice.SendText(context.Background(), "16315550402", "x"); !errors.Is(err, waenttest.ErrClosed) {
		t.Fatalf("send after Close: %v, want ErrClosed", err)
	}
	if _, err := n.NewUser("16315550403", waenttest.UserOptions{}); !errors.Is(err, waenttest.ErrClosed) {
		t.Fatalf("NewUser after Close: %v, want ErrClosed", err)
	}
}

// A user answers retry receipts for its own messages: the first by
// encrypting again on its session, a later one carrying keys by building
// a new session from them, as when the recipient lost its state.
func TestUserAnswersRetryReceipts(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	b := newBiz(t, n, "16315550501")
	alice := newUser(t, n, "16315550502", waenttest.UserOptions{})
	id, err := alice.SendText(ctx, b.phone, "please retry")
	if err != nil {
		t.Fatal(err)
	}
	isOurs := func(n wabin.Node) bool { return n.AttrString("id") == id }
	first := nextStanza(t, b.client, "message", isOurs)
	if _, ok := mustChild(t, first, "enc").Attrs["count"]; ok {
		t.Fatalf("first copy %s carries a retry count", first)
	}

	retry := func(count int, keys ...wabin.Node) {
		t.Helper()
		children := []wabin.Node{
			{Tag: "retry", Attrs: wabin.Attrs{"count": strconv.Itoa(count), "id": id, "t": first.AttrString("t"), "v": "1"}},
			{Tag: "registration", Content: b.registration()},
		}
		children = append(children, keys...)
		err := b.Send(ctx, wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": id, "to": wabin.NewJID(alice.Phone(), wabin.DefaultUserServer), "type": "retry"}, Content: children})
		if err != nil {
			t.Fatal(err)
		}
	}

	retry(1)
	again := nextStanza(t, b.client, "message", isOurs)
	enc := mustChild(t, again, "enc")
	if enc.AttrString("count") != "1" {
		t.Fatalf("re-sent copy %s, want enc count=1", again)
	}
	if got := b.decrypt(t, alice.Phone(), enc).GetConversation(); got != "please retry" {
		t.Fatalf("re-sent copy decrypts to %q", got)
	}

	// The business "reinstalls": only keys in the receipt can help.
	b.party = newParty(t)
	retry(2, wabin.Node{Tag: "keys", Content: []wabin.Node{
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: b.acct.IdentityKey.Public},
		keyNode(b.pre[0]),
		b.skey(),
	}})
	rebuilt := nextStanza(t, b.client, "message", isOurs)
	enc = mustChild(t, rebuilt, "enc")
	if enc.AttrString("count") != "2" || enc.AttrString("type") != "pkmsg" {
		t.Fatalf("copy after keyed retry %s, want a pkmsg with count=2", rebuilt)
	}
	if got := b.decrypt(t, alice.Phone(), enc).GetConversation(); got != "please retry" {
		t.Fatalf("rebuilt copy decrypts to %q", got)
	}

}

// BenchmarkUserToUser measures one user's messages to another through the
// server: encrypt, route, decrypt, ack and receipt.
func BenchmarkUserToUser(b *testing.B) {
	n := waenttest.New(b)
	alice, err := n.NewUser("16315550601", waenttest.UserOptions{})
	if err != nil {
		b.Fatal(err)
	}
	bob, err := n.NewUser("16315550602", waenttest.UserOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	// Not b.Loop: the wait for the last message below must be timed too.
	for range b.N {
		if _, err := alice.SendText(ctx, bob.Phone(), "benchmark"); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := bob.WaitReceived(ctx, b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// FuzzParseBundle feeds arbitrary nodes to the bundle reader users apply
// to fetch replies and to the keys in retry receipts, which come from
// peers: it must fail cleanly, never panic, and accept only bundles that
// verify.
func FuzzParseBundle(f *testing.F) {
	p := &party{}
	acct, spk, err := crypto.NewAccount(time.Now())
	if err != nil {
		f.Fatal(err)
	}
	p.acct, p.spk = acct, spk
	pre, err := crypto.NewPreKeys(7, 1)
	if err != nil {
		f.Fatal(err)
	}
	valid := wabin.Node{Tag: "user", Content: []wabin.Node{
		{Tag: "registration", Content: p.registration()},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: acct.IdentityKey.Public},
		p.skey(),
		keyNode(pre[0]),
	}}
	for _, n := range []wabin.Node{
		valid,
		{Tag: "user", Content: []wabin.Node{{Tag: "error", Attrs: wabin.Attrs{"code": "404"}}}},
		{Tag: "keys", Content: []wabin.Node{{Tag: "skey"}}},
	} {
		b, err := wabin.Marshal(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := wabin.Unmarshal(data)
		if err != nil {
			return
		}
		b, err := waenttest.ParseBundle(n, nil)
		if err == nil {
			if verr := b.Verify(); verr != nil {
				t.Fatalf("accepted a bundle that does not verify: %v", verr)
			}
		}
	})
}
