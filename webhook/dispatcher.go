package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/waent/waent/store"
)

// maxBody caps a merged body; past it the batch is cut even below MaxBatch
// so one POST stays a size receivers accept.
const maxBody = 1 << 20

// Config configures a Dispatcher.
type Config struct {
	Store store.CallbackStore
	Sink  Sink
	// MaxConcurrent is webhooks.max_concurrent_requests. Default 6.
	MaxConcurrent int
	// BackoffStep is callback_backoff_delay_ms: the retry delay after the
	// n-th failure is n*BackoffStep, capped at BackoffMax
	// (max_callback_backoff_delay_ms). Defaults 3s and 15m.
	BackoffStep time.Duration
	BackoffMax  time.Duration
	// MaxBatch is how many consecutive callbacks of one kind merge into one
	// POST. Default 100; 1 disables merging.
	MaxBatch int
	Now      func() time.Time
	Logger   *slog.Logger

	// storeRetry is the pause after a failed store call; tests shorten it.
	storeRetry time.Duration
}

// Stats is a snapshot of a Dispatcher's counters.
type Stats struct {
	// Queued is the store's queue length when the dispatcher last looked.
	Queued   int
	InFlight int
	// Success and Failure count POSTs; Events counts callbacks delivered.
	Success, Failure, Events uint64
	ByKind                   map[string]KindStats
	// LatencySum over LatencyCount POSTs, failures included.
	LatencySum   time.Duration
	LatencyCount uint64
	// NotConfigured is set while the Sink reports ErrNotConfigured:
	// callbacks wait for a destination (On-Premises code 1022).
	NotConfigured bool
}

// KindStats counts POSTs and delivered callbacks of one kind.
type KindStats struct {
	Success, Failure, Events uint64
}

// Dispatcher delivers the callback queue to a Sink in Seq order: merged
// into batches, up to MaxConcurrent POSTs at once, and with head-of-line
// blocking after a failure. A callback leaves the store only after its POST
// succeeded, so a crash redelivers (at least once).
type Dispatcher struct {
	cfg  Config
	log  *slog.Logger
	kick chan struct{}

	startOnce sync.Once
	closeOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
	started   bool

	mu    sync.Mutex
	stats Stats

	// Owned by the run goroutine.
	queue    []store.Callback // read, not in flight, by Seq
	held     map[int64]struct{}
	unacked  []int64
	cursor   int64
	inflight int
	inCbs    int
	probing  bool
	// pausedUntil holds deliveries while the Sink has no destination.
	pausedUntil time.Time
}

type batch struct {
	cbs   []store.Callback
	kind  string
	body  []byte
	probe bool
}

type result struct {
	b   *batch
	err error
	dur time.Duration
}

// New checks cfg and applies defaults. Call Start to begin delivering.
func New(cfg Config) (*Dispatcher, error) {
	if cfg.Store == nil || cfg.Sink == nil {
		return nil, errors.New("webhook: Config needs Store and Sink")
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 6
	}
	if cfg.BackoffStep <= 0 {
		cfg.BackoffStep = 3 * time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 15 * time.Minute
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.storeRetry <= 0 {
		cfg.storeRetry = time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{
		cfg:   cfg,
		log:   log,
		kick:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		held:  map[int64]struct{}{},
		stats: Stats{ByKind: map[string]KindStats{}},
	}, nil
}

// Start begins delivery on a goroutine owned by d; later calls do nothing.
func (d *Dispatcher) Start() {
	d.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		d.mu.Lock()
		d.cancel = cancel
		d.started = true
		d.mu.Unlock()
		go d.run(ctx)
	})
}

// Close stops delivery, aborting POSTs in flight (they stay queued and are
// delivered again later), and waits for every goroutine of d.
func (d *Dispatcher) Close() error {
	d.closeOnce.Do(func() {
		d.startOnce.Do(func() {}) // a Start after Close does nothing
		d.mu.Lock()
		started, cancel := d.started, d.cancel
		d.mu.Unlock()
		if started {
			cancel()
			<-d.done
		}
	})
	return nil
}

// Kick wakes the dispatcher after callbacks were enqueued. Without it new
// callbacks are still found by a periodic poll.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// QueueLen is the number of callbacks not yet delivered, for producers that
// apply backpressure.
func (d *Dispatcher) QueueLen(ctx context.Context) (int, error) {
	n, err := d.cfg.Store.CallbackQueueLen(ctx)
	if err != nil {
		return 0, fmt.Errorf("webhook: queue length: %w", err)
	}
	return n, nil
}

// Stats returns a copy of the counters.
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.ByKind = make(map[string]KindStats, len(d.stats.ByKind))
	for k, v := range d.stats.ByKind {
		s.ByKind[k] = v
	}
	return s
}

// backoff is the delay after the n-th consecutive failure: linear, capped.
func backoff(step, limit time.Duration, n int) time.Duration {
	if n <= 0 {
		return 0
	}
	if limit/step < time.Duration(n) {
		return limit
	}
	return step * time.Duration(n)
}

const (
	pollEvery   = 2 * time.Second
	rescanEvery = 30 * time.Second
)

func (d *Dispatcher) bufCap() int {
	return max(1024, 2*d.cfg.MaxBatch*d.cfg.MaxConcurrent)
}

func (d *Dispatcher) run(ctx context.Context) {
	defer close(d.done)
	results := make(chan result, d.cfg.MaxConcurrent)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	more := true
	var retryStoreAt time.Time
	lastRescan := d.cfg.Now()
	for {
		now := d.cfg.Now()
		wake := now.Add(pollEvery)

		if len(d.unacked) > 0 && !now.Before(retryStoreAt) {
			if err := d.ack(ctx, d.unacked); err != nil {
				retryStoreAt = now.Add(d.cfg.storeRetry)
			} else {
				d.unacked = nil
			}
		}
		if more && len(d.queue)+d.inCbs < d.bufCap()/2 && !now.Before(retryStoreAt) {
			full := now.Sub(lastRescan) >= rescanEvery
			if full {
				lastRescan = now
			}
			m, err := d.fill(ctx, full)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("webhook: reading the callback queue", "err", err)
				}
				retryStoreAt = now.Add(d.cfg.storeRetry)
			} else {
				more = m
			}
		}
		if !retryStoreAt.IsZero() && retryStoreAt.After(now) && retryStoreAt.Before(wake) {
			wake = retryStoreAt
		}

		if now.Before(d.pausedUntil) && d.pausedUntil.Before(wake) {
			wake = d.pausedUntil
		}
		for ctx.Err() == nil && d.inflight < d.cfg.MaxConcurrent && len(d.queue) > 0 && !d.probing && !now.Before(d.pausedUntil) {
			if due := d.queue[0].NextAttemptAt; due.After(now) {
				if due.Before(wake) {
					wake = due
				}
				break
			}
			b := d.take(now)
			d.inflight++
			d.inCbs += len(b.cbs)
			if b.probe {
				d.probing = true
			}
			d.setInFlight()
			go func() {
				t0 := time.Now()
				err := d.cfg.Sink.Deliver(ctx, b.body)
				results <- result{b: b, err: err, dur: time.Since(t0)}
			}()
		}

		timer.Reset(max(wake.Sub(now), 0))
		select {
		case <-ctx.Done():
			d.drain(results)
			return
		case <-d.kick:
			more = true
			d.pausedUntil = time.Time{}
		case r := <-results:
			if err := d.finish(ctx, r); err != nil {
				retryStoreAt = d.cfg.Now().Add(d.cfg.storeRetry)
			}
		case <-timer.C:
			more = true
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// drain waits for the POSTs in flight at shutdown, acking those that
// succeeded so they are not delivered twice.
func (d *Dispatcher) drain(results chan result) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for d.inflight > 0 {
		r := <-results
		d.inflight--
		d.inCbs -= len(r.b.cbs)
		d.count(r)
		if r.err == nil {
			_ = d.ack(ctx, seqs(r.b.cbs))
		}
	}
	if len(d.unacked) > 0 {
		_ = d.ack(ctx, d.unacked)
	}
	d.setInFlight()
}

func seqs(cbs []store.Callback) []int64 {
	out := make([]int64, len(cbs))
	for i, c := range cbs {
		out[i] = c.Seq
	}
	return out
}

func (d *Dispatcher) ack(ctx context.Context, s []int64) error {
	n, err := d.cfg.Store.AckCallbacks(ctx, s)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhook: acking delivered callbacks", "err", err, "n", len(s))
		}
		return fmt.Errorf("webhook: ack: %w", err)
	}
	for _, q := range s {
		delete(d.held, q)
	}
	d.mu.Lock()
	d.stats.Queued = max(0, d.stats.Queued-n)
	d.mu.Unlock()
	return nil
}

// finish records a POST's outcome; a non-nil error is a store failure
// that the caller paces.
func (d *Dispatcher) finish(ctx context.Context, r result) error {
	d.inflight--
	d.inCbs -= len(r.b.cbs)
	if r.b.probe {
		d.probing = false
	}
	if errors.Is(r.err, ErrNotConfigured) {
		// Nowhere to deliver: not a failed attempt. Hold the queue as it
		// is until a Kick or the next poll.
		d.setNotConfigured(true)
		d.pausedUntil = d.cfg.Now().Add(pollEvery)
		d.setInFlight()
		d.queue = append(r.b.cbs, d.queue...)
		slices.SortFunc(d.queue, func(a, b store.Callback) int { return cmpSeq(a.Seq, b.Seq) })
		return nil
	}
	d.setNotConfigured(false)
	d.count(r)
	d.setInFlight()
	if r.err == nil {
		s := seqs(r.b.cbs)
		if err := d.ack(ctx, s); err != nil {
			// Delivered but still stored: keep them held so this run does
			// not send them again, and retry the ack.
			d.unacked = append(d.unacked, s...)
			return err
		}
		return nil
	}
	d.log.Info("webhook: delivery failed", "err", r.err, "kind", r.b.kind, "n", len(r.b.cbs))
	attempts := 0
	for _, c := range r.b.cbs {
		attempts = max(attempts, c.Attempts)
	}
	attempts++
	next := d.cfg.Now().Add(backoff(d.cfg.BackoffStep, d.cfg.BackoffMax, attempts))
	var serr error
	for i := range r.b.cbs {
		c := &r.b.cbs[i]
		c.Attempts, c.NextAttemptAt = attempts, next
		if err := d.cfg.Store.RescheduleCallback(ctx, c.Seq, attempts, next); err != nil && serr == nil {
			serr = fmt.Errorf("webhook: reschedule: %w", err)
			if ctx.Err() == nil {
				d.log.Warn("webhook: recording a failed delivery", "err", err)
			}
		}
	}
	// Back at the head: the queue is blocked until they go through.
	d.queue = append(r.b.cbs, d.queue...)
	slices.SortFunc(d.queue, func(a, b store.Callback) int { return cmpSeq(a.Seq, b.Seq) })
	return serr
}

func cmpSeq(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (d *Dispatcher) count(r result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.stats.ByKind[r.b.kind]
	if r.err == nil {
		d.stats.Success++
		d.stats.Events += uint64(len(r.b.cbs))
		k.Success++
		k.Events += uint64(len(r.b.cbs))
	} else {
		d.stats.Failure++
		k.Failure++
	}
	d.stats.ByKind[r.b.kind] = k
	d.stats.LatencySum += r.dur
	d.stats.LatencyCount++
}

func (d *Dispatcher) setNotConfigured(v bool) {
	d.mu.Lock()
	d.stats.NotConfigured = v
	d.mu.Unlock()
}

func (d *Dispatcher) setInFlight() {
	d.mu.Lock()
	d.stats.InFlight = d.inflight
	d.mu.Unlock()
}

// take removes the next batch from the head of the queue: consecutive
// callbacks of the head's kind that are due, up to MaxBatch and maxBody. A
// head that failed before makes the batch a probe, and nothing else starts
// until a probe succeeds.
func (d *Dispatcher) take(now time.Time) *batch {
	head := d.queue[0]
	b := &batch{kind: head.Kind, probe: head.Attempts > 0}
	var m merger
	if m.add(head.Payload) != nil {
		b.cbs, b.body = d.queue[:1:1], head.Payload
		d.queue = d.queue[1:]
		return b
	}
	n, size := 1, len(head.Payload)
	for n < len(d.queue) && n < d.cfg.MaxBatch {
		c := d.queue[n]
		if c.Kind != head.Kind || c.NextAttemptAt.After(now) || size+len(c.Payload) > maxBody {
			break
		}
		if m.add(c.Payload) != nil {
			break
		}
		size += len(c.Payload)
		n++
	}
	b.cbs = slices.Clone(d.queue[:n])
	d.queue = d.queue[n:]
	if n == 1 {
		b.body = head.Payload
	} else {
		b.body = m.bytes()
	}
	return b
}

// fill reads callbacks the dispatcher does not hold yet. It pages on from
// the highest Seq seen, or from 0 when idle or on a full rescan, so a
// callback that became visible late (a concurrent writer's lower Seq) is
// still found. It reports whether the store may hold more.
func (d *Dispatcher) fill(ctx context.Context, full bool) (bool, error) {
	after := d.cursor
	if full || (len(d.queue) == 0 && d.inflight == 0) {
		after = 0
	}
	want := d.bufCap() - len(d.queue) - d.inCbs
	sorted := true
	more := true
	for want > 0 {
		page, err := d.cfg.Store.PendingCallbacks(ctx, after, d.bufCap())
		if err != nil {
			return true, fmt.Errorf("webhook: pending callbacks: %w", err)
		}
		for _, c := range page {
			after = c.Seq
			if _, ok := d.held[c.Seq]; ok {
				continue
			}
			if n := len(d.queue); n > 0 && d.queue[n-1].Seq > c.Seq {
				sorted = false
			}
			d.held[c.Seq] = struct{}{}
			d.queue = append(d.queue, c)
			d.cursor = max(d.cursor, c.Seq)
			want--
		}
		if len(page) < d.bufCap() {
			more = false
			break
		}
	}
	if !sorted {
		slices.SortFunc(d.queue, func(a, b store.Callback) int { return cmpSeq(a.Seq, b.Seq) })
	}
	if n, err := d.cfg.Store.CallbackQueueLen(ctx); err == nil {
		d.mu.Lock()
		d.stats.Queued = n
		d.mu.Unlock()
	}
	return more, nil
}
