package waent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/waproto/waE2E"
	"google.golang.org/protobuf/proto"
)

const business = "1" + businessNumber

func callbacksOf(t *testing.T, st store.Store, kind string) []string {
	t.Helper()
	cbs, err := st.PendingCallbacks(context.Background(), 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cb := range cbs {
		if cb.Kind == kind {
			out = append(out, string(cb.Payload))
		}
	}
	return out
}

func TestPreKeysUploadedAndRefilled(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	startClient(t, net, st)
	waitFor(t, 5*time.Second, "first upload", func() bool { return net.PreKeyCount(business) == 812 })
	// Every new contact who writes first takes one one-time key; below
	// five the server asks for more and the client uploads 50.
	ctx := context.Background()
	for i := range 809 {
		u, err := net.NewUser(fmt.Sprintf("4971%07d", i), waenttest.UserOptions{PreKeys: -1})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := u.SendText(ctx, business, "hi"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "refill", func() bool { return net.PreKeyCount(business) >= 50 })
	total, uploaded, err := st.CountPreKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 809 were consumed (and deleted when their pkmsg was decrypted).
	if uploaded != 812+50-809 || total != uploaded {
		t.Fatalf("store holds %d prekeys, %d uploaded; want %d uploaded", total, uploaded, 812+50-809)
	}
}

// TestPhoneCannotDecrypt: a phone that cannot decrypt sends a retry
// receipt; the business rebuilds the session and sends the same message
// (same id) again.
func TestPhoneCannotDecrypt(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	users := newUsers(t, net, 2)
	a, b := users[0], users[1]
	ctx := context.Background()
	for _, u := range users {
		if _, err := c.Send(ctx, text(u.Phone(), "hello")); err != nil {
			t.Fatal(err)
		}
		if _, err := u.WaitReceived(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Break the business's session with b: it now holds a's.
	rec, err := st.GetSession(ctx, store.Address{Name: a.Phone()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PutSessions(ctx, []store.Session{{Address: store.Address{Name: b.Phone()}, Record: rec}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = startClient(t, net, st) // a restart drops cached session knowledge
	id, err := c.Send(ctx, text(b.Phone(), "after the damage"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.WaitReceived(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].ID != id || got[1].Message.GetConversation() != "after the damage" {
		t.Fatalf("got %+v", got[1])
	}
	if b.DecryptFailures() == 0 {
		t.Fatal("the phone never failed to decrypt: the test did not test the retry path")
	}
	waitFor(t, 5*time.Second, "delivered", func() bool { return statusOf(t, st, id) == store.StatusDelivered })
}

// TestBusinessCannotDecrypt: the business lost its session with a user;
// its retry receipts make the phone start a new session and the message
// arrives.
func TestBusinessCannotDecrypt(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	ctx := context.Background()
	if _, err := u.SendText(ctx, business, "first"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first message", func() bool { return len(callbacksOf(t, st, waent.KindInbound)) == 1 })
	if _, err := st.DeleteSessions(ctx, u.Phone()); err != nil {
		t.Fatal(err)
	}
	id, err := u.SendText(ctx, business, "second")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "second message", func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
	if c.DecryptFailures() == 0 {
		t.Fatal("the business never failed to decrypt")
	}
	var m struct {
		Messages []struct{ Text struct{ Body string } } `json:"messages"`
	}
	got, _ := st.GetMessage(ctx, id)
	json.Unmarshal(got.Payload, &m.Messages) // payload is one entry, not an array
	if !strings.Contains(string(got.Payload), `"body":"second"`) {
		t.Fatalf("payload %s", got.Payload)
	}
}

func TestMarkRead(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	ctx := context.Background()
	id, err := u.SendText(ctx, business, "read me")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "stored", func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
	if err := c.MarkRead(ctx, id); err != nil {
		t.Fatal(err)
	}
	if s := statusOf(t, st, id); s != store.StatusRead {
		t.Fatalf("status %s", s)
	}
	waitFor(t, 5*time.Second, "read receipt", func() bool {
		for _, r := range u.Receipts() {
			if r.ID == id && r.Type == "read" {
				return true
			}
		}
		return false
	})
	var we *waent.Error
	if err := c.MarkRead(ctx, "nope"); !errors.As(err, &we) || we.Code != waent.CodeResourceNotFound || we.HTTPStatus() != 404 {
		t.Fatalf("unknown id: %v", err)
	}
}

// TestStatusCallbacks: delivered and read produce status callbacks; sent
// only when the settings ask for it.
func TestStatusCallbacks(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	ctx := context.Background()
	id1, err := c.Send(ctx, text(u.Phone(), "one"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "delivered", func() bool { return statusOf(t, st, id1) == store.StatusDelivered })
	if _, err := c.UpdateSettings(ctx, func(s *waent.Settings) { s.SentStatus = true }); err != nil {
		t.Fatal(err)
	}
	id2, err := c.Send(ctx, text(u.Phone(), "two"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "delivered", func() bool { return statusOf(t, st, id2) == store.StatusDelivered })
	if err := u.MarkRead(ctx, business, id1, id2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "read", func() bool {
		return statusOf(t, st, id2) == store.StatusRead && statusOf(t, st, id1) == store.StatusRead
	})
	type status struct {
		ID          string `json:"id"`
		RecipientID string `json:"recipient_id"`
		Status      string `json:"status"`
		Timestamp   string `json:"timestamp"`
	}
	var got []string
	for _, p := range callbacksOf(t, st, waent.KindStatus) {
		var env struct{ Statuses []status }
		if err := json.Unmarshal([]byte(p), &env); err != nil || len(env.Statuses) != 1 {
			t.Fatalf("payload %s: %v", p, err)
		}
		s := env.Statuses[0]
		if s.RecipientID != u.Phone() || s.Timestamp == "" {
			t.Errorf("status %+v", s)
		}
		n := "1"
		if s.ID == id2 {
			n = "2"
		}
		got = append(got, n+":"+s.Status)
	}
	want := "1:delivered 2:sent 2:delivered 1:read 2:read"
	if strings.Join(got, " ") != want {
		t.Fatalf("status callbacks %q, want %q", strings.Join(got, " "), want)
	}
}

func TestChangeNumberSystemMessage(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	ctx := context.Background()
	if _, err := c.Send(ctx, text(u.Phone(), "hi")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}
	old := u.Phone()
	nu, err := u.ChangeNumber(ctx, "447999000111")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "system callback", func() bool { return len(callbacksOf(t, st, waent.KindSystem)) == 1 })
	p := callbacksOf(t, st, waent.KindSystem)[0]
	var env struct {
		Contacts []any `json:"contacts"`
		Messages []struct {
			From   string `json:"from"`
			Type   string `json:"type"`
			System struct {
				Type    string `json:"type"`
				NewWAID string `json:"new_wa_id"`
			} `json:"system"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(p), &env); err != nil {
		t.Fatal(err)
	}
	m := env.Messages[0]
	if env.Contacts != nil || m.From != old || m.Type != "system" || m.System.Type != "user_changed_number" || m.System.NewWAID != nu.Phone() {
		t.Fatalf("system callback %s", p)
	}
}

func TestBlockedByUser(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	u.Block(business)
	id, err := c.Send(context.Background(), text(u.Phone(), "are you there?"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "sent", func() bool { return statusOf(t, st, id) == store.StatusSent })
	time.Sleep(200 * time.Millisecond) // a delivery would have come by now
	if s := statusOf(t, st, id); s != store.StatusSent || len(u.Received()) != 0 {
		t.Fatalf("blocked: status %s, received %d", s, len(u.Received()))
	}
}

// TestReadyAfterOfflineBacklog: after a restart, sends are accepted only
// once the messages that arrived while the client was down are stored.
func TestReadyAfterOfflineBacklog(t *testing.T) {
	net := waenttest.New(t)
	st := sqltest.Open(t, sqlstore.SQLite)
	c := startClient(t, net, st)
	users := newUsers(t, net, 4)
	ctx := context.Background()
	for _, u := range users { // sessions, so the backlog is msg, not pkmsg
		if _, err := u.SendText(ctx, business, "hi"); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "first messages", func() bool { return len(callbacksOf(t, st, waent.KindInbound)) == len(users) })
	c.Close()
	var ids []string
	for k := range 200 {
		id, err := users[k%len(users)].SendText(ctx, business, fmt.Sprint("while you were out ", k))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	c2, err := waent.New(testConfig(net, st))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var we *waent.Error
	if _, err := c2.Send(ctx, text(users[0].Phone(), "x")); !errors.As(err, &we) || we.Code != waent.CodeServiceNotReady {
		t.Fatalf("send right after start: %v, want 1011", err)
	}
	waitFor(t, 20*time.Second, "ready", c2.Ready)
	for _, id := range ids {
		if _, err := st.GetMessage(ctx, id); err != nil {
			t.Fatalf("ready before offline message %s was stored: %v", id, err)
		}
	}
	if n := len(callbacksOf(t, st, waent.KindInbound)); n != len(users)+len(ids) {
		t.Fatalf("%d inbound callbacks, want %d", n, len(users)+len(ids))
	}
}

// TestRevokedMessage: a user deleting a message it sent gives the message
// status "deleted" and a status callback; another user cannot revoke it.
func TestRevokedMessage(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	startClient(t, net, st)
	users := newUsers(t, net, 2)
	ctx := context.Background()
	id, err := users[0].SendText(ctx, business, "oops")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "stored", func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
	revoke := func(u *waenttest.User) {
		t.Helper()
		_, err := u.Send(ctx, business, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waE2E.MessageKey{ID: proto.String(id)},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	revoke(users[1]) // not the sender: ignored
	revoke(users[0])
	waitFor(t, 5*time.Second, "deleted", func() bool { return statusOf(t, st, id) == store.StatusDeleted })
	cbs := callbacksOf(t, st, waent.KindStatus)
	if len(cbs) != 1 || !strings.Contains(cbs[0], `"id":"`+id+`"`) || !strings.Contains(cbs[0], `"status":"deleted"`) ||
		!strings.Contains(cbs[0], `"recipient_id":"`+users[0].Phone()+`"`) {
		t.Fatalf("status callbacks %q", cbs)
	}
}

// TestSimultaneousFirstContact: the business and its users start sessions
// with each other at the same moment; both sides end up decrypting
// everything (libsignal keeps both sessions).
func TestSimultaneousFirstContact(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) { simultaneousFirstContact(t, open(t)) })
	}
}

func simultaneousFirstContact(t *testing.T, st store.Store) {
	net := waenttest.New(t)
	c := startClient(t, net, st)
	users := newUsers(t, net, 5)
	ctx := context.Background()
	var wg sync.WaitGroup
	var inbound []string
	var mu sync.Mutex
	for _, u := range users {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for k := range 20 {
				if _, err := c.Send(ctx, text(u.Phone(), fmt.Sprint("b", k))); err != nil {
					t.Error(err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for k := range 5 {
				id, err := u.SendText(ctx, business, fmt.Sprint("u", k))
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				inbound = append(inbound, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, u := range users {
		if _, err := u.WaitReceived(ctx, 20); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range inbound {
		waitFor(t, 5*time.Second, "inbound", func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
	}
	for i, u := range users {
		if u.DecryptFailures() != 0 {
			t.Errorf("user %d failed to decrypt %d messages", i, u.DecryptFailures())
		}
	}
	if n := c.DecryptFailures(); n != 0 {
		t.Errorf("business failed to decrypt %d messages", n)
	}
}

// TestConcurrentBothWays: the business and its users write to each other
// at full speed on established sessions. Inbound decryption and outbound
// encryption advance the same session records from two pipelines; on a
// database with concurrent writers, a lost update shows up as messages
// that cannot be decrypted on one side or the other.
func TestConcurrentBothWays(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			net := waenttest.New(t)
			st := open(t)
			c := startClient(t, net, st)
			users := newUsers(t, net, 3)
			ctx := context.Background()
			for _, u := range users { // sessions both ways first
				if _, err := c.Send(ctx, text(u.Phone(), "hello")); err != nil {
					t.Fatal(err)
				}
				if _, err := u.WaitReceived(ctx, 1); err != nil {
					t.Fatal(err)
				}
				if _, err := u.SendText(ctx, business, "hi"); err != nil {
					t.Fatal(err)
				}
			}
			const n = 150
			var wg sync.WaitGroup
			var inbound []string
			var mu sync.Mutex
			for _, u := range users {
				wg.Add(2)
				go func() {
					defer wg.Done()
					for k := range n {
						if _, err := c.Send(ctx, text(u.Phone(), fmt.Sprint("out ", k))); err != nil {
							t.Error(err)
							return
						}
					}
				}()
				go func() {
					defer wg.Done()
					for k := range n {
						id, err := u.SendText(ctx, business, fmt.Sprint("in ", k))
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						inbound = append(inbound, id)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			for i, u := range users {
				if _, err := u.WaitReceived(wctx, n+1); err != nil {
					t.Fatalf("user %d: %v (received %d, %d decrypt failures)", i, err, len(u.Received()), u.DecryptFailures())
				}
			}
			for _, id := range inbound {
				waitFor(t, 10*time.Second, "inbound "+id, func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
			}
			for i, u := range users {
				if f := u.DecryptFailures(); f != 0 {
					t.Errorf("user %d could not decrypt %d messages", i, f)
				}
			}
			if f := c.DecryptFailures(); f != 0 {
				t.Errorf("the business could not decrypt %d messages", f)
			}
		})
	}
}

// TestReceiptsOnlyForOwnMessages: a phone's receipt moves only messages
// sent to that phone, never another user's nor a received one.
func TestReceiptsOnlyForOwnMessages(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	users := newUsers(t, net, 2)
	a, b := users[0], users[1]
	ctx := context.Background()
	toA, err := c.Send(ctx, text(a.Phone(), "for a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "delivered", func() bool { return statusOf(t, st, toA) == store.StatusDelivered })
	fromB, err := b.SendText(ctx, business, "from b")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "stored", func() bool { _, err := st.GetMessage(ctx, fromB); return err == nil })
	// b claims to have read a's message and its own inbound one; a then
	// reads its message for real, which is the last receipt the business
	// processes.
	if err := b.MarkRead(ctx, business, toA, fromB); err != nil {
		t.Fatal(err)
	}
	if err := a.MarkRead(ctx, business, toA); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "read by a", func() bool { return statusOf(t, st, toA) == store.StatusRead })
	if s := statusOf(t, st, fromB); s != store.StatusReceived {
		t.Fatalf("b's own message moved to %s by its receipt", s)
	}
	hist, err := st.StatusHistory(ctx, toA)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(hist); n != 4 { // pending, sent, delivered, read (a's)
		t.Fatalf("history %+v", hist)
	}
	for _, p := range callbacksOf(t, st, waent.KindStatus) {
		if strings.Contains(p, fromB) {
			t.Fatalf("status callback for an inbound message: %s", p)
		}
	}
}

// TestRevokeInOfflineBacklog: a message and its revoke arriving together
// (while the client was down) still give the "deleted" status.
func TestRevokeInOfflineBacklog(t *testing.T) {
	net := waenttest.New(t)
	st := sqltest.Open(t, sqlstore.SQLite)
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	ctx := context.Background()
	if _, err := u.SendText(ctx, business, "hi"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "first", func() bool { return len(callbacksOf(t, st, waent.KindInbound)) == 1 })
	c.Close()
	id, err := u.SendText(ctx, business, "oops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Send(ctx, business, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waE2E.MessageKey{ID: proto.String(id)},
	}}); err != nil {
		t.Fatal(err)
	}
	startClient(t, net, st)
	waitFor(t, 5*time.Second, "deleted", func() bool { return statusOf(t, st, id) == store.StatusDeleted })
	if cbs := callbacksOf(t, st, waent.KindStatus); len(cbs) != 1 || !strings.Contains(cbs[0], `"status":"deleted"`) {
		t.Fatalf("status callbacks %q", cbs)
	}
}
