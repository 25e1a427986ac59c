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
