package waent

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

func cb(payload string) store.Callback {
	return store.Callback{Kind: KindStatus, Payload: []byte(payload), NextAttemptAt: time.Unix(1, 0), CreatedAt: time.Unix(1, 0)}
}

func queued(t *testing.T, q store.CallbackStore) []string {
	t.Helper()
	cbs, err := q.PendingCallbacks(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cbs {
		out = append(out, string(c.Payload))
	}
	return out
}

func TestVolatileCallbackQueue(t *testing.T) {
	ctx := context.Background()
	db := memstore.New()
	q := newCallbackQueue(db)

	// Persistent mode: callbacks go to the configured store.
	if err := q.EnqueueCallbacks(ctx, []store.Callback{cb(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, db); len(got) != 1 {
		t.Fatalf("database queue %v", got)
	}

	// Switching moves the backlog to memory.
	if err := q.goVolatile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, db); len(got) != 0 {
		t.Fatalf("database queue after switching: %v", got)
	}
	if got := queued(t, q); len(got) != 1 || got[0] != `{"a":1}` {
		t.Fatalf("memory queue after switching: %v", got)
	}

	// A rolled-back transaction queues nothing; its other writes are
	// undone as usual.
	boom := errors.New("boom")
	err := q.InTx(ctx, func(tx store.Store) error {
		if err := tx.EnqueueCallbacks(ctx, []store.Callback{cb(`{"b":1}`)}); err != nil {
			return err
		}
		if n, _ := tx.CallbackQueueLen(ctx); n != 1 {
			t.Errorf("queue length inside the transaction %d, want the committed 1", n)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// A committed one queues its callbacks after the commit, in order,
	// and a nested InTx joins it.
	err = q.InTx(ctx, func(tx store.Store) error {
		if err := tx.EnqueueCallbacks(ctx, []store.Callback{cb(`{"c":1}`)}); err != nil {
			return err
		}
		return tx.InTx(ctx, func(tx store.Store) error {
			return tx.EnqueueCallbacks(ctx, []store.Callback{cb(`{"d":1}`)})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := queued(t, q); len(got) != 3 || got[1] != `{"c":1}` || got[2] != `{"d":1}` {
		t.Fatalf("memory queue %v", got)
	}
	if got := queued(t, db); len(got) != 0 {
		t.Fatalf("database queue %v", got)
	}
	// Invalid callbacks fail inside the transaction, as the stores do.
	err = q.InTx(ctx, func(tx store.Store) error {
		return tx.EnqueueCallbacks(ctx, []store.Callback{{Kind: KindStatus}})
	})
	if !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("empty payload: %v", err)
	}
}
