package memstore

import (
	"cmp"
	"context"
	"slices"

	"github.com/waent/waent/store"
)

func (o op) AddMessages(ctx context.Context, msgs []store.Message) ([]bool, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	for _, m := range msgs {
		if err := m.Validate(); err != nil {
			return nil, err
		}
	}
	added := make([]bool, len(msgs))
	for i, m := range msgs {
		if _, ok := o.st.messages[m.ID]; ok {
			continue // stored already, or earlier in this batch: the first wins
		}
		m = copyMessage(m)
		if m.UpdatedAt.IsZero() {
			m.UpdatedAt = m.CreatedAt
		}
		put(o, o.st.messages, m.ID, m)
		put(o, o.st.history, m.ID, []store.StatusEvent{{MessageID: m.ID, Status: m.Status, At: m.CreatedAt}})
		added[i] = true
	}
	return added, nil
}

func (o op) GetMessage(ctx context.Context, id string) (store.Message, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Message{}, err
	}
	defer leave()
	m, ok := o.st.messages[id]
	if !ok {
		return store.Message{}, store.NotFoundf("message %s", id)
	}
	return copyMessage(m), nil
}

func (o op) ApplyStatuses(ctx context.Context, events []store.StatusEvent) ([]store.StatusOutcome, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return nil, err
		}
	}
	out := make([]store.StatusOutcome, len(events))
	for i, e := range events {
		m, ok := o.st.messages[e.MessageID]
		switch {
		case !ok, e.Peer != "" && e.Peer != m.Peer, e.Direction != "" && e.Direction != m.Direction:
			out[i] = store.StatusUnknownMessage
		case e.Status.Rank() <= m.Status.Rank():
			out[i] = store.StatusStale
		default:
			e = copyStatusEvent(e)
			e.Peer, e.Direction = "", "" // conditions, not history
			m.Status = e.Status
			m.UpdatedAt = e.At
			put(o, o.st.messages, m.ID, m)
			// Appending may write into the spare capacity of the stored
			// slice; that is invisible to the restored (shorter) slice header
			// an undo puts back.
			put(o, o.st.history, m.ID, append(o.st.history[m.ID], e))
			out[i] = store.StatusApplied
		}
	}
	return out, nil
}

func (o op) StatusHistory(ctx context.Context, id string) ([]store.StatusEvent, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	if _, ok := o.st.messages[id]; !ok {
		return nil, store.NotFoundf("message %s", id)
	}
	return slices.Clone(o.st.history[id]), nil
}

func (o op) DeleteMessages(ctx context.Context, ids []string) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	n := 0
	for _, id := range ids {
		n += o.deleteMessage(id)
	}
	return n, nil
}

// deleteMessage removes a message and its history and returns 1 if it existed.
func (o op) deleteMessage(id string) int {
	if !del(o, o.st.messages, id) {
		return 0
	}
	del(o, o.st.history, id)
	return 1
}

func (o op) PruneMessages(ctx context.Context, q store.PruneQuery) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if q.Limit <= 0 {
		return 0, store.Invalidf("prune messages: limit must be positive, got %d", q.Limit)
	}
	if !q.Direction.Valid() {
		return 0, store.Invalidf("prune messages: unknown direction %q", q.Direction)
	}
	for _, s := range q.Statuses {
		if !s.Valid() {
			return 0, store.Invalidf("prune messages: unknown status %q", s)
		}
	}
	var victims []store.Message
	for id, m := range o.st.messages {
		if m.Direction != q.Direction {
			continue
		}
		if len(q.Statuses) > 0 && !slices.Contains(q.Statuses, m.Status) {
			continue
		}
		if !m.UpdatedAt.Before(norm(q.UpdatedBefore)) {
			continue
		}
		if _, queued := o.st.outbox[id]; queued {
			continue
		}
		victims = append(victims, m)
	}
	slices.SortFunc(victims, func(a, b store.Message) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.ID, b.ID))
	})
	victims = victims[:min(q.Limit, len(victims))]
	for _, m := range victims {
		o.deleteMessage(m.ID)
	}
	return len(victims), nil
}
