package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// Store an inbound message and enqueue its callback in one transaction; a
// redelivery of the same message is recognised and skipped.
func Example() {
	ctx := context.Background()
	s := memstore.New()
	in := store.Message{
		ID:        "wamid.1",
		Direction: store.Inbound,
		Peer:      "15550001111",
		Type:      "text",
		Payload:   []byte(`{"text":{"body":"hello"}}`),
		Status:    store.StatusReceived,
		CreatedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
	}
	receive := func() (bool, error) {
		var isNew bool
		err := s.InTx(ctx, func(tx store.Store) error {
			added, err := tx.AddMessages(ctx, []store.Message{in})
			if err != nil || !added[0] {
				return err
			}
			isNew = true
			return tx.EnqueueCallbacks(ctx, []store.Callback{{Kind: "inbound_message", Payload: in.Payload}})
		})
		return isNew, err
	}
	first, _ := receive()
	second, _ := receive()
	queued, _ := s.CallbackQueueLen(ctx)
	fmt.Println(first, second, queued)
	// Output: true false 1
}
