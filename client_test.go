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
	"github.com/waent/waent/content"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/waenttest"
)

const businessCC, businessNumber = "1", "5550100"

// testConfig is a Client config for the simulated network with test-sized
// timings.
func testConfig(net *waenttest.Network, st store.Store) waent.Config {
	return waent.Config{
		Store: st, Dialer: net.Dialer(), ChatRootKey: net.RootKey(), RegistrationURL: net.RegistrationURL(),
		PushName: "Acme", ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
		ReadyTimeout: 5 * time.Second, OutboxRetryMin: 50 * time.Millisecond, OutboxRetryMax: time.Second,
		OutboxAckTimeout: 5 * time.Second,
	}
}

// startClient starts a Client on st and registers it if st holds no
// registered account yet; it returns once the client is ready.
func startClient(t testing.TB, net *waenttest.Network, st store.Store) *waent.Client {
	t.Helper()
	return startClientConfig(t, net, testConfig(net, st))
}

// startClientConfig is startClient with a Config the test adjusted.
func startClientConfig(t testing.TB, net *waenttest.Network, cfg waent.Config) *waent.Client {
	t.Helper()
	ctx := context.Background()
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c.WAID() == "" {
		register(t, net, c)
	}
	waitFor(t, 20*time.Second, "client ready", c.Ready)
	return c
}

// register takes a started, unregistered client through POST
// /v1/account and /v1/account/verify with the code the network issued.
func register(t testing.TB, net *waenttest.Network, c *waent.Client) {
	t.Helper()
	ctx := context.Background()
	res, err := c.Register(ctx, waent.RegisterRequest{CC: businessCC, PhoneNumber: businessNumber, Method: "sms"})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	if res.AlreadyRegistered {
		t.Fatal("fresh account reported as registered")
	}
	code, ok := net.Registration().IssuedCode(businessCC, businessNumber)
	if !ok {
		t.Fatal("no code issued")
	}
	if err := c.Verify(ctx, code); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func text(to, body string) *content.Outgoing {
	return &content.Outgoing{To: to, Type: "text", Text: &content.Text{Body: body}}
}

func newUsers(t testing.TB, net *waenttest.Network, n int) []*waenttest.User {
	t.Helper()
	users := make([]*waenttest.User, n)
	for i := range users {
		u, err := net.NewUser(fmt.Sprintf("4470000%05d", i), waenttest.UserOptions{PushName: fmt.Sprintf("User %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		users[i] = u
	}
	return users
}

func statusOf(t testing.TB, st store.Store, id string) store.Status {
	t.Helper()
	m, err := st.GetMessage(context.Background(), id)
	if err != nil {
		t.Fatalf("message %s: %v", id, err)
	}
	return m.Status
}

// stores lists the backends the end-to-end tests run on: memory and
// SQLite always, PostgreSQL and MySQL when configured.
func stores(t *testing.T) map[string]func(t *testing.T) store.Store {
	return map[string]func(t *testing.T) store.Store{
		"memstore": func(t *testing.T) store.Store { return memstore.New() },
		"sqlite":   func(t *testing.T) store.Store { return sqltest.Open(t, sqlstore.SQLite) },
		"postgres": func(t *testing.T) store.Store { return sqltest.Open(t, sqlstore.Postgres) },
		"mysql":    func(t *testing.T) store.Store { return sqltest.Open(t, sqlstore.MySQL) },
	}
}

// TestThousandMessagesToTwentyUsers is the core acceptance: every message
// arrives decrypted, in order per user, and reaches "delivered".
func TestThousandMessagesToTwentyUsers(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			net := waenttest.New(t)
			st := open(t)
			c := startClient(t, net, st)
			users := newUsers(t, net, 20)
			const perUser = 50
			ids := make([][]string, len(users))
			var wg sync.WaitGroup
			errs := make(chan error, len(users))
			for i, u := range users {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range perUser {
						id, err := c.Send(context.Background(), text(u.Phone(), fmt.Sprintf("msg %d to %d", k, i)))
						if err != nil {
							errs <- err
							return
						}
						ids[i] = append(ids[i], id)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			for i, u := range users {
				got, err := u.WaitReceived(ctx, perUser)
				if err != nil {
					t.Fatalf("user %d: %v (got %d)", i, err, len(u.Received()))
				}
				if len(got) != perUser {
					t.Fatalf("user %d received %d messages, want %d", i, len(got), perUser)
				}
				for k, r := range got {
					want := fmt.Sprintf("msg %d to %d", k, i)
					if r.ID != ids[i][k] || r.Message.GetConversation() != want {
						t.Fatalf("user %d message %d: got %s %q, want %s %q", i, k, r.ID, r.Message.GetConversation(), ids[i][k], want)
					}
				}
				if d := u.Duplicates(); d != 0 {
					t.Errorf("user %d got %d duplicates", i, d)
				}
			}
			for i := range users {
				for _, id := range ids[i] {
					waitFor(t, 20*time.Second, "delivered "+id, func() bool { return statusOf(t, st, id) == store.StatusDelivered })
				}
			}
			n, err := st.OutboxLen(context.Background())
			if err != nil || n != 0 {
				t.Fatalf("outbox holds %d items (err %v) after every ack", n, err)
			}
		})
	}
}

// TestUsersReply: what users send arrives decrypted, is stored once and
// queued for the webhook with the sender's profile name.
func TestUsersReply(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	users := newUsers(t, net, 3)
	ctx := context.Background()
	// The first user is answered by the business first (msg sessions on
	// both sides), the others write first (pkmsg from the user).
	if _, err := c.Send(ctx, text(users[0].Phone(), "hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := users[0].WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var sent []string
	for i, u := range users {
		for k := range 3 {
			id, err := u.SendText(ctx, "1"+businessNumber, fmt.Sprintf("reply %d from %d", k, i))
			if err != nil {
				t.Fatal(err)
			}
			sent = append(sent, id)
		}
	}
	waitFor(t, 10*time.Second, "inbound stored", func() bool {
		for _, id := range sent {
			if _, err := st.GetMessage(ctx, id); err != nil {
				return false
			}
		}
		return true
	})
	cbs, err := st.PendingCallbacks(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{}
	for _, cb := range cbs {
		if cb.Kind != waent.KindInbound {
			continue
		}
		var p struct {
			Contacts []struct {
				Profile struct{ Name string } `json:"profile"`
				WAID    string                `json:"wa_id"`
			} `json:"contacts"`
			Messages []struct {
				From, ID, Type string
				Text           struct{ Body string }
			} `json:"messages"`
		}
		if err := json.Unmarshal(cb.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if len(p.Messages) != 1 || len(p.Contacts) != 1 {
			t.Fatalf("payload %s", cb.Payload)
		}
		m := p.Messages[0]
		if p.Contacts[0].WAID != m.From || !strings.HasPrefix(p.Contacts[0].Profile.Name, "User ") {
			t.Errorf("contacts entry %+v for message from %s", p.Contacts[0], m.From)
		}
		if _, dup := bodies[m.ID]; dup {
			t.Errorf("message %s queued twice", m.ID)
		}
		bodies[m.ID] = m.Text.Body
	}
	for i, id := range sent {
		want := fmt.Sprintf("reply %d from %d", i%3, i/3)
		if bodies[id] != want {
			t.Errorf("callback for %s: %q, want %q", id, bodies[id], want)
		}
	}
	// Every user got its delivery receipts from the business.
	for _, u := range users {
		waitFor(t, 5*time.Second, "delivery receipts", func() bool { return len(u.Receipts()) >= 3 })
	}
}

// TestOfflineUserReceivesOnReturn: messages to an offline user wait on the
// server (status sent) and all arrive, in order, when it comes back.
func TestOfflineUserReceivesOnReturn(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	u := newUsers(t, net, 1)[0]
	ctx := context.Background()
	u.SetOnline(false)
	var ids []string
	for k := range 30 {
		id, err := c.Send(ctx, text(u.Phone(), fmt.Sprint("offline ", k)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		waitFor(t, 10*time.Second, "sent", func() bool { return statusOf(t, st, id) == store.StatusSent })
	}
	if n := len(u.Received()); n != 0 {
		t.Fatalf("offline user received %d", n)
	}
	u.SetOnline(true)
	got, err := u.WaitReceived(ctx, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	for k, r := range got {
		if r.ID != ids[k] {
			t.Fatalf("message %d: got %s want %s", k, r.ID, ids[k])
		}
	}
	for _, id := range ids {
		waitFor(t, 10*time.Second, "delivered", func() bool { return statusOf(t, st, id) == store.StatusDelivered })
	}
}

// TestIdentityChangeBlocksUntilAcknowledged: with security notifications
// on, a peer that reinstalled cannot be messaged (1028) until the business
// acknowledges the new identity; a user_identity_changed system message is
// queued for the webhook.
func TestIdentityChangeBlocksUntilAcknowledged(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	ctx := context.Background()
	if _, err := c.UpdateSettings(ctx, func(s *waent.Settings) { s.ShowSecurityNotifications = true }); err != nil {
		t.Fatal(err)
	}
	u := newUsers(t, net, 1)[0]
	if _, err := c.Send(ctx, text(u.Phone(), "before")); err != nil {
		t.Fatal(err)
	}
	if _, err := u.WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := u.Reinstall(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := u.SendText(ctx, "1"+businessNumber, "new phone, who dis")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "message after reinstall", func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
	_, err = c.Send(ctx, text(u.Phone(), "blocked?"))
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != waent.CodeIdentityNotAcked {
		t.Fatalf("send after identity change: %v, want code 1028", err)
	}
	ident, err := c.Identity(ctx, u.Phone())
	if err != nil || ident.Acknowledged {
		t.Fatalf("identity %+v, %v", ident, err)
	}
	cbs, _ := st.PendingCallbacks(ctx, 0, 100)
	var system bool
	for _, cb := range cbs {
		if cb.Kind == waent.KindSystem && strings.Contains(string(cb.Payload), "user_identity_changed") && strings.Contains(string(cb.Payload), ident.Hash) {
			system = true
		}
	}
	if !system {
		t.Fatal("no user_identity_changed system callback")
	}
	if err := c.AcknowledgeIdentity(ctx, u.Phone(), "wrong"); err == nil {
		t.Fatal("acknowledged with a wrong hash")
	}
	if err := c.AcknowledgeIdentity(ctx, u.Phone(), ident.Hash); err != nil {
		t.Fatal(err)
	}
	id, err = c.Send(ctx, text(u.Phone(), "after ack"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery after acknowledgement", func() bool {
		for _, r := range u.Received() {
			if r.ID == id {
				return true
			}
		}
		return false
	})
}

func TestSendErrors(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	ctx := context.Background()
	cases := []struct {
		msg  *content.Outgoing
		code int
	}{
		{text("", "x"), 1008},
		{text("1"+businessNumber, "to myself"), waent.CodeBadUser},
		{text("123", strings.Repeat("x", 4097)), 1001},
		{&content.Outgoing{To: "123", Type: "nonsense"}, 501},
	}
	for _, tc := range cases {
		_, err := c.Send(ctx, tc.msg)
		var we *waent.Error
		if !errors.As(err, &we) || we.Code != tc.code {
			t.Errorf("Send(%+v): %v, want code %d", tc.msg, err, tc.code)
		}
	}
	// A number that is not on WhatsApp is accepted, then fails.
	id, err := c.Send(ctx, text("999000111", "nobody"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "failed status", func() bool { return statusOf(t, st, id) == store.StatusFailed })
}

func TestNotReadyBeforeRegistration(t *testing.T) {
	net := waenttest.New(t)
	c, err := waent.New(testConfig(net, memstore.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = c.Send(context.Background(), text("123", "x"))
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != waent.CodeServiceNotReady || we.HTTPStatus() != 500 {
		t.Fatalf("send before registration: %v", err)
	}
	if h := c.Health(); h != waent.HealthUnregistered {
		t.Fatalf("health %s", h)
	}
}

func TestContacts(t *testing.T) {
	net := waenttest.New(t)
	c := startClient(t, net, memstore.New())
	net.AddContact("16315551001")
	ctx := context.Background()
	res, err := c.CheckContacts(ctx, waent.ContactsRequest{Blocking: "wait", Contacts: []string{"+1 631 555 1001", "6315551001", "+1 631 555 9999", "abc"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []waent.ContactResult{
		{Input: "+1 631 555 1001", Status: store.ContactValid, WAID: "16315551001"},
		{Input: "6315551001", Status: store.ContactValid, WAID: "16315551001"},
		{Input: "+1 631 555 9999", Status: store.ContactInvalid},
		{Input: "abc", Status: store.ContactInvalid},
	}
	for i := range want {
		if res[i] != want[i] {
			t.Errorf("contact %d: %+v, want %+v", i, res[i], want[i])
		}
	}
	// no_wait answers from the cache now.
	res, err = c.CheckContacts(ctx, waent.ContactsRequest{Contacts: []string{"+1 631 555 1001", "+44 1"}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != store.ContactValid || res[1].Status != store.ContactProcessing {
		t.Fatalf("no_wait: %+v", res)
	}
	// A cached "invalid" stays until force_check asks again.
	net.AddContact("16315559999")
	res, _ = c.CheckContacts(ctx, waent.ContactsRequest{Blocking: "wait", Contacts: []string{"+1 631 555 9999"}})
	if res[0].Status != store.ContactInvalid {
		t.Fatalf("cached: %+v", res)
	}
	res, _ = c.CheckContacts(ctx, waent.ContactsRequest{Blocking: "wait", Contacts: []string{"+1 631 555 9999"}, ForceCheck: true})
	if res[0].Status != store.ContactValid || res[0].WAID != "16315559999" {
		t.Fatalf("force_check: %+v", res)
	}
}
