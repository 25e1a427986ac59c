package gc_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/waent/waent/gc"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// A Collector over a store: one message read 40 days ago goes, one still
// in the outbox stays whatever its age.
func Example() {
	ctx := context.Background()
	st := memstore.New()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old := now.Add(-40 * 24 * time.Hour)
	st.AddMessages(ctx, []store.Message{
		{ID: "read", Direction: store.Outbound, Peer: "447700900001", Type: "text", Payload: []byte(`{}`), Status: store.StatusRead, CreatedAt: old},
		{ID: "queued", Direction: store.Outbound, Peer: "447700900001", Type: "text", Payload: []byte(`{}`), Status: store.StatusPending, CreatedAt: old},
	})
	st.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: "queued", Recipient: "447700900001", CreatedAt: old}})

	c, err := gc.New(gc.Config{
		Store:    st,
		Now:      func() time.Time { return now },
		Logger:   slog.New(slog.DiscardHandler),
		Settings: func() gc.Switches { return gc.Switches{Messages: true} },
	})
	if err != nil {
		panic(err)
	}
	// A long-lived process would run `go c.Run(ctx)` for the scheduled
	// collections; Collect runs one now.
	res, err := c.Collect(ctx, gc.Messages)
	if err != nil {
		panic(err)
	}
	_, errQueued := st.GetMessage(ctx, "queued")
	fmt.Println("deleted:", res.Messages, "queued kept:", errQueued == nil)
	// Output: deleted: 1 queued kept: true
}
