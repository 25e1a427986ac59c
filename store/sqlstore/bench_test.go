package sqlstore_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore/sqltest"
)

var storetestTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// BenchmarkInsertMessages measures durable message inserts, one commit per
// message against one commit per batch, on every configured backend. The
// rows/s metric is what the outbox's group commit buys.
func BenchmarkInsertMessages(b *testing.B) {
	payload := []byte(`{"to":"16315551234","type":"text","text":{"body":"hello from the benchmark"}}`)
	for _, backend := range sqltest.Backends {
		for _, batch := range []int{1, 100} {
			name := "single"
			if batch > 1 {
				name = "batch" + strconv.Itoa(batch)
			}
			b.Run(fmt.Sprintf("%s/%s", backend, name), func(b *testing.B) {
				s := sqltest.Open(b, backend)
				ctx := context.Background()
				msgs := make([]store.Message, batch)
				n := 0
				b.ResetTimer()
				start := time.Now()
				for b.Loop() {
					for i := range msgs {
						n++
						msgs[i] = store.Message{
							ID: "bench" + strconv.Itoa(n), Direction: store.Outbound, Peer: "16315551234",
							Type: "text", Payload: payload, Status: store.StatusPending, CreatedAt: storetestTime,
						}
					}
					if _, err := s.AddMessages(ctx, msgs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
			})
		}
	}
}
