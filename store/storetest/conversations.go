package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testConversations(t *testing.T, s store.Store) {
	ctx := t.Context()
	day := 24 * time.Hour
	c1 := store.Conversation{ID: "conv-1", Peer: "15550001", Origin: "business_initiated", OpenerID: "m1", OpenedAt: at(0), ExpiresAt: at(day)}

	// Validation.
	bad := c1
	bad.ExpiresAt = bad.OpenedAt
	_, _, err := s.OpenConversation(ctx, bad)
	isErr(t, "OpenConversation expiring when it opens", err, store.ErrInvalid)
	bad = c1
	bad.Peer = ""
	_, _, err = s.OpenConversation(ctx, bad)
	isErr(t, "OpenConversation without a peer", err, store.ErrInvalid)

	got, opened, err := s.OpenConversation(ctx, c1)
	if ok(t, "OpenConversation", err) {
		equal(t, "opened", opened, true)
		equal(t, "OpenConversation", got, c1)
	}
	// While it is open, opening again returns it.
	again := store.Conversation{ID: "conv-2", Peer: c1.Peer, Origin: "user_initiated", OpenerID: "m2", OpenedAt: at(time.Hour), ExpiresAt: at(time.Hour + day)}
	got, opened, err = s.OpenConversation(ctx, again)
	if ok(t, "OpenConversation while open", err) {
		equal(t, "opened while open", opened, false)
		equal(t, "OpenConversation while open", got, c1)
	}
	// Another peer gets its own.
	other := store.Conversation{ID: "conv-3", Peer: "15550002", Origin: "user_initiated", OpenerID: "m3", OpenedAt: at(time.Hour), ExpiresAt: at(time.Hour + day)}
	_, opened, err = s.OpenConversation(ctx, other)
	if ok(t, "OpenConversation other peer", err) {
		equal(t, "opened for another peer", opened, true)
	}
	// At the expiry instant the old one is closed.
	next := store.Conversation{ID: "conv-4", Peer: c1.Peer, Origin: "business_initiated", OpenerID: "m4", OpenedAt: at(day), ExpiresAt: at(2 * day)}
	got, opened, err = s.OpenConversation(ctx, next)
	if ok(t, "OpenConversation after expiry", err) {
		equal(t, "opened after expiry", opened, true)
		equal(t, "OpenConversation after expiry", got, next)
	}

	// Links: first link wins; unknown conversation is not found.
	must(t, "LinkConversation", s.LinkConversation(ctx, c1.ID, []string{"m1", "m1b", "m1"}))
	must(t, "LinkConversation again", s.LinkConversation(ctx, next.ID, []string{"m1b", "m4"}))
	isErr(t, "LinkConversation unknown", s.LinkConversation(ctx, "nope", []string{"m9"}), store.ErrNotFound)
	links, err := s.MessageConversations(ctx, []string{"m1", "m1b", "m4", "m9"})
	if ok(t, "MessageConversations", err) {
		equal(t, "MessageConversations count", len(links), 3)
		equal(t, "MessageConversations m1", links["m1"], c1)
		equal(t, "MessageConversations m1b", links["m1b"], c1)
		equal(t, "MessageConversations m4", links["m4"], next)
	}
	links, err = s.MessageConversations(ctx, nil)
	if ok(t, "MessageConversations none", err) {
		equal(t, "MessageConversations none", len(links), 0)
	}

	// Transactions roll conversations back.
	rolled := store.Conversation{ID: "conv-5", Peer: "15550003", Origin: "user_initiated", OpenerID: "m5", OpenedAt: at(0), ExpiresAt: at(day)}
	_ = s.InTx(ctx, func(tx store.Store) error {
		if _, _, err := tx.OpenConversation(ctx, rolled); err != nil {
			return err
		}
		if err := tx.LinkConversation(ctx, rolled.ID, []string{"m5"}); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	links, err = s.MessageConversations(ctx, []string{"m5"})
	if ok(t, "MessageConversations after rollback", err) {
		equal(t, "MessageConversations after rollback", len(links), 0)
	}

	// Pruning removes expired conversations and their links.
	_, err = s.PruneConversations(ctx, at(day+time.Minute), 0)
	isErr(t, "PruneConversations without a limit", err, store.ErrInvalid)
	n, err := s.PruneConversations(ctx, at(day+time.Minute), 10)
	if ok(t, "PruneConversations", err) {
		equal(t, "PruneConversations", n, 1) // c1 only; conv-3 expires later
	}
	links, err = s.MessageConversations(ctx, []string{"m1", "m4"})
	if ok(t, "MessageConversations after prune", err) {
		equal(t, "MessageConversations after prune count", len(links), 1)
		equal(t, "MessageConversations after prune", links["m4"], next)
	}

	// LastInboundAt follows received messages only.
	last, err := s.LastInboundAt(ctx, "15550009")
	if ok(t, "LastInboundAt none", err) {
		equal(t, "LastInboundAt none", last.IsZero(), true)
	}
	msgs := []store.Message{
		{ID: "in-1", Direction: store.Inbound, Peer: "15550009", Type: "text", Status: store.StatusReceived, CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)},
		{ID: "in-2", Direction: store.Inbound, Peer: "15550009", Type: "text", Status: store.StatusReceived, CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)},
		{ID: "out-1", Direction: store.Outbound, Peer: "15550009", Type: "text", Status: store.StatusPending, CreatedAt: at(2 * time.Hour), UpdatedAt: at(2 * time.Hour)},
	}
	if _, err := s.AddMessages(ctx, msgs); ok(t, "AddMessages", err) {
		last, err = s.LastInboundAt(ctx, "15550009")
		if ok(t, "LastInboundAt", err) {
			equal(t, "LastInboundAt", last, at(time.Hour))
		}
	}
}
