// Package groupcommit batches work submitted concurrently into one call,
// the way databases group commits: while one batch is being committed, new
// submissions accumulate, and the next call takes all of them at once. Under
// load the batch grows by itself and the cost of a commit (an fsync, a
// round trip) is shared; when idle a lone submission goes through at once,
// with no timer adding latency.
package groupcommit

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned for submissions after Close.
var ErrClosed = errors.New("groupcommit: closed")

// Group runs fn over batches of submitted items on one goroutine.
type Group[T any] struct {
	fn  func(ctx context.Context, items []T) error
	max int

	in   chan request[T]
	stop chan struct{}
	done chan struct{}

	mu       sync.RWMutex // held for reading by submitters, for writing by Close
	isClosed bool
}

type request[T any] struct {
	item T
	done func(error)
}

// New starts a Group calling fn with at most max items at a time. fn's
// error goes to every item of the batch.
func New[T any](max int, fn func(ctx context.Context, items []T) error) *Group[T] {
	if max <= 0 {
		max = 1
	}
	g := &Group[T]{fn: fn, max: max, in: make(chan request[T], max), stop: make(chan struct{}), done: make(chan struct{})}
	go g.loop()
	return g
}

// Submit adds item to the next batch and waits until that batch was
// committed, returning its error.
func (g *Group[T]) Submit(ctx context.Context, item T) error {
	res := make(chan error, 1)
	if err := g.SubmitAsync(ctx, item, func(err error) { res <- err }); err != nil {
		return err
	}
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		// The item may still be committed; the caller only stops waiting.
		return ctx.Err()
	}
}

// SubmitAsync adds item to the next batch; done (which may be nil) is
// called from the Group's goroutine with the batch's result. It blocks
// only while the queue is full, which is the back pressure on producers.
func (g *Group[T]) SubmitAsync(ctx context.Context, item T, done func(error)) error {
	// The read lock keeps Close from stopping the loop while a submission
	// is on its way in: an item accepted here is always committed.
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.isClosed {
		return ErrClosed
	}
	select {
	case g.in <- request[T]{item: item, done: done}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *Group[T]) loop() {
	defer close(g.done)
	batch := make([]request[T], 0, g.max)
	items := make([]T, 0, g.max)
	for {
		var first request[T]
		select {
		case first = <-g.in:
		case <-g.stop:
			// Commit what was accepted before Close, then stop.
			for {
				select {
				case r := <-g.in:
					g.run([]request[T]{r}, items[:0])
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < g.max {
			select {
			case r := <-g.in:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.run(batch, items[:0])
	}
}

func (g *Group[T]) run(batch []request[T], items []T) {
	for _, r := range batch {
		items = append(items, r.item)
	}
	err := g.fn(context.Background(), items)
	for _, r := range batch {
		if r.done != nil {
			r.done(err)
		}
	}
}

// Close stops accepting items, commits those already accepted and waits.
func (g *Group[T]) Close() {
	g.mu.Lock()
	if !g.isClosed {
		g.isClosed = true
		close(g.stop)
	}
	g.mu.Unlock()
	<-g.done
}
