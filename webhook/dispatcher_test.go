package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// A receiver that fails for a while gets everything once it recovers, in
// order and exactly once per accepted POST, with linear backoff recorded.
func TestRetryThenDeliverInOrder(t *testing.T) {
	var rec recorder
	var calls atomic.Int32
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) <= 4 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		rec.add(t, body)
	}))
	st := &spyStore{Store: memstore.New()}
	want := enqueueStatuses(t, st, 0, 25)
	d := startDispatcher(t, Config{Store: st, Sink: httpsSink(t, srv.URL, ca, nil), MaxConcurrent: 1, MaxBatch: 4})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })

	got, _ := rec.snapshot()
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
	s := d.Stats()
	if s.Failure != 4 || s.Events != 25 || s.ByKind["status_change"].Events != 25 || s.ByKind["status_change"].Failure != 4 {
		t.Errorf("stats %+v", s)
	}
	if s.LatencyCount != s.Success+s.Failure || s.LatencySum <= 0 {
		t.Errorf("latency %v over %d, want one sample per POST", s.LatencySum, s.LatencyCount)
	}
	// The head batch (seqs 1..4) failed four times: attempts 1,2,3,4.
	st.mu.Lock()
	defer st.mu.Unlock()
	var attempts []int
	for _, r := range st.reschedules {
		if r.seq == 1 {
			attempts = append(attempts, r.attempts)
		}
	}
	if !slices.Equal(attempts, []int{1, 2, 3, 4}) {
		t.Errorf("head attempts %v, want 1..4", attempts)
	}
}

func TestBackoffLinearAndCapped(t *testing.T) {
	step, limit := 3*time.Second, 15*time.Minute
	for n, want := range map[int]time.Duration{0: 0, 1: 3 * time.Second, 2: 6 * time.Second, 3: 9 * time.Second, 300: limit, 301: limit, 1 << 40: limit} {
		if got := backoff(step, limit, n); got != want {
			t.Errorf("backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

// Each failure is rescheduled n*step after it happened, capped.
func TestRescheduleDelay(t *testing.T) {
	clock := &jumpClock{t: time.Unix(1_700_000_000, 0)}
	var fails atomic.Int32
	sink := FuncSink(func(ctx context.Context, body []byte) error {
		if fails.Add(1) <= 3 {
			return errors.New("down")
		}
		return nil
	})
	st := &spyStore{Store: memstore.New(), clock: clock}
	enqueueStatuses(t, st, 0, 1)
	startDispatcher(t, Config{Store: st, Sink: sink, Now: clock.Now, BackoffStep: 3 * time.Second, BackoffMax: 7 * time.Second})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	st.mu.Lock()
	defer st.mu.Unlock()
	want := []time.Duration{3 * time.Second, 6 * time.Second, 7 * time.Second}
	if len(st.reschedules) != 3 {
		t.Fatalf("reschedules %+v", st.reschedules)
	}
	for i, r := range st.reschedules {
		if r.attempts != i+1 || r.delay != want[i] {
			t.Errorf("reschedule %d = %+v, want attempts %d after %v", i, r, i+1, want[i])
		}
	}
}

// Closing with callbacks queued loses nothing: a new dispatcher on the
// same store delivers them.
func TestRestartDeliversPending(t *testing.T) {
	st := memstore.New()
	want := enqueueStatuses(t, st, 0, 10)
	var tries atomic.Int32
	down := FuncSink(func(ctx context.Context, body []byte) error {
		tries.Add(1)
		return errors.New("down")
	})
	d1, err := New(Config{Store: st, Sink: down, BackoffStep: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d1.Start()
	waitFor(t, "a failed attempt", func() bool { return tries.Load() >= 2 })
	if err := d1.Close(); err != nil {
		t.Fatal(err)
	}
	if n := queueLen(t, st); n != 10 {
		t.Fatalf("after close queue holds %d, want 10", n)
	}

	var rec recorder
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.add(t, body)
	}))
	startDispatcher(t, Config{Store: st, Sink: httpsSink(t, srv.URL, ca, nil), MaxConcurrent: 1})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	if got, _ := rec.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// A crash after a successful POST but before the ack delivers again
// (at least once); within one run a failed ack does not resend.
func TestAckFailureRedeliversOnlyAfterRestart(t *testing.T) {
	st := &spyStore{Store: memstore.New(), failAcks: -1}
	enqueueStatuses(t, st, 0, 3)
	var rec recorder
	sink := FuncSink(func(ctx context.Context, body []byte) error { rec.add(t, body); return nil })
	d1 := startDispatcher(t, Config{Store: st, Sink: sink})
	waitFor(t, "ack retried", func() bool { return st.acks() >= 4 })
	_ = d1.Close() // its last ack attempt fails too: a crash before ack
	if got, _ := rec.snapshot(); len(got) != 3 {
		t.Fatalf("first run delivered %v, want each callback once", got)
	}
	st.mu.Lock()
	st.failAcks = 0
	st.mu.Unlock()
	startDispatcher(t, Config{Store: st, Sink: sink})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	got, _ := rec.snapshot()
	if want := []string{"s0000", "s0001", "s0002", "s0000", "s0001", "s0002"}; !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// Non-200, a timeout and a redirect are all failures; the redirect is not
// followed.
func TestFailureKinds(t *testing.T) {
	var rec recorder
	var step, redirected atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) })
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch step.Add(1) {
		case 1:
			http.Redirect(w, r, "/target", http.StatusFound)
		case 2:
			w.WriteHeader(http.StatusNoContent)
		case 3:
			w.WriteHeader(http.StatusBadGateway)
		case 4:
			sleepPastTimeout(r)
		default:
			rec.add(t, body)
		}
	})
	srv, ca := tlsServer(t, mux)
	sink := httpsSink(t, srv.URL+"/hook", ca, func(c *HTTPConfig) { c.Timeout = 500 * time.Millisecond })
	st := memstore.New()
	want := enqueueStatuses(t, st, 0, 3)
	d := startDispatcher(t, Config{Store: st, Sink: sink, MaxConcurrent: 2})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	if got, _ := rec.snapshot(); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if s := d.Stats(); s.Failure != 4 || s.Success != 1 {
		t.Errorf("stats %+v, want 4 failures then 1 success", s)
	}
	if n := redirected.Load(); n != 0 {
		t.Errorf("redirect target called %d times", n)
	}
}

func TestHTTPSinkStatuses(t *testing.T) {
	var redirected atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/created", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok2", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/ok2", func(w http.ResponseWriter, r *http.Request) { redirected.Add(1) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { _, _ = io.ReadAll(r.Body); sleepPastTimeout(r) })
	srv, ca := tlsServer(t, mux)
	ctx := context.Background()
	body := statusPayload("x")
	for path, code := range map[string]int{"/ok": 0, "/created": 201, "/moved": 301, "/missing": 404} {
		err := httpsSink(t, srv.URL+path, ca, nil).Deliver(ctx, body)
		var se *StatusError
		switch {
		case code == 0 && err != nil:
			t.Errorf("%s: %v", path, err)
		case code != 0 && (!errors.As(err, &se) || se.Code != code):
			t.Errorf("%s: err %v, want status %d", path, err, code)
		}
	}
	if err := httpsSink(t, srv.URL+"/slow", ca, func(c *HTTPConfig) { c.Timeout = 300 * time.Millisecond }).Deliver(ctx, body); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow receiver: %v, want deadline exceeded", err)
	}
	// Without the CA the TLS handshake must fail.
	if err := httpsSink(t, srv.URL+"/ok", nil, nil).Deliver(ctx, body); err == nil {
		t.Error("untrusted certificate accepted")
	}
	// A caller's client that follows redirects is tamed too.
	c := srv.Client()
	if err := httpsSink(t, srv.URL+"/moved", nil, func(cfg *HTTPConfig) { cfg.Client = c }).Deliver(ctx, body); err == nil {
		t.Error("redirect through a caller's client succeeded")
	}
	if redirected.Load() != 0 {
		t.Error("redirect followed")
	}
	for _, bad := range []HTTPConfig{{URL: "http://example.com/hook"}, {URL: "ftp://x"}, {URL: "https://"}, {URL: "https://x", Secrets: []string{"whsec_!!"}}, {URL: "https://x", Secrets: []string{""}}, {URL: "https://x", CACertPEM: []byte("junk")}} {
		if _, err := NewHTTPSink(bad); err == nil {
			t.Errorf("NewHTTPSink(%+v) accepted", bad)
		}
	}
}

// At most MaxConcurrent POSTs are in flight, and the dispatcher does use
// all of them.
func TestConcurrencyLimit(t *testing.T) {
	const limit = 3
	var inflight, peak, seen atomic.Int32
	full := make(chan struct{})
	var once sync.Once
	var rec recorder
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		if n == limit {
			once.Do(func() { close(full) })
		}
		body, _ := io.ReadAll(r.Body)
		if seen.Add(1) <= limit {
			// Hold the first requests until all slots are taken, so the
			// test proves the dispatcher fills them.
			select {
			case <-full:
			case <-time.After(time.Second):
			}
		}
		rec.add(t, body)
	}))
	st := memstore.New()
	enqueueStatuses(t, st, 0, 40)
	startDispatcher(t, Config{Store: st, Sink: httpsSink(t, srv.URL, ca, nil), MaxConcurrent: limit, MaxBatch: 1})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	if p := peak.Load(); p != limit {
		t.Errorf("peak in flight %d, want %d", p, limit)
	}
	got, _ := rec.snapshot()
	slices.Sort(got)
	if len(slices.Compact(got)) != 40 {
		t.Errorf("delivered %d distinct callbacks, want 40", len(got))
	}
}

// After a failure nothing later starts until the failed batch succeeds.
func TestHeadOfLineBlocking(t *testing.T) {
	var mu sync.Mutex
	var log []string
	failed := false
	sink := FuncSink(func(ctx context.Context, body []byte) error {
		ids := entryIDs(t, body)
		mu.Lock()
		defer mu.Unlock()
		log = append(log, ids...)
		if ids[0] == "s0002" && !failed {
			failed = true
			log = append(log, "fail")
			return errors.New("once")
		}
		return nil
	})
	st := memstore.New()
	enqueueStatuses(t, st, 0, 6)
	startDispatcher(t, Config{Store: st, Sink: sink, MaxConcurrent: 1, MaxBatch: 1})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	mu.Lock()
	defer mu.Unlock()
	want := []string{"s0000", "s0001", "s0002", "fail", "s0002", "s0003", "s0004", "s0005"}
	if !slices.Equal(log, want) {
		t.Errorf("attempts %v, want %v", log, want)
	}
}

// Merging concatenates arrays per key, in order, within one kind only,
// at most MaxBatch per POST; Kick delivers callbacks enqueued later.
func TestBatchingByKind(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	sink := FuncSink(func(ctx context.Context, body []byte) error {
		mu.Lock()
		bodies = append(bodies, string(body))
		mu.Unlock()
		return nil
	})
	st := memstore.New()
	ctx := context.Background()
	cb := func(kind, p string) store.Callback { return store.Callback{Kind: kind, Payload: []byte(p)} }
	err := st.EnqueueCallbacks(ctx, []store.Callback{
		cb("status_change", `{"statuses":[{"id":"a"}]}`),
		cb("status_change", `{"statuses":[{"id":"b"}, {"id":"c"}]}`),
		cb("inbound_message", `{"contacts":[{"wa_id":"1"}],"messages":[{"id":"m1"}]}`),
		cb("inbound_message", `{"contacts":[{"wa_id":"2"}],"messages":[{"id":"m2"}]}`),
		cb("inbound_message", `{"messages":[{"id":"m3"}]}`),
		cb("status_change", `{"statuses":[{"id":"d"}]}`),
		cb("status_change", `{"statuses":[{"id":"e"}]}`),
		cb("status_change", `{"statuses":[{"id":"f"}]}`),
		cb("status_change", `{"statuses":[{"id":"g"}]}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	d := startDispatcher(t, Config{Store: st, Sink: sink, MaxConcurrent: 1, MaxBatch: 3})
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	if err := st.EnqueueCallbacks(ctx, []store.Callback{cb("system_message", `not json`)}); err != nil {
		t.Fatal(err)
	}
	d.Kick()
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`{"statuses":[{"id":"a"},{"id":"b"}, {"id":"c"}]}`,
		`{"contacts":[{"wa_id":"1"},{"wa_id":"2"}],"messages":[{"id":"m1"},{"id":"m2"},{"id":"m3"}]}`,
		`{"statuses":[{"id":"d"},{"id":"e"},{"id":"f"}]}`,
		`{"statuses":[{"id":"g"}]}`,
		`not json`, // sent as is rather than dropped
	}
	if !slices.Equal(bodies, want) {
		t.Errorf("bodies:\n%q\nwant\n%q", bodies, want)
	}
	if n, err := d.QueueLen(ctx); err != nil || n != 0 {
		t.Errorf("QueueLen = %d, %v", n, err)
	}
	if s := d.Stats(); s.ByKind["inbound_message"].Events != 3 || s.ByKind["status_change"].Success != 3 || s.Queued != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestNewNeedsStoreAndSink(t *testing.T) {
	if _, err := New(Config{Sink: FuncSink(nil)}); err == nil {
		t.Error("no store accepted")
	}
	if _, err := New(Config{Store: memstore.New()}); err == nil {
		t.Error("no sink accepted")
	}
	d, err := New(Config{Store: memstore.New(), Sink: FuncSink(nil)})
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Close() // before Start: must not hang
	d.Start()     // after Close: does nothing
}

// sleepPastTimeout outlasts the client's timeout; the server notices the
// client hanging up only once the body has been read.
func sleepPastTimeout(r *http.Request) {
	// Client timeouts are generous (hundreds of ms) so that a loaded CI
	// machine does not time out the requests meant to succeed.
	// The request's context is not a reliable signal that the client gave
	// up (the server may not notice the closed connection at once), so
	// sleep a fixed time well past every client timeout used here.
	time.Sleep(1500 * time.Millisecond)
}

// A sink with no destination holds the queue without failures or
// backoff; once it has one, a Kick delivers everything at once, in order.
func TestNotConfiguredHoldsWithoutBackoff(t *testing.T) {
	var rec recorder
	var configured atomic.Bool
	var refused atomic.Int32
	sink := FuncSink(func(ctx context.Context, body []byte) error {
		if !configured.Load() {
			refused.Add(1)
			return fmt.Errorf("settings: %w", ErrNotConfigured)
		}
		rec.add(t, body)
		return nil
	})
	st := &spyStore{Store: memstore.New()}
	want := enqueueStatuses(t, st, 0, 10)
	// A huge backoff step: any counted failure would stall the test.
	d := startDispatcher(t, Config{Store: st, Sink: sink, MaxConcurrent: 1, MaxBatch: 3, BackoffStep: time.Hour})
	waitFor(t, "refused", func() bool { return refused.Load() > 0 && d.Stats().NotConfigured })
	s := d.Stats()
	if s.Failure != 0 || s.Success != 0 {
		t.Fatalf("stats while not configured: %+v", s)
	}
	st.mu.Lock()
	n := len(st.reschedules)
	st.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d reschedules while not configured", n)
	}
	configured.Store(true)
	d.Kick()
	waitFor(t, "queue drained", func() bool { return queueLen(t, st) == 0 })
	got, _ := rec.snapshot()
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v\nwant %v", got, want)
	}
	if s := d.Stats(); s.NotConfigured || s.Failure != 0 || s.Events != 10 {
		t.Errorf("stats after configuring: %+v", s)
	}
}
