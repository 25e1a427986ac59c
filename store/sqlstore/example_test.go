package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore"
)

// Opening the embedded SQLite store and accepting an outbound message the
// way the outbox does: the message and its outbox row commit together, so
// once the id is returned the message cannot be lost.
func Example() {
	dir, _ := os.MkdirTemp("", "waent-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: "sqlite:" + filepath.Join(dir, "waent.db")})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	now := time.Now()
	err = s.InTx(ctx, func(tx store.Store) error {
		msg := store.Message{
			ID: "gBEGkYiEB1VXAglK1ZEqA1YKPrU", Direction: store.Outbound, Peer: "16315551234",
			Type: "text", Payload: []byte(`{"text":{"body":"hello"}}`), Status: store.StatusPending, CreatedAt: now,
		}
		if _, err := tx.AddMessages(ctx, []store.Message{msg}); err != nil {
			return err
		}
		return tx.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: msg.ID, Recipient: msg.Peer, CreatedAt: now}})
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	// The server acks: the message moves forward and leaves the outbox.
	outcomes, _ := s.ApplyStatuses(ctx, []store.StatusEvent{{MessageID: "gBEGkYiEB1VXAglK1ZEqA1YKPrU", Status: store.StatusSent, At: now}})
	s.DeleteOutbox(ctx, []string{"gBEGkYiEB1VXAglK1ZEqA1YKPrU"})
	// A late duplicate receipt cannot move it back.
	late, _ := s.ApplyStatuses(ctx, []store.StatusEvent{{MessageID: "gBEGkYiEB1VXAglK1ZEqA1YKPrU", Status: store.StatusPending, At: now}})
	queued, _ := s.OutboxLen(ctx)
	fmt.Println(s.Backend(), outcomes[0], late[0], queued)
	// Output: sqlite applied stale 0
}
