package waent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

// TestBacklogBeyondMemory: with more queued messages than the outbox keeps
// in memory, the rest are loaded from the store as memory frees, and none
// that was already acked is loaded (and sent) again.
func TestBacklogBeyondMemory(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	cfg := testConfig(net, st)
	cfg.OutboxMemoryLimit = 100
	c := startClientConfig(t, net, cfg)
	ctx := context.Background()
	users := newUsers(t, net, 4)
	const per = 200
	want := make([][]string, len(users))
	for i := range per {
		for j, u := range users {
			id, err := c.Send(ctx, text(u.Phone(), fmt.Sprint("m", i)))
			if err != nil {
				t.Fatal(err)
			}
			want[j] = append(want[j], id)
		}
	}
	for j, u := range users {
		got, err := u.WaitReceived(ctx, per)
		if err != nil {
			t.Fatal(err)
		}
		for k := range want[j] {
			if got[k].ID != want[j][k] {
				t.Fatalf("user %d message %d: %s, want %s", j, k, got[k].ID, want[j][k])
			}
		}
	}
	waitFor(t, 10*time.Second, "empty outbox", func() bool { n, _ := st.OutboxLen(ctx); return n == 0 })
	for j, u := range users {
		if d := u.Duplicates(); d != 0 || len(u.Received()) != per {
			t.Errorf("user %d: %d messages, %d duplicates", j, len(u.Received()), d)
		}
	}
}

// TestQueuedMessagesHeldAfterIdentityChange: with security notifications
// on, every message to a peer whose new identity is not acknowledged
// fails with 480, not only the one that found the change.
func TestQueuedMessagesHeldAfterIdentityChange(t *testing.T) {
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
	var ids []string
	for i := range 20 {
		id, err := c.Send(ctx, text(u.Phone(), fmt.Sprint("after ", i)))
		if err != nil {
			continue // 1028 once the change is known: fine too
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		waitFor(t, 10*time.Second, "failed "+id, func() bool { return statusOf(t, st, id) == store.StatusFailed })
	}
	if n := len(u.Received()); n != 1 {
		t.Fatalf("the reinstalled phone received %d messages before the change was acknowledged", n-1)
	}
	for _, p := range callbacksOf(t, st, waent.KindStatus) {
		if strings.Contains(p, `"failed"`) && !strings.Contains(p, `"code":480`) {
			t.Fatalf("failed status without 480: %s", p)
		}
	}
	ident, err := c.Identity(ctx, u.Phone())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AcknowledgeIdentity(ctx, u.Phone(), ident.Hash); err != nil {
		t.Fatal(err)
	}
	id, err := c.Send(ctx, text(u.Phone(), "acknowledged"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivered", func() bool { return statusOf(t, st, id) == store.StatusDelivered })
}

// TestBadReceiptIDsDoNotStallStatuses: a phone naming impossible message
// ids in its receipts must not make other messages' status changes (and
// outbox removals) fail with them.
func TestBadReceiptIDsDoNotStallStatuses(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	ctx := context.Background()
	us := newUsers(t, net, 2)
	a, b := us[0], us[1]
	if _, err := b.SendText(ctx, business, "hi"); err != nil {
		t.Fatal(err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		long := strings.Repeat("x", 200)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			b.MarkRead(ctx, business, long, "also-unknown")
		}
	}()
	var ids []string
	for i := range 300 {
		id, err := c.Send(ctx, text(a.Phone(), fmt.Sprint("m", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := a.WaitReceived(ctx, len(ids)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		waitFor(t, 10*time.Second, "delivered", func() bool { return statusOf(t, st, id) == store.StatusDelivered })
	}
	close(stop)
	<-done
	waitFor(t, 10*time.Second, "empty outbox", func() bool { n, _ := st.OutboxLen(ctx); return n == 0 })
}
