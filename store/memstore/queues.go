package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/waent/waent/store"
)

// Outbox.

func (o op) EnqueueOutbox(ctx context.Context, items []store.OutboxItem) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if err := it.Validate(); err != nil {
			return err
		}
		if _, ok := o.st.outbox[it.MessageID]; ok || seen[it.MessageID] {
			return store.Conflictf("outbox: message %s already queued", it.MessageID)
		}
		seen[it.MessageID] = true
	}
	for _, it := range items {
		it = copyOutboxItem(it)
		o.st.outboxSeq++ // not undone: a rolled-back transaction leaves a gap
		it.Seq = o.st.outboxSeq
		put(o, o.st.outbox, it.MessageID, it)
	}
	return nil
}

// due reports whether an attempt scheduled at next may be made at now; the
// zero time is always due.
func due(next, now time.Time) bool { return !next.After(now) }

func (o op) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if limit <= 0 {
		return nil, store.Invalidf("due outbox: limit must be positive, got %d", limit)
	}
	now = norm(now)
	all := make([]store.OutboxItem, 0, len(o.st.outbox))
	for _, it := range o.st.outbox {
		all = append(all, it)
	}
	slices.SortFunc(all, func(a, b store.OutboxItem) int { return cmp.Compare(a.Seq, b.Seq) })
	blocked := map[string]bool{} // recipients with an earlier item not yet due
	out := []store.OutboxItem{}
	for _, it := range all {
		if len(out) == limit {
			break
		}
		if blocked[it.Recipient] {
			continue
		}
		if !due(it.NextAttemptAt, now) {
			blocked[it.Recipient] = true
			continue
		}
		out = append(out, copyOutboxItem(it))
	}
	return out, nil
}

func (o op) RescheduleOutbox(ctx context.Context, messageID string, attempts int, next time.Time, lastError string) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if attempts < 0 {
		return store.Invalidf("outbox %s: negative attempts", messageID)
	}
	it, ok := o.st.outbox[messageID]
	if !ok {
		return store.NotFoundf("outbox %s", messageID)
	}
	it.Attempts = attempts
	it.NextAttemptAt = norm(next)
	it.LastError = lastError
	put(o, o.st.outbox, messageID, it)
	return nil
}

func (o op) DeleteOutbox(ctx context.Context, messageIDs []string) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	n := 0
	for _, id := range messageIDs {
		if del(o, o.st.outbox, id) {
			n++
		}
	}
	return n, nil
}

func (o op) OutboxLen(ctx context.Context) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	return len(o.st.outbox), nil
}

// Callbacks.

func (o op) EnqueueCallbacks(ctx context.Context, cbs []store.Callback) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	for _, c := range cbs {
		if err := c.Validate(); err != nil {
			return err
		}
	}
	for _, c := range cbs {
		c = copyCallback(c)
		o.st.callbackSeq++ // not undone: a rolled-back transaction leaves a gap
		c.Seq = o.st.callbackSeq
		put(o, o.st.callbacks, c.Seq, c)
	}
	return nil
}

func (o op) PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]store.Callback, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if limit <= 0 {
		return nil, store.Invalidf("pending callbacks: limit must be positive, got %d", limit)
	}
	var seqs []int64
	for seq := range o.st.callbacks {
		if seq > afterSeq {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	seqs = seqs[:min(limit, len(seqs))]
	out := make([]store.Callback, 0, len(seqs))
	for _, seq := range seqs {
		out = append(out, copyCallback(o.st.callbacks[seq]))
	}
	return out, nil
}

func (o op) RescheduleCallback(ctx context.Context, seq int64, attempts int, next time.Time) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if attempts < 0 {
		return store.Invalidf("callback %d: negative attempts", seq)
	}
	c, ok := o.st.callbacks[seq]
	if !ok {
		return store.NotFoundf("callback %d", seq)
	}
	c.Attempts = attempts
	c.NextAttemptAt = norm(next)
	put(o, o.st.callbacks, seq, c)
	return nil
}

func (o op) AckCallbacks(ctx context.Context, seqs []int64) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	n := 0
	for _, seq := range seqs {
		if del(o, o.st.callbacks, seq) {
			n++
		}
	}
	return n, nil
}

func (o op) CallbackQueueLen(ctx context.Context) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	return len(o.st.callbacks), nil
}
