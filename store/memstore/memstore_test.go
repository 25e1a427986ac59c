package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func msg(id string) store.Message {
	return store.Message{
		ID: id, Direction: store.Outbound, Peer: "15550001111", Type: "text",
		Payload: []byte(`{"body":"hi"}`), Status: store.StatusPending, CreatedAt: t0,
	}
}

func mustAdd(t *testing.T, s store.Store, ids ...string) {
	t.Helper()
	var msgs []store.Message
	for _, id := range ids {
		msgs = append(msgs, msg(id))
	}
	if _, err := s.AddMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

var errBoom = errors.New("boom")

// A failed transaction restores a replaced record, brings back a deleted one,
// removes a created one and restores queue rows, all from the undo log.
func TestRollbackRestoresState(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	v1, err := s.PutSettings(ctx, "application", []byte(`{"v":1}`), 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	mustAdd(t, s, "m1", "m2")
	if err := s.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: "m1", Recipient: "r"}}); err != nil {
		t.Fatal(err)
	}

	err = s.InTx(ctx, func(tx store.Store) error {
		if _, err := tx.PutSettings(ctx, "application", []byte(`{"v":2}`), 1, t0.Add(time.Second)); err != nil {
			return err
		}
		if n, err := tx.DeleteMessages(ctx, []string{"m2"}); err != nil || n != 1 {
			return fmt.Errorf("delete: %d %v", n, err)
		}
		if _, err := tx.ApplyStatuses(ctx, []store.StatusEvent{{MessageID: "m1", Status: store.StatusSent, At: t0.Add(time.Second)}}); err != nil {
			return err
		}
		mustAdd(t, tx, "m3")
		if n, err := tx.DeleteOutbox(ctx, []string{"m1"}); err != nil || n != 1 {
			return fmt.Errorf("delete outbox: %d %v", n, err)
		}
		if err := tx.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: "m3", Recipient: "r"}}); err != nil {
			return err
		}
		// The transaction sees its own writes.
		if d, err := tx.GetSettings(ctx, "application"); err != nil || d.Version != 2 {
			return fmt.Errorf("in tx: %+v %v", d, err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v, want errBoom", err)
	}

	d, err := s.GetSettings(ctx, "application")
	if err != nil || d.Version != v1.Version || string(d.Value) != `{"v":1}` || !d.UpdatedAt.Equal(t0) {
		t.Errorf("settings after rollback = %+v, %v; want version 1", d, err)
	}
	if _, err := s.GetMessage(ctx, "m2"); err != nil {
		t.Errorf("deleted message not restored: %v", err)
	}
	if h, err := s.StatusHistory(ctx, "m2"); err != nil || len(h) != 1 {
		t.Errorf("history of m2 after rollback = %v, %v", h, err)
	}
	if m, err := s.GetMessage(ctx, "m1"); err != nil || m.Status != store.StatusPending || !m.UpdatedAt.Equal(t0) {
		t.Errorf("m1 after rollback = %+v, %v", m, err)
	}
	if h, err := s.StatusHistory(ctx, "m1"); err != nil || len(h) != 1 {
		t.Errorf("history of m1 after rollback = %v, %v", h, err)
	}
	if _, err := s.GetMessage(ctx, "m3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("created message survived rollback: %v", err)
	}
	due, err := s.DueOutbox(ctx, t0, 10)
	if err != nil || len(due) != 1 || due[0].MessageID != "m1" || due[0].Seq != 1 {
		t.Errorf("outbox after rollback = %+v, %v", due, err)
	}

	// Seq values consumed by the rolled-back transaction are not reused,
	// but they keep increasing.
	if err := s.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: "m2", Recipient: "r"}}); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueOutbox(ctx, t0, 10)
	if len(due) != 2 || due[1].Seq <= due[0].Seq {
		t.Errorf("outbox after new enqueue = %+v", due)
	}
}

// A panic inside fn restores the state, unlocks the store and carries on.
func TestPanicRollsBackAndRepanics(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	if err := s.PutSenderKey(ctx, "g", "a:1", []byte("old")); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v, want kaboom", r)
			}
		}()
		_ = s.InTx(ctx, func(tx store.Store) error {
			if err := tx.PutSenderKey(ctx, "g", "a:1", []byte("new")); err != nil {
				return err
			}
			if err := tx.PutSenderKey(ctx, "g", "b:1", []byte("b")); err != nil {
				return err
			}
			panic("kaboom")
		})
		t.Error("InTx returned instead of panicking")
	}()
	// The mutex was released: this would deadlock otherwise.
	rec, err := s.GetSenderKey(ctx, "g", "a:1")
	if err != nil || string(rec) != "old" {
		t.Errorf("sender key after panic = %q, %v; want old", rec, err)
	}
	if _, err := s.GetSenderKey(ctx, "g", "b:1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("sender key created in panicking tx: %v", err)
	}
}

// runtime.Goexit (what t.FailNow does) inside fn also rolls back and unlocks.
func TestGoexitRollsBack(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.InTx(ctx, func(tx store.Store) error {
			mustAdd(t, tx, "m1")
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	if _, err := s.GetMessage(ctx, "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("message written before Goexit survived: %v", err)
	}
}

// InTx on the transaction joins it: no savepoint, the outermost fn decides.
func TestNestedInTx(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	err := s.InTx(ctx, func(tx store.Store) error {
		mustAdd(t, tx, "outer")
		return tx.InTx(ctx, func(inner store.Store) error {
			if inner != tx {
				t.Error("nested InTx did not join the transaction")
			}
			mustAdd(t, inner, "inner")
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.InTx(ctx, func(tx store.Store) error {
		mustAdd(t, tx, "outer2")
		if err := tx.InTx(ctx, func(inner store.Store) error {
			mustAdd(t, inner, "inner2")
			return errBoom
		}); !errors.Is(err, errBoom) {
			t.Errorf("inner InTx = %v, want errBoom", err)
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("outer InTx = %v, want errBoom", err)
	}
	for id, want := range map[string]bool{"outer": true, "inner": true, "outer2": false, "inner2": false} {
		_, err := s.GetMessage(ctx, id)
		if got := err == nil; got != want {
			t.Errorf("message %s stored = %v, want %v (%v)", id, got, want, err)
		}
	}
}

func TestTxUnusableAfterReturn(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	var leaked store.Store
	if err := s.InTx(ctx, func(tx store.Store) error { leaked = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := leaked.OutboxLen(ctx); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("use after InTx = %v, want ErrInvalid", err)
	}
}

func TestContextCancelled(t *testing.T) {
	s := memstore.New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.OutboxLen(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("OutboxLen = %v, want context.Canceled", err)
	}
	if err := s.InTx(ctx, func(store.Store) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("InTx = %v, want context.Canceled", err)
	}

	// A context cancelled during fn prevents the commit, as database/sql does.
	ctx, cancel = context.WithCancel(context.Background())
	err := s.InTx(ctx, func(tx store.Store) error {
		mustAdd(t, tx, "m1")
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("InTx = %v, want context.Canceled", err)
	}
	if _, err := s.GetMessage(context.Background(), "m1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("write of a cancelled transaction kept: %v", err)
	}
}

// Byte slices are copied in and out: neither the caller's input nor a value
// returned to it aliases the stored record.
func TestBytesAreCopied(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	rec := []byte("record")
	addr := store.Address{Name: "15550001111", DeviceID: 0}
	if err := s.PutSessions(ctx, []store.Session{{Address: addr, Record: rec}}); err != nil {
		t.Fatal(err)
	}
	rec[0] = 'X'
	got, _ := s.GetSession(ctx, addr)
	got[1] = 'Y'
	again, _ := s.GetSession(ctx, addr)
	if !bytes.Equal(again, []byte("record")) {
		t.Errorf("stored record = %q, want record", again)
	}

	// nil stays nil.
	m := msg("m1")
	m.Payload = nil
	if _, err := s.AddMessages(ctx, []store.Message{m}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetMessage(ctx, "m1"); got.Payload != nil {
		t.Errorf("nil payload came back as %#v", got.Payload)
	}
}

// Hammer the store from many goroutines, with and without transactions, for
// the race detector; the final state must account for every committed write.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	const workers, per = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id := fmt.Sprintf("w%d-%d", w, i)
				err := s.InTx(ctx, func(tx store.Store) error {
					if _, err := tx.AddMessages(ctx, []store.Message{msg(id)}); err != nil {
						return err
					}
					if err := tx.EnqueueCallbacks(ctx, []store.Callback{{Kind: "status_change", Payload: []byte("{}")}}); err != nil {
						return err
					}
					if i%2 == 1 {
						return errBoom // every other transaction rolls back
					}
					return nil
				})
				if err != nil && !errors.Is(err, errBoom) {
					t.Error(err)
				}
				if _, err := s.ApplyStatuses(ctx, []store.StatusEvent{{MessageID: id, Status: store.StatusSent, At: t0}}); err != nil {
					t.Error(err)
				}
				if _, err := s.PendingCallbacks(ctx, 0, 10); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n, _ := s.CallbackQueueLen(ctx); n != workers*per/2 {
		t.Errorf("callback queue holds %d, want %d", n, workers*per/2)
	}
	n, err := s.PruneMessages(ctx, store.PruneQuery{Direction: store.Outbound, Statuses: []store.Status{store.StatusSent}, UpdatedBefore: t0.Add(time.Second), Limit: 1 << 20})
	if err != nil || n != workers*per/2 {
		t.Errorf("pruned %d sent messages (%v), want %d", n, err, workers*per/2)
	}
}
