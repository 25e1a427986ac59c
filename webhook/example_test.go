package webhook_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/webhook"
)

// Callbacks queued in the store reach an in-process sink, consecutive
// ones of a kind merged into one body.
func Example() {
	ctx := context.Background()
	st := memstore.New()
	_ = st.EnqueueCallbacks(ctx, []store.Callback{
		{Kind: "status_change", Payload: []byte(`{"statuses":[{"id":"wamid.1","status":"delivered"}]}`)},
		{Kind: "status_change", Payload: []byte(`{"statuses":[{"id":"wamid.1","status":"read"}]}`)},
	})

	var wg sync.WaitGroup
	wg.Add(1)
	sink := webhook.FuncSink(func(ctx context.Context, body []byte) error {
		fmt.Println(string(body))
		wg.Done()
		return nil // any error would be retried with backoff
	})
	d, err := webhook.New(webhook.Config{Store: st, Sink: sink})
	if err != nil {
		fmt.Println(err)
		return
	}
	d.Start()
	d.Kick() // after each enqueue
	wg.Wait()
	_ = d.Close()
	// Output:
	// {"statuses":[{"id":"wamid.1","status":"delivered"},{"id":"wamid.1","status":"read"}]}
}
