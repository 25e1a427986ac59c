package sqlstore

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type messageRow struct {
	bun.BaseModel `bun:"table:waent_messages,alias:m"`

	ID         string `bun:"id,pk"`
	Direction  string `bun:"direction"`
	Peer       string `bun:"peer"`
	GroupID    string `bun:"group_id"`
	Type       string `bun:"type"`
	Payload    []byte `bun:"payload"`
	Status     string `bun:"status"`
	StatusRank int    `bun:"status_rank"`
	CreatedAt  int64  `bun:"created_at"`
	UpdatedAt  int64  `bun:"updated_at"`
}

type statusRow struct {
	bun.BaseModel `bun:"table:waent_message_statuses"`

	ID          int64  `bun:"id,pk,autoincrement"`
	MessageID   string `bun:"message_id"`
	Status      string `bun:"status"`
	At          int64  `bun:"at"`
	ErrorCode   int    `bun:"error_code"`
	ErrorDetail string `bun:"error_detail"`
}

// AddMessages implements store.MessageStore.
func (s *Store) AddMessages(ctx context.Context, msgs []store.Message) ([]bool, error) {
	added := make([]bool, len(msgs))
	rows := make([]messageRow, 0, len(msgs))
	first := map[string]int{} // id -> index in msgs of its first occurrence
	for i, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, err
		}
		if _, dup := first[m.ID]; dup {
			continue // a repeat within the batch: the first one wins
		}
		first[m.ID] = i
		updated := m.UpdatedAt
		if updated.IsZero() {
			updated = m.CreatedAt
		}
		rows = append(rows, messageRow{
			ID: m.ID, Direction: string(m.Direction), Peer: m.Peer, GroupID: m.GroupID, Type: m.Type,
			Payload: m.Payload, Status: string(m.Status), StatusRank: m.Status.Rank(),
			CreatedAt: us(m.CreatedAt), UpdatedAt: us(updated),
		})
	}
	if len(rows) == 0 {
		return added, nil
	}
	err := s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []messageRow) error {
			fresh, err := tx.insertNewMessages(ctx, part)
			if err != nil {
				return err
			}
			history := make([]statusRow, 0, len(part))
			for _, r := range part {
				if fresh[r.ID] {
					added[first[r.ID]] = true
					history = append(history, statusRow{MessageID: r.ID, Status: r.Status, At: r.CreatedAt})
				}
			}
			if len(history) == 0 {
				return nil
			}
			_, err = tx.w.NewInsert().Model(&history).ExcludeColumn("id").Exec(ctx)
			return tx.wrap(err, "add messages: history")
		})
	})
	if err != nil {
		return nil, err
	}
	return added, nil
}

// insertNewMessages inserts the rows whose id is not stored yet and
// returns the set of ids it inserted.
func (s *Store) insertNewMessages(ctx context.Context, rows []messageRow) (map[string]bool, error) {
	fresh := make(map[string]bool, len(rows))
	if s.backend != MySQL {
		// ON CONFLICT DO NOTHING RETURNING names exactly the rows inserted,
		// even against a concurrent insert of the same id.
		var ids []string
		err := s.insertIgnore(s.w.NewInsert().Model(&rows), "id").Returning("id").Scan(ctx, &ids)
		if err != nil {
			return nil, s.wrap(err, "add messages")
		}
		for _, id := range ids {
			fresh[id] = true
		}
		return fresh, nil
	}
	// MySQL has no RETURNING: look up which ids exist, insert the rest, and
	// if a concurrent transaction slipped one in between (duplicate key),
	// look again. InnoDB rolls back only the failed statement, so the
	// transaction is still usable.
	for attempt := 0; ; attempt++ {
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		var existing []string
		if err := s.w.NewSelect().Model((*messageRow)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).Scan(ctx, &existing); err != nil {
			return nil, s.wrap(err, "add messages: look up ids")
		}
		known := make(map[string]bool, len(existing))
		for _, id := range existing {
			known[id] = true
		}
		todo := make([]messageRow, 0, len(rows))
		for _, r := range rows {
			if !known[r.ID] {
				todo = append(todo, r)
			}
		}
		if len(todo) == 0 {
			return fresh, nil
		}
		_, err := s.w.NewInsert().Model(&todo).Exec(ctx)
		if err == nil {
			for _, r := range todo {
				fresh[r.ID] = true
			}
			return fresh, nil
		}
		if werr := s.wrap(err, "add messages"); attempt >= 3 || errKind(err) != store.ErrConflict {
			return nil, werr
		}
	}
}

func (r messageRow) record() store.Message {
	return store.Message{
		ID: r.ID, Direction: store.Direction(r.Direction), Peer: r.Peer, GroupID: r.GroupID, Type: r.Type,
		Payload: r.Payload, Status: store.Status(r.Status), CreatedAt: fromUS(r.CreatedAt), UpdatedAt: fromUS(r.UpdatedAt),
	}
}

// GetMessage implements store.MessageStore.
func (s *Store) GetMessage(ctx context.Context, id string) (store.Message, error) {
	var r messageRow
	if err := s.r.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx); err != nil {
		return store.Message{}, s.wrap(err, "get message %s", id)
	}
	return r.record(), nil
}

// ApplyStatuses implements store.MessageStore.
func (s *Store) ApplyStatuses(ctx context.Context, events []store.StatusEvent) ([]store.StatusOutcome, error) {
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return nil, err
		}
	}
	outcomes := make([]store.StatusOutcome, len(events))
	if len(events) == 0 {
		return outcomes, nil
	}
	err := s.atomic(ctx, func(tx *Store) error {
		var history []statusRow
		var missed []int
		for i, e := range events {
			// The rank guard in the WHERE clause makes "only forward" hold
			// against concurrent writers without reading first.
			res, err := tx.w.NewUpdate().Model((*messageRow)(nil)).
				Set("status = ?", string(e.Status)).
				Set("status_rank = ?", e.Status.Rank()).
				Set("updated_at = ?", us(e.At)).
				Where("id = ? AND status_rank < ?", e.MessageID, e.Status.Rank()).
				Exec(ctx)
			if err != nil {
				return tx.wrap(err, "apply status to %s", e.MessageID)
			}
			if affected(res) == 1 {
				outcomes[i] = store.StatusApplied
				history = append(history, statusRow{
					MessageID: e.MessageID, Status: string(e.Status), At: us(e.At),
					ErrorCode: e.ErrorCode, ErrorDetail: e.ErrorDetail,
				})
			} else {
				missed = append(missed, i)
			}
		}
		if len(missed) > 0 {
			ids := make([]string, len(missed))
			for j, i := range missed {
				ids[j] = events[i].MessageID
			}
			var existing []string
			if err := tx.w.NewSelect().Model((*messageRow)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).Scan(ctx, &existing); err != nil {
				return tx.wrap(err, "apply statuses: look up ids")
			}
			known := make(map[string]bool, len(existing))
			for _, id := range existing {
				known[id] = true
			}
			for _, i := range missed {
				if known[events[i].MessageID] {
					outcomes[i] = store.StatusStale
				} else {
					outcomes[i] = store.StatusUnknownMessage
				}
			}
		}
		if len(history) == 0 {
			return nil
		}
		return chunks(history, func(part []statusRow) error {
			_, err := tx.w.NewInsert().Model(&part).ExcludeColumn("id").Exec(ctx)
			return tx.wrap(err, "apply statuses: history")
		})
	})
	if err != nil {
		return nil, err
	}
	return outcomes, nil
}

// StatusHistory implements store.MessageStore.
func (s *Store) StatusHistory(ctx context.Context, id string) ([]store.StatusEvent, error) {
	var rows []statusRow
	if err := s.r.NewSelect().Model(&rows).Where("message_id = ?", id).Order("id").Scan(ctx); err != nil {
		return nil, s.wrap(err, "status history of %s", id)
	}
	if len(rows) == 0 {
		// Every stored message has at least its initial status, so an
		// empty history means no message, unless it was stored by hand.
		n, err := s.r.NewSelect().Model((*messageRow)(nil)).Where("id = ?", id).Count(ctx)
		if err != nil {
			return nil, s.wrap(err, "status history of %s", id)
		}
		if n == 0 {
			return nil, store.NotFoundf("message %s", id)
		}
	}
	out := make([]store.StatusEvent, len(rows))
	for i, r := range rows {
		out[i] = store.StatusEvent{MessageID: r.MessageID, Status: store.Status(r.Status), At: fromUS(r.At), ErrorCode: r.ErrorCode, ErrorDetail: r.ErrorDetail}
	}
	return out, nil
}

// DeleteMessages implements store.MessageStore.
func (s *Store) DeleteMessages(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	n := 0
	err := s.atomic(ctx, func(tx *Store) error {
		n = 0
		return chunks(ids, func(part []string) error {
			k, err := tx.deleteMessages(ctx, part)
			n += k
			return err
		})
	})
	return n, err
}

func (s *Store) deleteMessages(ctx context.Context, ids []string) (int, error) {
	if _, err := s.w.NewDelete().Model((*statusRow)(nil)).Where("message_id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return 0, s.wrap(err, "delete message history")
	}
	res, err := s.w.NewDelete().Model((*messageRow)(nil)).Where("id IN (?)", bun.In(ids)).Exec(ctx)
	if err != nil {
		return 0, s.wrap(err, "delete messages")
	}
	return affected(res), nil
}

// PruneMessages implements store.MessageStore.
func (s *Store) PruneMessages(ctx context.Context, q store.PruneQuery) (int, error) {
	if !q.Direction.Valid() {
		return 0, store.Invalidf("prune messages: unknown direction %q", q.Direction)
	}
	if err := checkLimit(q.Limit, "prune messages"); err != nil {
		return 0, err
	}
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		if !st.Valid() {
			return 0, store.Invalidf("prune messages: unknown status %q", st)
		}
		statuses[i] = string(st)
	}
	n := 0
	err := s.atomic(ctx, func(tx *Store) error {
		// Select first, then delete by id: MySQL refuses DELETE ... LIMIT
		// with a subquery on the same table, and the batch stays bounded.
		sel := tx.w.NewSelect().Model((*messageRow)(nil)).Column("id").
			Where("direction = ?", string(q.Direction)).
			Where("updated_at < ?", us(q.UpdatedBefore)).
			Where("NOT EXISTS (SELECT 1 FROM waent_outbox o WHERE o.message_id = m.id)").
			Order("updated_at").Limit(int64(q.Limit))
		if len(statuses) > 0 {
			sel = sel.Where("status IN (?)", bun.In(statuses))
		}
		var ids []string
		if err := sel.Scan(ctx, &ids); err != nil {
			return tx.wrap(err, "prune messages: select")
		}
		if len(ids) == 0 {
			n = 0
			return nil
		}
		var err error
		n, err = tx.deleteMessages(ctx, ids)
		return err
	})
	return n, err
}
