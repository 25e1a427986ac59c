package sqlstore

import (
	"context"
	"time"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
)

type outboxRow struct {
	bun.BaseModel `bun:"table:waent_outbox,alias:o"`

	Seq           int64  `bun:"seq,pk,autoincrement"`
	MessageID     string `bun:"message_id"`
	Recipient     string `bun:"recipient"`
	Attempts      int    `bun:"attempts"`
	NextAttemptAt int64  `bun:"next_attempt_at"`
	LastError     string `bun:"last_error"`
	CreatedAt     int64  `bun:"created_at"`
}

// EnqueueOutbox implements store.OutboxStore.
func (s *Store) EnqueueOutbox(ctx context.Context, items []store.OutboxItem) error {
	rows := make([]outboxRow, len(items))
	for i, it := range items {
		if err := it.Validate(); err != nil {
			return err
		}
		rows[i] = outboxRow{
			MessageID: it.MessageID, Recipient: it.Recipient, Attempts: it.Attempts,
			NextAttemptAt: us(it.NextAttemptAt), LastError: it.LastError, CreatedAt: us(it.CreatedAt),
		}
	}
	if len(rows) == 0 {
		return nil
	}
	// A multi-row INSERT assigns auto-increment keys in row order on every
	// backend, which is the FIFO order.
	return s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []outboxRow) error {
			_, err := tx.w.NewInsert().Model(&part).ExcludeColumn("seq").Exec(ctx)
			return tx.wrap(err, "enqueue outbox")
		})
	})
}

// DueOutbox implements store.OutboxStore.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error) {
	if err := checkLimit(limit, "due outbox"); err != nil {
		return nil, err
	}
	t := us(now)
	var rows []outboxRow
	err := s.r.NewSelect().Model(&rows).
		Where("o.next_attempt_at <= ?", t).
		Where("NOT EXISTS (SELECT 1 FROM waent_outbox p WHERE p.recipient = o.recipient AND p.seq < o.seq AND p.next_attempt_at > ?)", t).
		Order("o.seq").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, s.wrap(err, "due outbox")
	}
	out := make([]store.OutboxItem, len(rows))
	for i, r := range rows {
		out[i] = store.OutboxItem{
			MessageID: r.MessageID, Recipient: r.Recipient, Seq: r.Seq, Attempts: r.Attempts,
			NextAttemptAt: fromUS(r.NextAttemptAt), LastError: r.LastError, CreatedAt: fromUS(r.CreatedAt),
		}
	}
	return out, nil
}

// RescheduleOutbox implements store.OutboxStore.
func (s *Store) RescheduleOutbox(ctx context.Context, messageID string, attempts int, next time.Time, lastError string) error {
	if attempts < 0 {
		return store.Invalidf("reschedule outbox %s: negative attempts", messageID)
	}
	res, err := s.w.NewUpdate().Model((*outboxRow)(nil)).
		Set("attempts = ?", attempts).Set("next_attempt_at = ?", us(next)).Set("last_error = ?", lastError).
		Where("message_id = ?", messageID).Exec(ctx)
	if err != nil {
		return s.wrap(err, "reschedule outbox %s", messageID)
	}
	if affected(res) == 0 {
		return store.NotFoundf("outbox item %s", messageID)
	}
	return nil
}

// DeleteOutbox implements store.OutboxStore.
func (s *Store) DeleteOutbox(ctx context.Context, messageIDs []string) (int, error) {
	if len(messageIDs) == 0 {
		return 0, nil
	}
	n := 0
	err := s.atomic(ctx, func(tx *Store) error {
		n = 0
		return chunks(messageIDs, func(part []string) error {
			res, err := tx.w.NewDelete().Model((*outboxRow)(nil)).Where("message_id IN (?)", bun.In(part)).Exec(ctx)
			n += affected(res)
			return tx.wrap(err, "delete outbox")
		})
	})
	return n, err
}

// OutboxLen implements store.OutboxStore.
func (s *Store) OutboxLen(ctx context.Context) (int, error) {
	n, err := s.r.NewSelect().Model((*outboxRow)(nil)).Count(ctx)
	return int(n), s.wrap(err, "outbox length")
}

type callbackRow struct {
	bun.BaseModel `bun:"table:waent_callbacks,alias:c"`

	Seq           int64  `bun:"seq,pk,autoincrement"`
	Kind          string `bun:"kind"`
	Payload       []byte `bun:"payload"`
	Attempts      int    `bun:"attempts"`
	NextAttemptAt int64  `bun:"next_attempt_at"`
	CreatedAt     int64  `bun:"created_at"`
}

// EnqueueCallbacks implements store.CallbackStore.
func (s *Store) EnqueueCallbacks(ctx context.Context, cbs []store.Callback) error {
	rows := make([]callbackRow, len(cbs))
	for i, c := range cbs {
		if err := c.Validate(); err != nil {
			return err
		}
		rows[i] = callbackRow{Kind: c.Kind, Payload: c.Payload, Attempts: c.Attempts, NextAttemptAt: us(c.NextAttemptAt), CreatedAt: us(c.CreatedAt)}
	}
	if len(rows) == 0 {
		return nil
	}
	return s.atomic(ctx, func(tx *Store) error {
		return chunks(rows, func(part []callbackRow) error {
			_, err := tx.w.NewInsert().Model(&part).ExcludeColumn("seq").Exec(ctx)
			return tx.wrap(err, "enqueue callbacks")
		})
	})
}

// PendingCallbacks implements store.CallbackStore.
func (s *Store) PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]store.Callback, error) {
	if err := checkLimit(limit, "pending callbacks"); err != nil {
		return nil, err
	}
	var rows []callbackRow
	if err := s.r.NewSelect().Model(&rows).Where("seq > ?", afterSeq).Order("seq").Limit(int64(limit)).Scan(ctx); err != nil {
		return nil, s.wrap(err, "pending callbacks")
	}
	out := make([]store.Callback, len(rows))
	for i, r := range rows {
		out[i] = store.Callback{Seq: r.Seq, Kind: r.Kind, Payload: r.Payload, Attempts: r.Attempts, NextAttemptAt: fromUS(r.NextAttemptAt), CreatedAt: fromUS(r.CreatedAt)}
	}
	return out, nil
}

// RescheduleCallback implements store.CallbackStore.
func (s *Store) RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error {
	if attempts < 0 {
		return store.Invalidf("reschedule callback %d: negative attempts", seq)
	}
	res, err := s.w.NewUpdate().Model((*callbackRow)(nil)).
		Set("attempts = ?", attempts).Set("next_attempt_at = ?", us(next)).
		Where("seq = ?", seq).Exec(ctx)
	if err != nil {
		return s.wrap(err, "reschedule callback %d", seq)
	}
	if affected(res) == 0 {
		return store.NotFoundf("callback %d", seq)
	}
	return nil
}

// AckCallbacks implements store.CallbackStore.
func (s *Store) AckCallbacks(ctx context.Context, seqs []int64) (int, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	n := 0
	err := s.atomic(ctx, func(tx *Store) error {
		n = 0
		return chunks(seqs, func(part []int64) error {
			res, err := tx.w.NewDelete().Model((*callbackRow)(nil)).Where("seq IN (?)", bun.In(part)).Exec(ctx)
			n += affected(res)
			return tx.wrap(err, "ack callbacks")
		})
	})
	return n, err
}

// CallbackQueueLen implements store.CallbackStore.
func (s *Store) CallbackQueueLen(ctx context.Context) (int, error) {
	n, err := s.r.NewSelect().Model((*callbackRow)(nil)).Count(ctx)
	return int(n), s.wrap(err, "callback queue length")
}
