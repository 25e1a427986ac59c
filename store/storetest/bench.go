package storetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

// Bench measures the write paths that decide throughput, one commit per row
// against one commit per batch of 100, and reports rows/s:
//
//   - messages: AddMessages alone;
//   - send: a message and its outbox row in one transaction, the
//     durability point of every accepted send.
//
// newStore is called once per sub-benchmark and must return an empty store.
func Bench(b *testing.B, newStore func(tb testing.TB) store.Store) {
	payload := []byte(`{"to":"16315551234","type":"text","text":{"body":"hello from the benchmark"}}`)
	for _, path := range []string{"messages", "send"} {
		for _, batch := range []int{1, 100} {
			name := path + "/single"
			if batch > 1 {
				name = path + "/batch" + strconv.Itoa(batch)
			}
			b.Run(name, func(b *testing.B) {
				s := newStore(b)
				ctx := context.Background()
				at := time.Now()
				msgs := make([]store.Message, batch)
				items := make([]store.OutboxItem, batch)
				n := 0
				start := time.Now()
				for b.Loop() {
					for i := range msgs {
						n++
						id := "bench" + strconv.Itoa(n)
						msgs[i] = store.Message{
							ID: id, Direction: store.Outbound, Peer: "16315551234",
							Type: "text", Payload: payload, Status: store.StatusPending, CreatedAt: at,
						}
						items[i] = store.OutboxItem{MessageID: id, Recipient: "16315551234", CreatedAt: at}
					}
					var err error
					if path == "messages" {
						_, err = s.AddMessages(ctx, msgs)
					} else {
						err = s.InTx(ctx, func(tx store.Store) error {
							if _, err := tx.AddMessages(ctx, msgs); err != nil {
								return err
							}
							return tx.EnqueueOutbox(ctx, items)
						})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
			})
		}
	}
}

// StatusBatch is the number of events per ApplyStatuses call in
// BenchStatuses: the largest batch the outbox applies at once.
const StatusBatch = 256

// BenchStatuses measures ApplyStatuses with StatusBatch events per call and
// reports events/s, on two shapes of batch:
//
//   - pipeline: every event for a different message, half of them "sent" for
//     messages not seen before and half "delivered" for the messages of the
//     previous call, as a steady outbox produces them;
//   - pairs: "sent" then "delivered" for each of StatusBatch/2 messages in
//     one call, so every message changes twice in one batch.
//
// The messages are stored with the timer stopped. newStore is called once
// per sub-benchmark and must return an empty store.
func BenchStatuses(b *testing.B, newStore func(tb testing.TB) store.Store) {
	payload := []byte(`{"to":"16315551234","type":"text","text":{"body":"hello from the benchmark"}}`)
	for _, shape := range []string{"pipeline", "pairs"} {
		b.Run(shape, func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			at := time.Now()
			var pool []string // stored messages no event has touched yet
			stored := 0
			take := func(n int) []string {
				if len(pool) < n {
					b.StopTimer()
					msgs := make([]store.Message, 4*StatusBatch)
					for i := range msgs {
						stored++
						msgs[i] = store.Message{
							ID: "bench" + strconv.Itoa(stored), Direction: store.Outbound, Peer: "16315551234",
							Type: "text", Payload: payload, Status: store.StatusPending, CreatedAt: at,
						}
						pool = append(pool, msgs[i].ID)
					}
					if _, err := s.AddMessages(ctx, msgs); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				ids := pool[:n:n]
				pool = pool[n:]
				return ids
			}
			half := StatusBatch / 2
			var previous []string // pipeline: sent by the previous call
			events := make([]store.StatusEvent, 0, StatusBatch)
			n := 0
			for b.Loop() {
				events = events[:0]
				ids := take(half)
				switch shape {
				case "pipeline":
					for _, id := range previous {
						events = append(events, store.StatusEvent{MessageID: id, Status: store.StatusDelivered, At: at.Add(2 * time.Second)})
					}
					for _, id := range ids {
						events = append(events, store.StatusEvent{MessageID: id, Status: store.StatusSent, At: at.Add(time.Second)})
					}
					previous = ids
				case "pairs":
					for _, id := range ids {
						events = append(events,
							store.StatusEvent{MessageID: id, Status: store.StatusSent, At: at.Add(time.Second)},
							store.StatusEvent{MessageID: id, Status: store.StatusDelivered, At: at.Add(2 * time.Second)})
					}
				}
				outcomes, err := s.ApplyStatuses(ctx, events)
				if err != nil {
					b.Fatal(err)
				}
				for i, o := range outcomes {
					if o != store.StatusApplied {
						b.Fatalf("event %d (%s %s): outcome %v, want applied", i, events[i].MessageID, events[i].Status, o)
					}
				}
				n += len(events)
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
