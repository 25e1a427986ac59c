package store

import (
	"context"
	"time"
)

// Conversation is a 24-hour window of messaging with one user, the unit
// On-Premises reported for conversation-based pricing: status callbacks
// carry its id, origin and (on the first status) its expiry.
type Conversation struct {
	ID   string
	Peer string
	// Origin is user_initiated, business_initiated, referral_conversion
	// or a template category (authentication, marketing, utility,
	// service).
	Origin string
	// OpenerID is the outbound message that opened the conversation.
	OpenerID  string
	OpenedAt  time.Time
	ExpiresAt time.Time
}

// Validate reports whether c can be stored.
func (c Conversation) Validate() error {
	switch {
	case c.ID == "" || len(c.ID) > MaxIDLen:
		return Invalidf("conversation: id must be 1..%d bytes", MaxIDLen)
	case c.Peer == "" || len(c.Peer) > MaxIDLen:
		return Invalidf("conversation %s: peer must be 1..%d bytes", c.ID, MaxIDLen)
	case c.Origin == "" || len(c.Origin) > 64:
		return Invalidf("conversation %s: origin must be 1..64 bytes", c.ID)
	case c.OpenerID == "" || len(c.OpenerID) > MaxIDLen:
		return Invalidf("conversation %s: opener must be 1..%d bytes", c.ID, MaxIDLen)
	case !c.ExpiresAt.After(c.OpenedAt):
		return Invalidf("conversation %s: expires before it opens", c.ID)
	}
	return nil
}

// ConversationStore keeps conversations and which outbound messages
// belong to which.
type ConversationStore interface {
	// OpenConversation returns the conversation with c.Peer that is open
	// at c.OpenedAt (OpenedAt <= t < ExpiresAt), or stores c when there
	// is none; opened reports whether c was stored. Callers serialise
	// opening per peer (one statuses committer per process).
	OpenConversation(ctx context.Context, c Conversation) (conv Conversation, opened bool, err error)
	// LinkConversation assigns messages to conversation id; a message
	// already linked keeps its conversation. ErrNotFound if id is unknown.
	LinkConversation(ctx context.Context, id string, messageIDs []string) error
	// MessageConversations returns the conversation of each given message
	// that has one.
	MessageConversations(ctx context.Context, messageIDs []string) (map[string]Conversation, error)
	// LastInboundAt is when the latest message received from peer was
	// stored, or the zero time.
	LastInboundAt(ctx context.Context, peer string) (time.Time, error)
	// PruneConversations removes up to limit (> 0) conversations that
	// expired before the given time, with their links, and returns how
	// many it removed.
	PruneConversations(ctx context.Context, expiredBefore time.Time, limit int) (int, error)
}
