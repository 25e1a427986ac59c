package waent_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/webhook"
)

// statsClient is an unregistered Client over memstore whose callbacks go
// to sink; queued callbacks are in the store before Start.
func statsClient(t *testing.T, sink webhook.FuncSink, queued ...store.Callback) (*waent.Client, store.Store) {
	t.Helper()
	st := memstore.New()
	if len(queued) > 0 {
		if err := st.EnqueueCallbacks(context.Background(), queued); err != nil {
			t.Fatal(err)
		}
	}
	c, err := waent.New(waent.Config{Store: st, Webhook: sink, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, st
}

func callback(kind string) store.Callback {
	now := time.Now()
	return store.Callback{Kind: kind, Payload: []byte(`{"messages":[]}`), NextAttemptAt: now, CreatedAt: now}
}

// waitStats polls Stats until ok or fails the test after a few seconds.
func waitStats(t *testing.T, c *waent.Client, ok func(waent.Stats) bool) waent.Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := c.Stats()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStatsLifecycle: a Client is uninitialised before Start, unregistered
// after, stopped after Close; DBStats sees the store's rows.
func TestStatsLifecycle(t *testing.T) {
	ctx := context.Background()
	c, st := statsClient(t, func(context.Context, []byte) error { return nil })
	s := c.Stats()
	if s.Initialized || s.Ready || s.WAID != "" {
		t.Fatalf("before Start: %+v", s)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s = c.Stats()
	if !s.Initialized || s.Health != waent.HealthUnregistered || s.Ready {
		t.Fatalf("after Start: %+v", s)
	}
	if s.RegistrationID == 0 || s.IdentityCreatedAt.IsZero() {
		t.Fatalf("account identity missing: %+v", s)
	}
	acct, err := st.GetAccount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.RegistrationID != acct.RegistrationID {
		t.Fatalf("registration id %d, store has %d", s.RegistrationID, acct.RegistrationID)
	}
	d, err := c.DBStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.Backend != "" || d.PendingCallbacks != 0 || d.PendingMessages != 0 || d.Took <= 0 {
		t.Fatalf("db stats of an empty memstore: %+v", d)
	}
	c.Close()
	if h := c.Stats().Health; h != waent.HealthStopped {
		t.Fatalf("after Close: health %q", h)
	}
}

// TestStatsCallbacksDelivered: delivered callbacks are counted by kind
// and POST, with latency, and leave the store.
func TestStatsCallbacksDelivered(t *testing.T) {
	ctx := context.Background()
	c, _ := statsClient(t, func(context.Context, []byte) error {
		time.Sleep(2 * time.Millisecond)
		return nil
	}, callback(waent.KindInbound), callback(waent.KindInbound), callback(waent.KindStatus), callback(waent.KindSystem))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, c, func(s waent.Stats) bool { return s.Callbacks.Events == 4 })
	cb := s.Callbacks
	if got := cb.ByKind[waent.KindInbound].Events; got != 2 {
		t.Errorf("inbound events %d, want 2", got)
	}
	for _, k := range []string{waent.KindStatus, waent.KindSystem} {
		if got := cb.ByKind[k]; got.Events != 1 || got.Success != 1 || got.Failure != 0 {
			t.Errorf("%s: %+v, want one POST of one event", k, got)
		}
	}
	if cb.Failure != 0 || cb.Success < 3 || cb.LatencyCount != cb.Success || cb.LatencySum < time.Duration(cb.Success)*2*time.Millisecond {
		t.Errorf("POST counters: %+v", cb)
	}
	if cb.Queued != 0 {
		t.Errorf("queue size %d after delivery", cb.Queued)
	}
	d, err := c.DBStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.PendingCallbacks != 0 {
		t.Errorf("store still holds %d callbacks", d.PendingCallbacks)
	}
}

// TestStatsCallbacksFailing: a refusing webhook counts failures and the
// callback stays queued, in memory and in the store.
func TestStatsCallbacksFailing(t *testing.T) {
	ctx := context.Background()
	c, _ := statsClient(t, func(context.Context, []byte) error { return errors.New("refused") }, callback(waent.KindInbound))
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s := waitStats(t, c, func(s waent.Stats) bool { return s.Callbacks.Failure >= 1 })
	if k := s.Callbacks.ByKind[waent.KindInbound]; k.Failure < 1 || k.Success != 0 || k.Events != 0 {
		t.Errorf("inbound counters %+v", k)
	}
	if s.Callbacks.Queued != 1 {
		t.Errorf("queue size %d, want 1", s.Callbacks.Queued)
	}
	d, err := c.DBStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.PendingCallbacks != 1 {
		t.Errorf("store holds %d callbacks, want 1", d.PendingCallbacks)
	}
}

// The database kind comes from the configured store, not the Client's
// wrapper around it.
func TestDBStatsBackend(t *testing.T) {
	st := sqltest.Open(t, sqlstore.SQLite)
	c, err := waent.New(waent.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.DBStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Backend != "sqlite" {
		t.Fatalf("backend %q, want sqlite", d.Backend)
	}
}
