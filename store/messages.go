package store

import (
	"context"
	"time"
)

// Direction says whether a message was received or sent by the business.
type Direction string

// Message directions.
const (
	Inbound  Direction = "in"
	Outbound Direction = "out"
)

// Valid reports whether d is a defined direction.
func (d Direction) Valid() bool { return d == Inbound || d == Outbound }

// Status is the delivery state of a message. Statuses are ordered (see
// Rank) and a message's status only ever moves forward.
type Status string

// Message statuses. Pending is an accepted outbound message the server has
// not acked; Received is an inbound message not yet marked read.
const (
	StatusPending   Status = "pending"
	StatusReceived  Status = "received"
	StatusSent      Status = "sent"
	StatusDelivered Status = "delivered"
	StatusRead      Status = "read"
	StatusFailed    Status = "failed"
	StatusDeleted   Status = "deleted"
)

// Rank orders statuses: a change is applied only when it raises the rank.
// Pending and Received are the starting points of the two directions; read
// implies delivered implies sent, so receipts that arrive late or twice
// are ignored rather than moving a message backwards. Failed ranks above
// read so a late failure report cannot be undone by a stray receipt, and
// deleted is final. It returns -1 for an unknown status.
func (s Status) Rank() int {
	switch s {
	case StatusPending, StatusReceived:
		return 0
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	case StatusFailed:
		return 4
	case StatusDeleted:
		return 5
	}
	return -1
}

// Valid reports whether s is a defined status.
func (s Status) Valid() bool { return s.Rank() >= 0 }

// Message is one message in either direction. Payload is the message
// object as the On-Prem API shows it (JSON); the store does not interpret it.
type Message struct {
	ID        string
	Direction Direction
	// Peer is the other party's wa_id: the sender of an inbound message,
	// the recipient of an outbound one.
	Peer    string
	GroupID string
	// Type is the On-Prem message type: text, image, template, system...
	Type    string
	Payload []byte
	Status  Status
	// CreatedAt is when the message was accepted (outbound) or received
	// (inbound); UpdatedAt is the time of the latest status change.
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MaxIDLen bounds message, media and similar ids.
const MaxIDLen = 128

// Validate reports whether m can be stored.
func (m Message) Validate() error {
	if m.ID == "" || len(m.ID) > MaxIDLen {
		return Invalidf("message: id must be 1..%d bytes, got %d", MaxIDLen, len(m.ID))
	}
	if !m.Direction.Valid() {
		return Invalidf("message %s: unknown direction %q", m.ID, m.Direction)
	}
	if m.Peer == "" || len(m.Peer) > MaxIDLen {
		return Invalidf("message %s: peer must be 1..%d bytes", m.ID, MaxIDLen)
	}
	if m.Type == "" || len(m.Type) > 32 {
		return Invalidf("message %s: type must be 1..32 bytes", m.ID)
	}
	if !m.Status.Valid() {
		return Invalidf("message %s: unknown status %q", m.ID, m.Status)
	}
	return nil
}

// StatusEvent is one entry of a message's status history.
type StatusEvent struct {
	MessageID string
	Status    Status
	At        time.Time
	// ErrorCode and ErrorDetail explain a failed status.
	ErrorCode   int
	ErrorDetail string
	// Peer and Direction, when set, are conditions, not data: the event
	// applies only to a message with that peer and direction, and is
	// reported StatusUnknownMessage otherwise. A phone's receipt may move
	// only the messages sent to that phone. They are not recorded in the
	// history.
	Peer      string
	Direction Direction
}

// StatusOutcome tells what ApplyStatuses did with one event.
type StatusOutcome int

// Outcomes of applying a status event.
const (
	// StatusApplied: the status moved forward and the event was recorded.
	StatusApplied StatusOutcome = iota
	// StatusStale: the message is already at this status or beyond it;
	// nothing changed.
	StatusStale
	// StatusUnknownMessage: no message has this id (never stored, or
	// garbage collected); nothing changed.
	StatusUnknownMessage
)

func (o StatusOutcome) String() string {
	switch o {
	case StatusApplied:
		return "applied"
	case StatusStale:
		return "stale"
	case StatusUnknownMessage:
		return "unknown message"
	}
	return "invalid outcome"
}

// PruneQuery selects messages for garbage collection.
type PruneQuery struct {
	Direction Direction
	// Statuses the message must be in; empty means any.
	Statuses []Status
	// UpdatedBefore: only messages whose last change is older.
	UpdatedBefore time.Time
	// Limit bounds one batch, so a collection never holds long locks.
	Limit int
}

// MessageStore keeps messages and their status history.
type MessageStore interface {
	// AddMessages inserts messages in one batch, skipping any whose id is
	// already stored (inbound redelivery). added[i] reports whether msgs[i]
	// was new. Each new message also gets its initial status recorded in
	// the history at CreatedAt.
	AddMessages(ctx context.Context, msgs []Message) (added []bool, err error)
	GetMessage(ctx context.Context, id string) (Message, error)
	// ApplyStatuses applies status events in order, each only if it moves
	// its message forward by Rank, and records applied ones in the history.
	ApplyStatuses(ctx context.Context, events []StatusEvent) ([]StatusOutcome, error)
	// StatusHistory returns the recorded statuses of a message, oldest
	// first; ErrNotFound if the message does not exist.
	StatusHistory(ctx context.Context, id string) ([]StatusEvent, error)
	// DeleteMessages removes messages and their history and returns how
	// many existed.
	DeleteMessages(ctx context.Context, ids []string) (int, error)
	// PruneMessages deletes up to q.Limit messages matching q, never one
	// that still has an outbox row, and returns how many it deleted.
	PruneMessages(ctx context.Context, q PruneQuery) (int, error)
}
