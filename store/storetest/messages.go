package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func outMsg(id string, d time.Duration) store.Message {
	return store.Message{
		ID:        id,
		Direction: store.Outbound,
		Peer:      "15550100",
		Type:      "text",
		// Not canonical JSON on purpose: the store must not interpret it.
		Payload:   []byte(`{"to": "15550100",  "type":"text", "text":{"body":"hello ` + id + `"}, "a":1}`),
		Status:    store.StatusPending,
		CreatedAt: at(d),
		UpdatedAt: at(d),
	}
}

func inMsg(id string, d time.Duration) store.Message {
	return store.Message{
		ID:        id,
		Direction: store.Inbound,
		Peer:      "15550199",
		GroupID:   "120363000000000001@g.us",
		Type:      "image",
		Payload:   []byte(`{"image":{"id":"` + id + `-media","mime_type":"image/jpeg"} }`),
		Status:    store.StatusReceived,
		CreatedAt: at(d),
		UpdatedAt: at(d),
	}
}

// addMsgs adds msgs and stops the test unless every one was new.
func addMsgs(t *testing.T, s store.MessageStore, msgs ...store.Message) {
	t.Helper()
	added, err := s.AddMessages(t.Context(), msgs)
	must(t, "AddMessages", err)
	want := make([]bool, len(msgs))
	for i := range want {
		want[i] = true
	}
	if !slices.Equal(added, want) {
		t.Fatalf("AddMessages of new messages: added = %v, want %v", added, want)
	}
}

func event(id string, st store.Status, d time.Duration) store.StatusEvent {
	return store.StatusEvent{MessageID: id, Status: st, At: at(d)}
}

func checkMessage(t *testing.T, s store.MessageStore, what string, want store.Message) {
	t.Helper()
	got, err := s.GetMessage(t.Context(), want.ID)
	if ok(t, what+": GetMessage "+want.ID, err) {
		equal(t, what+": GetMessage "+want.ID, got, want)
	}
}

func checkNoMessage(t *testing.T, s store.MessageStore, what, id string) {
	t.Helper()
	_, err := s.GetMessage(t.Context(), id)
	isErr(t, what+": GetMessage "+id, err, store.ErrNotFound)
}

func checkHistory(t *testing.T, s store.MessageStore, what, id string, want []store.StatusEvent) {
	t.Helper()
	got, err := s.StatusHistory(t.Context(), id)
	if ok(t, what+": StatusHistory "+id, err) {
		equal(t, what+": StatusHistory "+id, got, want)
	}
}

func applyStatuses(t *testing.T, s store.MessageStore, what string, events []store.StatusEvent, want []store.StatusOutcome) {
	t.Helper()
	got, err := s.ApplyStatuses(t.Context(), events)
	if ok(t, what+": ApplyStatuses", err) {
		equal(t, what+": ApplyStatuses outcomes", got, want)
	}
}

// withStatus is m after ev was applied.
func withStatus(m store.Message, ev store.StatusEvent) store.Message {
	m.Status = ev.Status
	m.UpdatedAt = ev.At
	return m
}

func initial(m store.Message) store.StatusEvent {
	return store.StatusEvent{MessageID: m.ID, Status: m.Status, At: m.CreatedAt}
}

func testMessages(t *testing.T, s store.Store) {
	t.Run("AddGet", func(t *testing.T) {
		ctx := t.Context()
		checkNoMessage(t, s, "before any add", "m-add-1")
		out, in := outMsg("m-add-1", 0), inMsg("m-add-2", time.Second)
		addMsgs(t, s, out, in)
		checkMessage(t, s, "after add", out)
		checkMessage(t, s, "after add", in)
		// Each new message has its initial status in the history.
		checkHistory(t, s, "after add", out.ID, []store.StatusEvent{initial(out)})
		checkHistory(t, s, "after add", in.ID, []store.StatusEvent{initial(in)})
		_, err := s.StatusHistory(ctx, "m-never")
		isErr(t, "StatusHistory of an unknown message", err, store.ErrNotFound)

		// UpdatedAt is the time of the latest status change; left zero, it
		// is the time of the initial status, CreatedAt.
		noUpdate := outMsg("m-add-3", 2*time.Second)
		noUpdate.UpdatedAt = time.Time{}
		addMsgs(t, s, noUpdate)
		want := noUpdate
		want.UpdatedAt = noUpdate.CreatedAt
		checkMessage(t, s, "added with a zero UpdatedAt", want)
	})

	t.Run("Duplicates", func(t *testing.T) {
		ctx := t.Context()
		orig := inMsg("m-dup-1", 0)
		addMsgs(t, s, orig)
		redelivered := orig
		redelivered.Payload = []byte(`{"changed":true}`)
		redelivered.Status = store.StatusRead
		redelivered.CreatedAt, redelivered.UpdatedAt = at(time.Hour), at(time.Hour)
		first, second := inMsg("m-dup-2", 2*time.Second), inMsg("m-dup-2", 3*time.Second)
		second.Payload = []byte(`{"second":true}`)
		fresh := inMsg("m-dup-3", 4*time.Second)
		// Already stored: skipped. Twice in one batch: the first wins.
		added, err := s.AddMessages(ctx, []store.Message{redelivered, first, second, fresh})
		if ok(t, "AddMessages with duplicates", err) {
			equal(t, "AddMessages with duplicates: added", added, []bool{false, true, false, true})
		}
		checkMessage(t, s, "stored before a redelivery", orig)
		checkMessage(t, s, "first of two in one batch", first)
		checkMessage(t, s, "after a batch with duplicates", fresh)
		checkHistory(t, s, "stored before a redelivery", orig.ID, []store.StatusEvent{initial(orig)})
		checkHistory(t, s, "first of two in one batch", first.ID, []store.StatusEvent{initial(first)})
		// A batch of only known ids adds nothing.
		added, err = s.AddMessages(ctx, []store.Message{orig, fresh})
		if ok(t, "AddMessages of known ids", err) {
			equal(t, "AddMessages of known ids: added", added, []bool{false, false})
		}
	})

	t.Run("ApplyStatuses", func(t *testing.T) {
		m := outMsg("m-st-1", 0)
		addMsgs(t, s, m)
		sent, delivered, read := event(m.ID, store.StatusSent, time.Second), event(m.ID, store.StatusDelivered, 2*time.Second), event(m.ID, store.StatusRead, 5*time.Second)
		applyStatuses(t, s, "forward then backward", []store.StatusEvent{
			sent,
			delivered,
			event(m.ID, store.StatusSent, 3*time.Second),      // backwards
			event(m.ID, store.StatusDelivered, 4*time.Second), // same again
			event("m-st-unknown", store.StatusRead, 4*time.Second),
			read,
			event(m.ID, store.StatusDelivered, 6*time.Second), // late receipt
			event(m.ID, store.StatusPending, 7*time.Second),
		}, []store.StatusOutcome{
			store.StatusApplied, store.StatusApplied, store.StatusStale, store.StatusStale,
			store.StatusUnknownMessage, store.StatusApplied, store.StatusStale, store.StatusStale,
		})
		// UpdatedAt follows applied events only.
		checkMessage(t, s, "after statuses", withStatus(m, read))
		checkHistory(t, s, "after statuses", m.ID, []store.StatusEvent{initial(m), sent, delivered, read})
		checkNoMessage(t, s, "status for an unknown message", "m-st-unknown")

		// Separate calls follow the same rule.
		applyStatuses(t, s, "read again", []store.StatusEvent{event(m.ID, store.StatusRead, 8*time.Second)}, []store.StatusOutcome{store.StatusStale})
		applyStatuses(t, s, "delivered after read", []store.StatusEvent{event(m.ID, store.StatusDelivered, 9*time.Second)}, []store.StatusOutcome{store.StatusStale})
		checkMessage(t, s, "after stale calls", withStatus(m, read))
		checkHistory(t, s, "after stale calls", m.ID, []store.StatusEvent{initial(m), sent, delivered, read})
	})

	t.Run("DeliveredThenSent", func(t *testing.T) {
		m := outMsg("m-st-2", 0)
		addMsgs(t, s, m)
		delivered := event(m.ID, store.StatusDelivered, time.Second)
		applyStatuses(t, s, "delivered", []store.StatusEvent{delivered}, []store.StatusOutcome{store.StatusApplied})
		applyStatuses(t, s, "sent after delivered", []store.StatusEvent{event(m.ID, store.StatusSent, 2*time.Second)}, []store.StatusOutcome{store.StatusStale})
		checkMessage(t, s, "after sent after delivered", withStatus(m, delivered))
		checkHistory(t, s, "after sent after delivered", m.ID, []store.StatusEvent{initial(m), delivered})
	})

	t.Run("PendingToRead", func(t *testing.T) {
		m := outMsg("m-st-3", 0)
		addMsgs(t, s, m)
		read := event(m.ID, store.StatusRead, time.Minute)
		applyStatuses(t, s, "pending to read", []store.StatusEvent{read}, []store.StatusOutcome{store.StatusApplied})
		checkMessage(t, s, "after pending to read", withStatus(m, read))
		checkHistory(t, s, "after pending to read", m.ID, []store.StatusEvent{initial(m), read})
	})

	t.Run("FailedAndDeleted", func(t *testing.T) {
		m := outMsg("m-st-4", 0)
		addMsgs(t, s, m)
		sent := event(m.ID, store.StatusSent, time.Second)
		failed := event(m.ID, store.StatusFailed, 2*time.Second)
		failed.ErrorCode, failed.ErrorDetail = 131047, "Re-engagement message: more than 24 hours since the customer last replied"
		deleted := event(m.ID, store.StatusDeleted, 4*time.Second)
		applyStatuses(t, s, "sent, failed, read, deleted, failed", []store.StatusEvent{
			sent, failed, event(m.ID, store.StatusRead, 3*time.Second), deleted, event(m.ID, store.StatusFailed, 5*time.Second),
		}, []store.StatusOutcome{store.StatusApplied, store.StatusApplied, store.StatusStale, store.StatusApplied, store.StatusStale})
		checkMessage(t, s, "after deleted", withStatus(m, deleted))
		checkHistory(t, s, "after failed and deleted", m.ID, []store.StatusEvent{initial(m), sent, failed, deleted})
	})

	t.Run("Inbound", func(t *testing.T) {
		m := inMsg("m-in-1", 0)
		addMsgs(t, s, m)
		read := event(m.ID, store.StatusRead, time.Minute)
		applyStatuses(t, s, "inbound", []store.StatusEvent{
			event(m.ID, store.StatusReceived, time.Second), read, event(m.ID, store.StatusReceived, 2*time.Minute),
		}, []store.StatusOutcome{store.StatusStale, store.StatusApplied, store.StatusStale})
		checkMessage(t, s, "inbound after read", withStatus(m, read))
		checkHistory(t, s, "inbound after read", m.ID, []store.StatusEvent{initial(m), read})
	})

	t.Run("Conditions", func(t *testing.T) {
		out, in := outMsg("m-cond-1", 0), inMsg("m-cond-2", 0)
		addMsgs(t, s, out, in)
		// A receipt from a phone: only that phone's outbound messages.
		fromPhone := func(id, peer string, st store.Status, d time.Duration) store.StatusEvent {
			e := event(id, st, d)
			e.Peer, e.Direction = peer, store.Outbound
			return e
		}
		delivered := fromPhone(out.ID, out.Peer, store.StatusDelivered, time.Second)
		applyStatuses(t, s, "conditions", []store.StatusEvent{
			fromPhone(out.ID, "someone-else", store.StatusRead, time.Second), // wrong peer
			fromPhone(in.ID, in.Peer, store.StatusRead, time.Second),         // an inbound message
			delivered,
		}, []store.StatusOutcome{store.StatusUnknownMessage, store.StatusUnknownMessage, store.StatusApplied})
		checkMessage(t, s, "outbound after conditional events", withStatus(out, delivered))
		checkMessage(t, s, "inbound after conditional events", in)
		// The conditions are not history.
		recorded := delivered
		recorded.Peer, recorded.Direction = "", ""
		checkHistory(t, s, "after conditional events", out.ID, []store.StatusEvent{initial(out), recorded})
	})

	t.Run("LargeBatch", func(t *testing.T) { testLargeStatusBatch(t, s) })

	t.Run("Invalid", func(t *testing.T) {
		ctx := t.Context()
		good := outMsg("m-inv-ok", 0)
		for _, c := range []struct {
			what   string
			mutate func(*store.Message)
		}{
			{"empty id", func(m *store.Message) { m.ID = "" }},
			{"129-byte id", func(m *store.Message) { m.ID = string(bytesOf('a', store.MaxIDLen+1)) }},
			{"unknown direction", func(m *store.Message) { m.Direction = "sideways" }},
			{"empty peer", func(m *store.Message) { m.Peer = "" }},
			{"empty type", func(m *store.Message) { m.Type = "" }},
			{"unknown status", func(m *store.Message) { m.Status = "lost" }},
		} {
			bad := outMsg("m-inv-bad", 0)
			c.mutate(&bad)
			_, err := s.AddMessages(ctx, []store.Message{good, bad})
			isErr(t, "AddMessages with "+c.what, err, store.ErrInvalid)
		}
		checkNoMessage(t, s, "after invalid batches", good.ID)

		m := outMsg("m-inv-1", 0)
		addMsgs(t, s, m)
		for _, c := range []struct {
			what string
			ev   store.StatusEvent
		}{
			{"unknown status", event(m.ID, "lost", 2*time.Second)},
			{"empty message id", event("", store.StatusRead, 2*time.Second)},
			{"zero time", store.StatusEvent{MessageID: m.ID, Status: store.StatusRead}},
		} {
			_, err := s.ApplyStatuses(ctx, []store.StatusEvent{event(m.ID, store.StatusSent, time.Second), c.ev})
			isErr(t, "ApplyStatuses with "+c.what, err, store.ErrInvalid)
		}
		checkMessage(t, s, "after invalid status batches", m)
		checkHistory(t, s, "after invalid status batches", m.ID, []store.StatusEvent{initial(m)})
	})

	t.Run("Delete", func(t *testing.T) {
		ctx := t.Context()
		m1, m2, m3 := outMsg("m-del-1", 0), inMsg("m-del-2", time.Second), outMsg("m-del-3", 2*time.Second)
		addMsgs(t, s, m1, m2, m3)
		applyStatuses(t, s, "before delete", []store.StatusEvent{event(m1.ID, store.StatusSent, 3*time.Second)}, []store.StatusOutcome{store.StatusApplied})
		n, err := s.DeleteMessages(ctx, []string{m1.ID, "m-del-never", m2.ID})
		if ok(t, "DeleteMessages", err) && n != 2 {
			t.Errorf("DeleteMessages of 2 stored and 1 unknown = %d, want 2", n)
		}
		for _, id := range []string{m1.ID, m2.ID} {
			checkNoMessage(t, s, "after delete", id)
			_, err := s.StatusHistory(ctx, id)
			isErr(t, "StatusHistory of a deleted message", err, store.ErrNotFound)
		}
		applyStatuses(t, s, "after delete", []store.StatusEvent{event(m1.ID, store.StatusRead, 4*time.Second)}, []store.StatusOutcome{store.StatusUnknownMessage})
		checkMessage(t, s, "not deleted", m3)
		n, err = s.DeleteMessages(ctx, []string{m1.ID, m2.ID})
		if ok(t, "DeleteMessages again", err) && n != 0 {
			t.Errorf("DeleteMessages again = %d, want 0", n)
		}
		// Added again, it starts over: the old history went with it.
		again := outMsg(m1.ID, time.Hour)
		addMsgs(t, s, again)
		checkMessage(t, s, "re-added after delete", again)
		checkHistory(t, s, "re-added after delete", again.ID, []store.StatusEvent{initial(again)})
	})

	t.Run("Prune", func(t *testing.T) { testPruneMessages(t, s) })
}

// testLargeStatusBatch applies one batch of far more events than any
// store's natural statement size, mixing many events for the same message
// (some throughout the batch), unknown ids and failures with error details,
// and compares with the rule applied one event at a time.
func testLargeStatusBatch(t *testing.T, s store.Store) {
	const msgs, events, hotEvery = 200, 1500, 50
	rng := rand.New(rand.NewPCG(7, 11))
	stored := make([]store.Message, msgs)
	for k := range stored {
		if k%2 == 0 {
			stored[k] = outMsg(fmt.Sprintf("m-lb-%03d", k), 0)
		} else {
			stored[k] = inMsg(fmt.Sprintf("m-lb-%03d", k), 0)
		}
	}
	addMsgs(t, s, stored...)
	statuses := []store.Status{
		store.StatusPending, store.StatusReceived, store.StatusSent, store.StatusDelivered,
		store.StatusRead, store.StatusFailed, store.StatusDeleted,
	}

	// The model: each event applies only if it raises the message's rank
	// at its turn in the batch.
	batch := make([]store.StatusEvent, events)
	want := make([]store.StatusOutcome, events)
	final := make(map[string]store.Message, msgs)
	history := make(map[string][]store.StatusEvent, msgs)
	for _, m := range stored {
		final[m.ID] = m
		history[m.ID] = []store.StatusEvent{initial(m)}
	}
	for i := range batch {
		var id string
		switch {
		case i%hotEvery == 0:
			id = stored[0].ID // one message all through the batch
		case rng.IntN(40) == 0:
			id = fmt.Sprintf("m-lb-unknown-%d", rng.IntN(5))
		default:
			id = stored[rng.IntN(msgs)].ID
		}
		// Mostly small steps, so many events of a message apply.
		st := statuses[min(len(statuses)-1, rng.IntN(4)+rng.IntN(2)*rng.IntN(4))]
		if i%hotEvery == 0 {
			st = statuses[2+(i/hotEvery)%5]
		}
		ev := event(id, st, time.Duration(i+1)*time.Second)
		if st == store.StatusFailed {
			ev.ErrorCode, ev.ErrorDetail = 131000+i, fmt.Sprintf("failure %d", i)
		}
		batch[i] = ev
		m, known := final[id]
		switch {
		case !known:
			want[i] = store.StatusUnknownMessage
		case st.Rank() <= m.Status.Rank():
			want[i] = store.StatusStale
		default:
			want[i] = store.StatusApplied
			final[id] = withStatus(m, ev)
			history[id] = append(history[id], ev)
		}
	}
	applied := 0
	for _, o := range want {
		if o == store.StatusApplied {
			applied++
		}
	}
	// Guard the generator: the batch must exercise repeated changes.
	if applied < msgs {
		t.Fatalf("generator produced only %d applied events for %d messages", applied, msgs)
	}

	applyStatuses(t, s, "large batch", batch, want)
	for _, m := range stored {
		checkMessage(t, s, "after a large batch", final[m.ID])
		checkHistory(t, s, "after a large batch", m.ID, history[m.ID])
	}
	for u := range 5 {
		checkNoMessage(t, s, "after a large batch", fmt.Sprintf("m-lb-unknown-%d", u))
	}
}

// testPruneMessages works in 2020, before every other message of the group,
// so the queries below select only its own messages.
func testPruneMessages(t *testing.T, s store.Store) {
	ctx := t.Context()
	era := -6 * 365 * 24 * time.Hour
	old := func(m store.Message, st store.Status, d time.Duration) store.Message {
		m.Status = st
		m.CreatedAt, m.UpdatedAt = at(era+d), at(era+d)
		return m
	}
	inReadOld := []store.Message{
		old(inMsg("p-in-read-1", 0), store.StatusRead, time.Minute),
		old(inMsg("p-in-read-2", 0), store.StatusRead, 2*time.Minute),
		old(inMsg("p-in-read-3", 0), store.StatusRead, 3*time.Minute),
	}
	inRecvOld := old(inMsg("p-in-recv", 0), store.StatusReceived, 4*time.Minute)
	// Created long ago, but changed after the cut-off: UpdatedAt decides.
	inReadNew := old(inMsg("p-in-read-new", 0), store.StatusReceived, 30*time.Second)
	outReadOld := old(outMsg("p-out-read", 0), store.StatusRead, 5*time.Minute)
	outFailedOld := old(outMsg("p-out-failed", 0), store.StatusFailed, 6*time.Minute)
	outSentOld := old(outMsg("p-out-sent", 0), store.StatusSent, 7*time.Minute)
	outQueued := old(outMsg("p-out-queued", 0), store.StatusRead, 8*time.Minute)
	addMsgs(t, s, append(slices.Clone(inReadOld), inRecvOld, inReadNew, outReadOld, outFailedOld, outSentOld, outQueued)...)
	must(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: outQueued.ID, Recipient: outQueued.Peer, NextAttemptAt: at(era), CreatedAt: at(era)}}))
	cutoff := at(era + time.Hour)
	readLate := event(inReadNew.ID, store.StatusRead, era+2*time.Hour)
	applyStatuses(t, s, "read after the cut-off", []store.StatusEvent{readLate}, []store.StatusOutcome{store.StatusApplied})
	inReadNew = withStatus(inReadNew, readLate)

	prune := func(what string, q store.PruneQuery, want int) {
		t.Helper()
		n, err := s.PruneMessages(ctx, q)
		if ok(t, "PruneMessages "+what, err) && n != want {
			t.Errorf("PruneMessages %s = %d, want %d", what, n, want)
		}
	}

	// Limit bounds each batch.
	q := store.PruneQuery{Direction: store.Inbound, Statuses: []store.Status{store.StatusRead}, UpdatedBefore: cutoff, Limit: 2}
	prune("inbound read, limit 2", q, 2)
	prune("inbound read, limit 2, second batch", q, 1)
	prune("inbound read, limit 2, third batch", q, 0)
	for _, m := range inReadOld {
		checkNoMessage(t, s, "pruned", m.ID)
		_, err := s.StatusHistory(ctx, m.ID)
		isErr(t, "StatusHistory of a pruned message", err, store.ErrNotFound)
	}
	checkMessage(t, s, "other status not pruned", inRecvOld)
	checkMessage(t, s, "newer not pruned", inReadNew)
	checkMessage(t, s, "other direction not pruned", outReadOld)

	// Empty Statuses means any status; the cut-off still holds.
	prune("inbound any status", store.PruneQuery{Direction: store.Inbound, UpdatedBefore: cutoff, Limit: 100}, 1)
	checkNoMessage(t, s, "pruned", inRecvOld.ID)
	checkMessage(t, s, "newer not pruned", inReadNew)

	// Several statuses; never a message with an outbox row.
	q = store.PruneQuery{Direction: store.Outbound, Statuses: []store.Status{store.StatusRead, store.StatusFailed}, UpdatedBefore: cutoff, Limit: 100}
	prune("outbound read or failed", q, 2)
	checkNoMessage(t, s, "pruned", outReadOld.ID)
	checkNoMessage(t, s, "pruned", outFailedOld.ID)
	checkMessage(t, s, "status not selected", outSentOld)
	checkMessage(t, s, "still queued", outQueued)
	checkHistory(t, s, "still queued", outQueued.ID, []store.StatusEvent{initial(outQueued)})
	n, err := s.DeleteOutbox(ctx, []string{outQueued.ID})
	if ok(t, "DeleteOutbox", err) && n != 1 {
		t.Errorf("DeleteOutbox = %d, want 1", n)
	}
	prune("outbound read or failed, after the outbox row went", q, 1)
	checkNoMessage(t, s, "pruned once unqueued", outQueued.ID)
	checkMessage(t, s, "status not selected", outSentOld)
	checkMessage(t, s, "newer not pruned", inReadNew)
}
