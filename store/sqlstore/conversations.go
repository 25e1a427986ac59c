package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type conversationRow struct {
	bun.BaseModel `bun:"table:waent_conversations"`

	ID        string `bun:"id,pk"`
	Peer      string `bun:"peer"`
	Origin    string `bun:"origin"`
	OpenerID  string `bun:"opener_id"`
	OpenedAt  int64  `bun:"opened_at"`
	ExpiresAt int64  `bun:"expires_at"`
}

func (r conversationRow) conversation() store.Conversation {
	return store.Conversation{ID: r.ID, Peer: r.Peer, Origin: r.Origin, OpenerID: r.OpenerID, OpenedAt: fromUS(r.OpenedAt), ExpiresAt: fromUS(r.ExpiresAt)}
}

type convLinkRow struct {
	bun.BaseModel `bun:"table:waent_message_conversations"`

	MessageID      string `bun:"message_id,pk"`
	ConversationID string `bun:"conversation_id"`
}

// OpenConversation implements store.ConversationStore.
func (s *Store) OpenConversation(ctx context.Context, c store.Conversation) (store.Conversation, bool, error) {
	if err := c.Validate(); err != nil {
		return store.Conversation{}, false, err
	}
	var out store.Conversation
	var opened bool
	err := s.atomic(ctx, func(tx *Store) error {
		at := us(c.OpenedAt)
		var row conversationRow
		err := tx.w.NewSelect().Model(&row).
			Where("peer = ? AND opened_at <= ? AND expires_at > ?", c.Peer, at, at).
			OrderExpr("opened_at DESC").Limit(1).Scan(ctx)
		if err == nil {
			out = row.conversation()
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return tx.wrap(err, "find conversation")
		}
		row = conversationRow{ID: c.ID, Peer: c.Peer, Origin: c.Origin, OpenerID: c.OpenerID, OpenedAt: at, ExpiresAt: us(c.ExpiresAt)}
		if _, err := tx.w.NewInsert().Model(&row).Exec(ctx); err != nil {
			return tx.wrap(err, "open conversation")
		}
		out, opened = row.conversation(), true
		return nil
	})
	if err != nil {
		return store.Conversation{}, false, err
	}
	return out, opened, nil
}

// LinkConversation implements store.ConversationStore.
func (s *Store) LinkConversation(ctx context.Context, id string, messageIDs []string) error {
	return s.atomic(ctx, func(tx *Store) error {
		n, err := tx.w.NewSelect().Model((*conversationRow)(nil)).Where("id = ?", id).Count(ctx)
		if err != nil {
			return tx.wrap(err, "link conversation")
		}
		if n == 0 {
			return store.NotFoundf("conversation %s", id)
		}
		rows := make([]convLinkRow, 0, len(messageIDs))
		seen := map[string]bool{}
		for _, m := range messageIDs {
			if !seen[m] {
				seen[m] = true
				rows = append(rows, convLinkRow{MessageID: m, ConversationID: id})
			}
		}
		return chunks(rows, func(part []convLinkRow) error {
			_, err := tx.insertIgnore(tx.w.NewInsert().Model(&part), "message_id").Exec(ctx)
			return tx.wrap(err, "link conversation")
		})
	})
}

// MessageConversations implements store.ConversationStore.
func (s *Store) MessageConversations(ctx context.Context, messageIDs []string) (map[string]store.Conversation, error) {
	out := map[string]store.Conversation{}
	err := chunks(messageIDs, func(part []string) error {
		var rows []struct {
			MessageID string `bun:"message_id"`
			conversationRow
		}
		err := s.r.NewSelect().
			ColumnExpr("l.message_id, c.id, c.peer, c.origin, c.opener_id, c.opened_at, c.expires_at").
			TableExpr("waent_message_conversations AS l").
			Join("JOIN waent_conversations AS c ON c.id = l.conversation_id").
			Where("l.message_id IN (?)", bun.In(part)).Scan(ctx, &rows)
		if err != nil {
			return s.wrap(err, "message conversations")
		}
		for _, r := range rows {
			out[r.MessageID] = r.conversation()
		}
		return nil
	})
	return out, err
}

// LastInboundAt implements store.ConversationStore.
func (s *Store) LastInboundAt(ctx context.Context, peer string) (time.Time, error) {
	var last sql.NullInt64
	err := s.r.NewSelect().Model((*messageRow)(nil)).ColumnExpr("MAX(created_at)").
		Where("peer = ? AND direction = ?", peer, string(store.Inbound)).Scan(ctx, &last)
	if err != nil {
		return time.Time{}, s.wrap(err, "last inbound")
	}
	return fromUS(last.Int64), nil
}

// PruneConversations implements store.ConversationStore.
func (s *Store) PruneConversations(ctx context.Context, expiredBefore time.Time, limit int) (int, error) {
	if err := checkLimit(limit, "prune conversations"); err != nil {
		return 0, err
	}
	var n int
	err := s.atomic(ctx, func(tx *Store) error {
		var ids []string
		err := tx.w.NewSelect().Model((*conversationRow)(nil)).Column("id").
			Where("expires_at < ?", us(expiredBefore)).Order("expires_at").Limit(int64(limit)).Scan(ctx, &ids)
		if err != nil || len(ids) == 0 {
			return tx.wrap(err, "prune conversations: select")
		}
		if _, err := tx.w.NewDelete().Model((*convLinkRow)(nil)).Where("conversation_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
			return tx.wrap(err, "prune conversation links")
		}
		res, err := tx.w.NewDelete().Model((*conversationRow)(nil)).Where("id IN (?)", bun.In(ids)).Exec(ctx)
		n = affected(res)
		return tx.wrap(err, "prune conversations")
	})
	return n, err
}
