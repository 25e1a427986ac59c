package waent

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// callbackQueue is the Store the Client works on: the configured Store,
// except that with callback_persist off the webhook queue lives in memory
// (On-Premises' faster, crash-unsafe mode). Producers enqueue callbacks
// inside their store transactions either way; in memory mode those are
// buffered per transaction and join the queue only when it commits, so a
// rolled-back transaction still produces no callback. The mode is fixed at
// Start, as On-Premises fixes it at coreapp start.
type callbackQueue struct {
	store.Store
	volatile atomic.Bool
	mem      *memstore.Store // only its callback queue is used
}

func newCallbackQueue(st store.Store) *callbackQueue {
	return &callbackQueue{Store: st, mem: memstore.New()}
}

// queue is where callbacks are kept in the current mode.
func (q *callbackQueue) queue() store.CallbackStore {
	if q.volatile.Load() {
		return q.mem
	}
	return q.Store
}

func (q *callbackQueue) EnqueueCallbacks(ctx context.Context, cbs []store.Callback) error {
	return q.queue().EnqueueCallbacks(ctx, cbs)
}

func (q *callbackQueue) PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]store.Callback, error) {
	return q.queue().PendingCallbacks(ctx, afterSeq, limit)
}

func (q *callbackQueue) RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error {
	return q.queue().RescheduleCallback(ctx, seq, attempts, next)
}

func (q *callbackQueue) AckCallbacks(ctx context.Context, seqs []int64) (int, error) {
	return q.queue().AckCallbacks(ctx, seqs)
}

func (q *callbackQueue) CallbackQueueLen(ctx context.Context) (int, error) {
	return q.queue().CallbackQueueLen(ctx)
}

// InTx runs fn in a transaction of the configured Store; in memory mode
// the callbacks fn enqueues are queued once the transaction committed.
func (q *callbackQueue) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	if !q.volatile.Load() {
		return q.Store.InTx(ctx, fn)
	}
	var buf []store.Callback
	err := q.Store.InTx(ctx, func(tx store.Store) error {
		buf = buf[:0] // fn may run again after a transient abort
		return fn(&volatileTx{Store: tx, q: q, buf: &buf})
	})
	if err != nil || len(buf) == 0 {
		return err
	}
	// Committed: the callbacks must follow even if the caller gives up.
	return q.mem.EnqueueCallbacks(context.WithoutCancel(ctx), buf)
}

// goVolatile switches to the in-memory queue, moving what the database
// still holds into it (delivered from memory from now on: the operator
// chose speed over crash safety for callbacks).
func (q *callbackQueue) goVolatile(ctx context.Context) error {
	for {
		cbs, err := q.Store.PendingCallbacks(ctx, 0, 1000)
		if err != nil || len(cbs) == 0 {
			if err == nil {
				q.volatile.Store(true)
			}
			return err
		}
		seqs := make([]int64, len(cbs))
		for i, cb := range cbs {
			seqs[i] = cb.Seq
		}
		if err := q.mem.EnqueueCallbacks(ctx, cbs); err != nil {
			return err
		}
		if _, err := q.Store.AckCallbacks(ctx, seqs); err != nil {
			return err
		}
	}
}

// volatileTx is a transaction whose callbacks wait for its commit.
type volatileTx struct {
	store.Store
	q   *callbackQueue
	buf *[]store.Callback
}

func (t *volatileTx) EnqueueCallbacks(ctx context.Context, cbs []store.Callback) error {
	for _, cb := range cbs {
		if err := cb.Validate(); err != nil {
			return err
		}
	}
	*t.buf = append(*t.buf, cbs...)
	return nil
}

func (t *volatileTx) PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]store.Callback, error) {
	return t.q.mem.PendingCallbacks(ctx, afterSeq, limit)
}

func (t *volatileTx) RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error {
	return t.q.mem.RescheduleCallback(ctx, seq, attempts, next)
}

func (t *volatileTx) AckCallbacks(ctx context.Context, seqs []int64) (int, error) {
	return t.q.mem.AckCallbacks(ctx, seqs)
}

func (t *volatileTx) CallbackQueueLen(ctx context.Context) (int, error) {
	return t.q.mem.CallbackQueueLen(ctx)
}

// InTx joins the transaction, as the stores do.
func (t *volatileTx) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	return fn(t)
}
