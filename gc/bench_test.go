package gc_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/waent/waent/gc"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore/sqltest"
)

// BenchmarkMessageGC collects a database of 1M messages (100k with
// -short), half of them collectable, in default batches of 1000, and
// reports messages deleted per second (each with its status history).
// Seeding takes far longer than collecting; run it once:
//
//	go test -run '^$' -bench MessageGC/sqlite -benchtime 1x ./gc
func BenchmarkMessageGC(b *testing.B) {
	total := 1_000_000
	if testing.Short() {
		total = 100_000
	}
	for _, backend := range sqltest.Backends {
		b.Run(string(backend), func(b *testing.B) {
			ctx := context.Background()
			deleted, elapsed := 0, time.Duration(0)
			for range b.N {
				b.StopTimer()
				st := sqltest.Open(b, backend)
				want := seedBench(b, st, total)
				c, err := gc.New(gc.Config{Store: st, Now: func() time.Time { return t0 }, Logger: slog.New(slog.DiscardHandler)})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				res, err := c.Collect(ctx, gc.Messages)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if res.Messages != want {
					b.Fatalf("deleted %d messages, want %d", res.Messages, want)
				}
				deleted += res.Messages
			}
			b.ReportMetric(float64(deleted)/elapsed.Seconds(), "msgs_deleted/s")
		})
	}
}

// seedBench stores n messages, in every other one a read outbound message
// 40 days old (collectable) and otherwise recent delivered outbound or
// unread inbound ones (kept), and returns how many are collectable.
func seedBench(b *testing.B, st store.Store, n int) int {
	b.Helper()
	ctx := context.Background()
	const chunk = 10_000
	collectable := 0
	batch := make([]store.Message, 0, chunk)
	payload := []byte(`{"type":"text","text":{"body":"Your order has shipped"}}`)
	for i := range n {
		m := store.Message{ID: fmt.Sprintf("wamid.bench%08d", i), Peer: fmt.Sprintf("4477009%05d", i%50_000), Type: "text", Payload: payload}
		switch i % 4 {
		case 0, 2:
			m.Direction, m.Status, m.UpdatedAt = store.Outbound, store.StatusRead, t0.Add(-40*day).Add(time.Duration(i)*time.Millisecond)
			collectable++
		case 1:
			m.Direction, m.Status, m.UpdatedAt = store.Outbound, store.StatusDelivered, t0.Add(-2*day)
		case 3:
			m.Direction, m.Status, m.UpdatedAt = store.Inbound, store.StatusReceived, t0.Add(-day)
		}
		m.CreatedAt = m.UpdatedAt.Add(-time.Minute)
		batch = append(batch, m)
		if len(batch) == chunk || i == n-1 {
			if _, err := st.AddMessages(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return collectable
}
