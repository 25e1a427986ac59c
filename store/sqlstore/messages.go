package sqlstore

import (
	"context"
	"fmt"
	"strings"

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
//
// bun inlines every value, so each statement is parsed afresh and, on a
// server, costs a round trip: per chunk of events it therefore reads the
// ranks once, decides every outcome in Go and writes with one UPDATE and
// one history INSERT, whatever the number of events.
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
		// Chunks run in order in one transaction, so a later chunk reads
		// the ranks an earlier one wrote.
		for lo := 0; lo < len(events); lo += batchRows {
			hi := min(lo+batchRows, len(events))
			if err := tx.applyStatusChunk(ctx, events[lo:hi], outcomes[lo:hi]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return outcomes, nil
}

// rankState is one message's rank as read, and as the events of a chunk
// leave it.
type rankState struct {
	read, rank      int
	status          string
	at              int64
	peer, direction string // for the events' conditions
}

// applyStatusChunk applies events (at most batchRows) in three statements
// and fills outcomes, which is parallel to events.
func (s *Store) applyStatusChunk(ctx context.Context, events []store.StatusEvent, outcomes []store.StatusOutcome) error {
	ids := make([]string, 0, len(events))
	seen := make(map[string]bool, len(events))
	for _, e := range events {
		if !seen[e.MessageID] {
			seen[e.MessageID] = true
			ids = append(ids, e.MessageID)
		}
	}

	// The rows stay locked until commit, so the ranks decided on below
	// cannot be overtaken by a concurrent writer; taking the locks in key
	// order means two batches naming the same messages in different orders
	// queue behind each other instead of deadlocking. SQLite needs neither:
	// the transaction holds the database's only write lock from BEGIN.
	var rows []messageRow
	sel := s.w.NewSelect().Model(&rows).Column("id", "status_rank", "peer", "direction").Where("id IN (?)", bun.In(ids)).OrderExpr("id")
	if s.backend != SQLite {
		sel = sel.For("UPDATE")
	}
	if err := sel.Scan(ctx); err != nil {
		return s.wrap(err, "apply statuses: read ranks")
	}
	state := make(map[string]*rankState, len(rows))
	for _, r := range rows {
		state[r.ID] = &rankState{read: r.StatusRank, rank: r.StatusRank, peer: r.Peer, direction: r.Direction}
	}

	var history []statusRow
	for i, e := range events {
		st := state[e.MessageID]
		switch {
		case st == nil, e.Peer != "" && e.Peer != st.peer, e.Direction != "" && string(e.Direction) != st.direction:
			outcomes[i] = store.StatusUnknownMessage
		case e.Status.Rank() <= st.rank:
			outcomes[i] = store.StatusStale
		default:
			outcomes[i] = store.StatusApplied
			st.rank, st.status, st.at = e.Status.Rank(), string(e.Status), us(e.At)
			history = append(history, statusRow{
				MessageID: e.MessageID, Status: string(e.Status), At: st.at,
				ErrorCode: e.ErrorCode, ErrorDetail: e.ErrorDetail,
			})
		}
	}
	if len(history) == 0 {
		return nil
	}

	var changed []string
	for _, id := range ids {
		if st := state[id]; st != nil && st.rank != st.read {
			changed = append(changed, id)
		}
	}
	res, err := s.w.NewRaw(s.rankUpdate(len(changed)), rankUpdateArgs(changed, state)...).Exec(ctx)
	if err != nil {
		return s.wrap(err, "apply statuses: update")
	}
	if n := affected(res); n != len(changed) {
		return fmt.Errorf("sqlstore: apply statuses: %d of %d messages changed under the batch: %w", len(changed)-n, len(changed), store.ErrConflict)
	}

	// A multi-row INSERT numbers its rows in order, which is the order
	// StatusHistory returns.
	_, err = s.w.NewInsert().Model(&history).ExcludeColumn("id").Exec(ctx)
	return s.wrap(err, "apply statuses: history")
}

// rankUpdate is one UPDATE of n messages, joined with a derived table of
// (id, status, status_rank, updated_at, read_rank) rows: an index lookup per
// row, where a CASE on the id per column would compare every row with every
// id. The join also requires the rank that was read: the row locks make
// that hold, and if it ever did not, the caller fails the batch instead of
// recording a history the messages do not match.
func (s *Store) rankUpdate(n int) string {
	var b strings.Builder
	switch s.backend {
	case MySQL:
		// MariaDB and MySQL spell a VALUES table differently (MySQL only
		// since 8.0.19); a UNION ALL of one-row SELECTs is one both accept.
		b.WriteString("UPDATE waent_messages AS m JOIN (SELECT ? AS id, ? AS status, ? AS status_rank, ? AS updated_at, ? AS read_rank")
		for range n - 1 {
			b.WriteString(" UNION ALL SELECT ?, ?, ?, ?, ?")
		}
		b.WriteString(") AS v ON m.id = v.id AND m.status_rank = v.read_rank" +
			" SET m.status = v.status, m.status_rank = v.status_rank, m.updated_at = v.updated_at")
	case Postgres:
		b.WriteString("UPDATE waent_messages AS m SET status = v.status, status_rank = v.status_rank, updated_at = v.updated_at FROM (VALUES ")
		writeTuples(&b, n)
		b.WriteString(") AS v (id, status, status_rank, updated_at, read_rank) WHERE m.id = v.id AND m.status_rank = v.read_rank")
	default:
		// SQLite names the columns of a VALUES table column1, column2...
		b.WriteString("UPDATE waent_messages AS m SET status = v.column2, status_rank = v.column3, updated_at = v.column4 FROM (VALUES ")
		writeTuples(&b, n)
		b.WriteString(") AS v WHERE m.id = v.column1 AND m.status_rank = v.column5")
	}
	return b.String()
}

func writeTuples(b *strings.Builder, n int) {
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?)")
	}
}

// rankUpdateArgs are the values of rankUpdate's derived table, in the
// order of its placeholders.
func rankUpdateArgs(ids []string, state map[string]*rankState) []any {
	args := make([]any, 0, 5*len(ids))
	for _, id := range ids {
		st := state[id]
		args = append(args, id, st.status, st.rank, st.at, st.read)
	}
	return args
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
