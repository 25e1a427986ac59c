package webhook

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

func statusPayload(id string) []byte {
	return fmt.Appendf(nil, `{"statuses":[{"id":%q,"status":"delivered","recipient_id":"16315551234","timestamp":"1533332775"}]}`, id)
}

func enqueueStatuses(t testing.TB, s store.CallbackStore, from, n int) []string {
	t.Helper()
	var ids []string
	var cbs []store.Callback
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("s%04d", i)
		ids = append(ids, id)
		cbs = append(cbs, store.Callback{Kind: "status_change", Payload: statusPayload(id)})
	}
	if err := s.EnqueueCallbacks(context.Background(), cbs); err != nil {
		t.Fatal(err)
	}
	return ids
}

// envelope is how a test receiver reads a body, independent of merge.go.
type envelope map[string][]map[string]any

// entryIDs lists the ids of statuses and messages in body order.
func entryIDs(t testing.TB, body []byte) []string {
	t.Helper()
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		t.Errorf("receiver got invalid JSON %q: %v", body, err)
		return nil
	}
	var ids []string
	for _, k := range []string{"statuses", "messages"} {
		for _, e := range env[k] {
			id, _ := e["id"].(string)
			ids = append(ids, id)
		}
	}
	return ids
}

// recorder keeps what a receiver accepted (answered 200), in order.
type recorder struct {
	mu     sync.Mutex
	bodies [][]byte
	ids    []string
}

func (r *recorder) add(t testing.TB, body []byte) {
	ids := entryIDs(t, body)
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.ids = append(r.ids, ids...)
	r.mu.Unlock()
}

func (r *recorder) snapshot() ([]string, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([][]byte(nil), r.bodies...)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ids)
}

func tlsServer(t testing.TB, h http.Handler) (*httptest.Server, []byte) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func httpsSink(t testing.TB, url string, ca []byte, mod func(*HTTPConfig)) *HTTPSink {
	t.Helper()
	cfg := HTTPConfig{URL: url, CACertPEM: ca, Timeout: time.Second}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewHTTPSink(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startDispatcher(t testing.TB, cfg Config) *Dispatcher {
	t.Helper()
	if cfg.BackoffStep == 0 {
		cfg.BackoffStep = time.Millisecond
	}
	cfg.storeRetry = 5 * time.Millisecond
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// waitFor polls cond; the deadline only bounds a broken test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(1500 * time.Millisecond)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func queueLen(t testing.TB, s store.CallbackStore) int {
	n, err := s.CallbackQueueLen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// spyStore records reschedules and can fail acks, around a memstore.
type spyStore struct {
	*memstore.Store
	mu          sync.Mutex
	reschedules []reschedule
	failAcks    int        // acks to fail before letting them through; -1 all
	clock       *jumpClock // when set, reschedules record their delay
	ackCalls    int
}

type reschedule struct {
	seq      int64
	attempts int
	next     time.Time
	delay    time.Duration // next minus the clock's latest reading
}

// jumpClock moves an hour per reading, so any backoff has passed by the
// dispatcher's next look while the delay it computed stays exact.
type jumpClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Hour)
	return c.t
}

func (c *jumpClock) last() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (s *spyStore) RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error {
	var delay time.Duration
	if s.clock != nil {
		delay = next.Sub(s.clock.last())
	}
	s.mu.Lock()
	s.reschedules = append(s.reschedules, reschedule{seq, attempts, next, delay})
	s.mu.Unlock()
	return s.Store.RescheduleCallback(ctx, seq, attempts, next)
}

func (s *spyStore) AckCallbacks(ctx context.Context, seqs []int64) (int, error) {
	s.mu.Lock()
	s.ackCalls++
	fail := s.failAcks != 0
	if s.failAcks > 0 {
		s.failAcks--
	}
	s.mu.Unlock()
	if fail {
		return 0, errors.New("spy: ack refused")
	}
	return s.Store.AckCallbacks(ctx, seqs)
}

func (s *spyStore) acks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ackCalls
}
