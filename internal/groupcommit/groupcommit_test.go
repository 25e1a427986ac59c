package groupcommit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func TestBatchesConcurrentSubmissions(t *testing.T) {
	var calls, total atomic.Int64
	release, holding := make(chan struct{}), make(chan struct{})
	first := true
	g := New(64, func(ctx context.Context, items []int) error {
		if first {
			first = false
			close(holding)
			<-release // hold the first commit so the rest pile up
		}
		calls.Add(1)
		total.Add(int64(len(items)))
		return nil
	})
	defer g.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); g.Submit(context.Background(), 0) }()
	<-holding
	const n = 50
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); g.Submit(context.Background(), i) }()
	}
	for len(g.in) < n {
		runtime.Gosched() // until every submission is queued behind the held commit
	}
	close(release)
	wg.Wait()
	if total.Load() != n+1 {
		t.Fatalf("committed %d items, want %d", total.Load(), n+1)
	}
	if calls.Load() > 3 {
		t.Fatalf("%d commits for %d queued items; want them grouped", calls.Load(), n)
	}
}

func TestErrorReachesEveryItemOfTheBatch(t *testing.T) {
	boom := errors.New("boom")
	g := New(8, func(ctx context.Context, items []string) error { return boom })
	defer g.Close()
	if err := g.Submit(context.Background(), "x"); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func TestCloseCommitsAcceptedThenRefuses(t *testing.T) {
	var got atomic.Int64
	g := New(4, func(ctx context.Context, items []int) error { got.Add(int64(len(items))); return nil })
	done := make(chan error, 1)
	if err := g.SubmitAsync(context.Background(), 1, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := <-done; err != nil || got.Load() != 1 {
		t.Fatalf("accepted item: err %v, committed %d", err, got.Load())
	}
	if err := g.Submit(context.Background(), 2); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
