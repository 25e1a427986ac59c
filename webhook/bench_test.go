package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waent/waent/store/memstore"
)

// BenchmarkDeliver drains b.N queued status callbacks through a real
// (plain HTTP, loopback) receiver with default batching and concurrency.
func BenchmarkDeliver(b *testing.B) {
	for _, batch := range []int{100, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchDeliver(b, batch) })
	}
}

func benchDeliver(b *testing.B, maxBatch int) {
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	sink, err := NewHTTPSink(HTTPConfig{URL: srv.URL, AllowInsecureHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	st := memstore.New()
	enqueueStatuses(b, st, 0, b.N)
	counting := FuncSink(func(ctx context.Context, body []byte) error {
		if err := sink.Deliver(ctx, body); err != nil {
			return err
		}
		got.Add(1)
		return nil
	})
	d, err := New(Config{Store: st, Sink: counting, MaxBatch: maxBatch})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	t0 := time.Now()
	d.Start()
	for queueLen(b, st) > 0 {
		time.Sleep(200 * time.Microsecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	_ = d.Close()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(max(got.Load(), 1)), "events/post")
}
