package memstore

import (
	"context"
	"time"

	"github.com/waent/waent/store"
)

// Conversations.

func (o op) OpenConversation(ctx context.Context, c store.Conversation) (store.Conversation, bool, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Conversation{}, false, err
	}
	defer leave()
	if err := c.Validate(); err != nil {
		return store.Conversation{}, false, err
	}
	c.OpenedAt, c.ExpiresAt = norm(c.OpenedAt), norm(c.ExpiresAt)
	var open *store.Conversation
	for _, x := range o.st.conversations {
		if x.Peer == c.Peer && !x.OpenedAt.After(c.OpenedAt) && x.ExpiresAt.After(c.OpenedAt) {
			if open == nil || x.OpenedAt.After(open.OpenedAt) {
				open = &x
			}
		}
	}
	if open != nil {
		return *open, false, nil
	}
	if _, dup := o.st.conversations[c.ID]; dup {
		return store.Conversation{}, false, store.Conflictf("conversation %s exists", c.ID)
	}
	put(o, o.st.conversations, c.ID, c)
	return c, true, nil
}

func (o op) LinkConversation(ctx context.Context, id string, messageIDs []string) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if _, ok := o.st.conversations[id]; !ok {
		return store.NotFoundf("conversation %s", id)
	}
	for _, m := range messageIDs {
		if _, linked := o.st.convLinks[m]; !linked {
			put(o, o.st.convLinks, m, id)
		}
	}
	return nil
}

func (o op) MessageConversations(ctx context.Context, messageIDs []string) (map[string]store.Conversation, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	out := map[string]store.Conversation{}
	for _, m := range messageIDs {
		if id, ok := o.st.convLinks[m]; ok {
			out[m] = o.st.conversations[id]
		}
	}
	return out, nil
}

func (o op) LastInboundAt(ctx context.Context, peer string) (time.Time, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return time.Time{}, err
	}
	defer leave()
	var last time.Time
	for _, m := range o.st.messages {
		if m.Direction == store.Inbound && m.Peer == peer && m.CreatedAt.After(last) {
			last = m.CreatedAt
		}
	}
	return last, nil
}

func (o op) PruneConversations(ctx context.Context, expiredBefore time.Time, limit int) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if limit <= 0 {
		return 0, store.Invalidf("prune conversations: limit must be positive, got %d", limit)
	}
	gone := map[string]bool{}
	for id, c := range o.st.conversations {
		if len(gone) < limit && c.ExpiresAt.Before(norm(expiredBefore)) {
			del(o, o.st.conversations, id)
			gone[id] = true
		}
	}
	for m, id := range o.st.convLinks {
		if gone[id] {
			del(o, o.st.convLinks, m)
		}
	}
	return len(gone), nil
}
