package store

import (
	"context"
	"time"
)

// OutboxItem is an outbound message waiting for the server's ack. Items
// for one recipient are sent in Seq order.
type OutboxItem struct {
	MessageID string
	Recipient string
	// Seq is assigned by the store on enqueue and increases in enqueue
	// order; values passed in are ignored.
	Seq           int64
	Attempts      int
	NextAttemptAt time.Time
	LastError     string
	CreatedAt     time.Time
}

// Validate reports whether it can be stored.
func (it OutboxItem) Validate() error {
	if it.MessageID == "" || len(it.MessageID) > MaxIDLen {
		return Invalidf("outbox: message id must be 1..%d bytes", MaxIDLen)
	}
	if it.Recipient == "" || len(it.Recipient) > MaxIDLen {
		return Invalidf("outbox %s: recipient must be 1..%d bytes", it.MessageID, MaxIDLen)
	}
	if it.Attempts < 0 {
		return Invalidf("outbox %s: negative attempts", it.MessageID)
	}
	return nil
}

// OutboxStore is the durable send queue: first in, first out per
// recipient, parallel across recipients.
type OutboxStore interface {
	// EnqueueOutbox appends items in one batch, assigning Seq in slice
	// order. A message id already queued fails the batch with ErrConflict.
	EnqueueOutbox(ctx context.Context, items []OutboxItem) error
	// DueOutbox returns up to limit items that are due at now, by Seq. An
	// item is returned only if every earlier item of its recipient is due
	// too, so a recipient whose head is backing off is skipped whole.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error)
	// RescheduleOutbox records a failed or in-flight attempt.
	RescheduleOutbox(ctx context.Context, messageID string, attempts int, next time.Time, lastError string) error
	// DeleteOutbox removes items (acked or abandoned) and returns how many
	// existed.
	DeleteOutbox(ctx context.Context, messageIDs []string) (int, error)
	// OutboxLen is the number of queued items.
	OutboxLen(ctx context.Context) (int, error)
}

// Callback is one webhook event waiting for delivery. Payload is the JSON
// event; Kind is the stats label (inbound_message, status_change, ...).
type Callback struct {
	// Seq is assigned by the store on enqueue and increases in enqueue
	// order; values passed in are ignored.
	Seq           int64
	Kind          string
	Payload       []byte
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
}

// Validate reports whether c can be stored.
func (c Callback) Validate() error {
	if c.Kind == "" || len(c.Kind) > 32 {
		return Invalidf("callback: kind must be 1..32 bytes")
	}
	if len(c.Payload) == 0 {
		return Invalidf("callback: empty payload")
	}
	if c.Attempts < 0 {
		return Invalidf("callback: negative attempts")
	}
	return nil
}

// CallbackStore is the persistent webhook queue, delivered in Seq order.
type CallbackStore interface {
	// EnqueueCallbacks appends callbacks in one batch, assigning Seq in
	// slice order.
	EnqueueCallbacks(ctx context.Context, cbs []Callback) error
	// PendingCallbacks returns up to limit callbacks with Seq > afterSeq,
	// by Seq. Backends with concurrent writers may make a lower Seq visible
	// after a higher one, so a dispatcher that pages with afterSeq should
	// rescan from 0 now and then.
	PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]Callback, error)
	// RescheduleCallback records a failed delivery attempt.
	RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error
	// AckCallbacks removes delivered callbacks and returns how many existed.
	AckCallbacks(ctx context.Context, seqs []int64) (int, error)
	// CallbackQueueLen is the number of queued callbacks.
	CallbackQueueLen(ctx context.Context) (int, error)
}
