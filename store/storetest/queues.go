package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testOutbox(t *testing.T, s store.Store) {
	ctx := t.Context()

	checkLen := func(what string, want int) {
		t.Helper()
		n, err := s.OutboxLen(ctx)
		if ok(t, "OutboxLen "+what, err) && n != want {
			t.Errorf("OutboxLen %s = %d, want %d", what, n, want)
		}
	}

	// items is what each queued item must look like, but for Seq, which is
	// learnt from the first DueOutbox and must stay the same afterwards.
	items := map[string]store.OutboxItem{}
	seqs := map[string]int64{}
	var maxSeq int64
	item := func(id, rcpt string) store.OutboxItem {
		it := store.OutboxItem{MessageID: id, Recipient: rcpt, Seq: 999, NextAttemptAt: at(0), CreatedAt: at(-time.Second)}
		items[id] = it
		return it
	}
	// learn records the Seq of items as DueOutbox returned them, after
	// checking they come in the wanted order with increasing Seq.
	learn := func(what string, got []store.OutboxItem, wantIDs ...string) {
		t.Helper()
		if ids := outboxIDs(got); !slices.Equal(ids, wantIDs) {
			t.Fatalf("DueOutbox %s = %v, want %v", what, ids, wantIDs)
		}
		for i, it := range got {
			if i > 0 && it.Seq <= got[i-1].Seq {
				t.Fatalf("DueOutbox %s: Seq not increasing in enqueue order: %s has %d after %s with %d", what, it.MessageID, it.Seq, got[i-1].MessageID, got[i-1].Seq)
			}
			if it.Seq <= maxSeq {
				t.Fatalf("DueOutbox %s: %s has Seq %d, not above %d assigned earlier", what, it.MessageID, it.Seq, maxSeq)
			}
			seqs[it.MessageID] = it.Seq
		}
		maxSeq = got[len(got)-1].Seq
	}
	expect := func(ids ...string) []store.OutboxItem {
		out := make([]store.OutboxItem, len(ids))
		for i, id := range ids {
			out[i] = items[id]
			out[i].Seq = seqs[id]
		}
		return out
	}
	checkDue := func(what string, now time.Time, limit int, wantIDs ...string) {
		t.Helper()
		got, err := s.DueOutbox(ctx, now, limit)
		if ok(t, "DueOutbox "+what, err) {
			equal(t, "DueOutbox "+what, got, expect(wantIDs...))
		}
	}

	checkLen("when empty", 0)
	checkDue("when empty", at(time.Hour), 10)

	addMsgs(t, s,
		outMsg("o-a1", 0), outMsg("o-b1", 0), outMsg("o-a2", 0), outMsg("o-c1", 0), outMsg("o-a3", 0),
		outMsg("o-x1", 0), outMsg("o-y1", 0), outMsg("o-z1", 0))

	// Seq follows enqueue order within and across batches; values passed in
	// are ignored.
	must(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-a1", "r-a"), item("o-b1", "r-b"), item("o-a2", "r-a")}))
	must(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-c1", "r-c"), item("o-a3", "r-a")}))
	got, err := s.DueOutbox(ctx, at(time.Minute), 100)
	must(t, "DueOutbox", err)
	learn("after two batches", got, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")
	checkDue("after two batches", at(time.Minute), 100, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")
	checkLen("after two batches", 5)
	// Due means NextAttemptAt <= now.
	checkDue("at exactly NextAttemptAt", at(0), 100, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")
	checkDue("before NextAttemptAt", at(-time.Microsecond), 100)
	checkDue("limit 2", at(time.Minute), 2, "o-a1", "o-b1")

	// Conflicts and invalid items fail the whole batch.
	isErr(t, "EnqueueOutbox of an already queued id", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-x1", "r-x"), item("o-a1", "r-a")}), store.ErrConflict)
	isErr(t, "EnqueueOutbox of one id twice", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-y1", "r-y"), item("o-y1", "r-y")}), store.ErrConflict)
	noRcpt := item("o-z1", "")
	isErr(t, "EnqueueOutbox without a recipient", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-x1", "r-x"), noRcpt}), store.ErrInvalid)
	negative := item("o-z1", "r-z")
	negative.Attempts = -1
	isErr(t, "EnqueueOutbox with negative attempts", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-x1", "r-x"), negative}), store.ErrInvalid)
	isErr(t, "EnqueueOutbox without a message id", s.EnqueueOutbox(ctx, []store.OutboxItem{{Recipient: "r-x", NextAttemptAt: at(0)}}), store.ErrInvalid)
	items["o-a1"] = store.OutboxItem{MessageID: "o-a1", Recipient: "r-a", NextAttemptAt: at(0), CreatedAt: at(-time.Second)}
	checkLen("after failed batches", 5)
	checkDue("after failed batches", at(time.Minute), 100, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")

	// A recipient whose head backs off is skipped whole.
	must(t, "RescheduleOutbox o-a1", s.RescheduleOutbox(ctx, "o-a1", 1, at(10*time.Minute), "timeout"))
	it := items["o-a1"]
	it.Attempts, it.NextAttemptAt, it.LastError = 1, at(10*time.Minute), "timeout"
	items["o-a1"] = it
	checkDue("while the head of r-a backs off", at(time.Minute), 100, "o-b1", "o-c1")
	checkDue("while the head of r-a backs off, limit 1", at(time.Minute), 1, "o-b1")
	checkDue("once the head of r-a is due", at(10*time.Minute), 100, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")

	// An item behind one that backs off waits, though it is due itself.
	must(t, "RescheduleOutbox o-a2", s.RescheduleOutbox(ctx, "o-a2", 3, at(20*time.Minute), "no session"))
	it = items["o-a2"]
	it.Attempts, it.NextAttemptAt, it.LastError = 3, at(20*time.Minute), "no session"
	items["o-a2"] = it
	checkDue("while the second of r-a backs off", at(15*time.Minute), 100, "o-a1", "o-b1", "o-c1")
	checkDue("once everything is due", at(20*time.Minute), 100, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")

	// Rescheduling replaces the last error, also with an empty one.
	must(t, "RescheduleOutbox o-a1 again", s.RescheduleOutbox(ctx, "o-a1", 2, at(5*time.Minute), ""))
	it = items["o-a1"]
	it.Attempts, it.NextAttemptAt, it.LastError = 2, at(5*time.Minute), ""
	items["o-a1"] = it
	checkDue("after a second reschedule", at(20*time.Minute), 100, "o-a1", "o-b1", "o-a2", "o-c1", "o-a3")

	isErr(t, "RescheduleOutbox of an unknown id", s.RescheduleOutbox(ctx, "o-never", 1, at(time.Minute), "x"), store.ErrNotFound)
	isErr(t, "RescheduleOutbox of a message not queued", s.RescheduleOutbox(ctx, "o-x1", 1, at(time.Minute), "x"), store.ErrNotFound)

	n, err := s.DeleteOutbox(ctx, []string{"o-a1", "o-b1", "o-never"})
	if ok(t, "DeleteOutbox", err) && n != 2 {
		t.Errorf("DeleteOutbox of 2 queued and 1 unknown = %d, want 2", n)
	}
	checkLen("after delete", 3)
	checkDue("after delete", at(time.Hour), 100, "o-a2", "o-c1", "o-a3")
	n, err = s.DeleteOutbox(ctx, []string{"o-a1"})
	if ok(t, "DeleteOutbox again", err) && n != 0 {
		t.Errorf("DeleteOutbox again = %d, want 0", n)
	}

	// An id no longer queued may be queued again; it goes to the back.
	must(t, "EnqueueOutbox after delete", s.EnqueueOutbox(ctx, []store.OutboxItem{item("o-a1", "r-a")}))
	got, err = s.DueOutbox(ctx, at(time.Hour), 100)
	must(t, "DueOutbox", err)
	if len(got) == 4 {
		learn("after re-enqueue", got[3:], "o-a1")
	}
	checkDue("after re-enqueue", at(time.Hour), 100, "o-a2", "o-c1", "o-a3", "o-a1")
	checkLen("after re-enqueue", 4)
}

func outboxIDs(items []store.OutboxItem) []string {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.MessageID
	}
	return ids
}

func callback(kind string, n int, d time.Duration) store.Callback {
	return store.Callback{
		Seq:           12345,
		Kind:          kind,
		Payload:       fmt.Appendf(nil, `{"statuses":[{"id":"cb-%d", "status":"sent"}]}`, n),
		NextAttemptAt: at(d),
		CreatedAt:     at(d - time.Second),
	}
}

func testCallbacks(t *testing.T, s store.Store) {
	ctx := t.Context()

	checkLen := func(what string, want int) {
		t.Helper()
		n, err := s.CallbackQueueLen(ctx)
		if ok(t, "CallbackQueueLen "+what, err) && n != want {
			t.Errorf("CallbackQueueLen %s = %d, want %d", what, n, want)
		}
	}
	var cbs []store.Callback // as stored, Seq included
	checkPending := func(what string, after int64, limit int, want ...store.Callback) {
		t.Helper()
		got, err := s.PendingCallbacks(ctx, after, limit)
		if ok(t, "PendingCallbacks "+what, err) {
			equal(t, "PendingCallbacks "+what, got, want)
		}
	}

	checkLen("when empty", 0)
	checkPending("when empty", 0, 10)

	in := []store.Callback{callback("status_change", 1, 0), callback("inbound_message", 2, time.Second), callback("status_change", 3, 2*time.Second)}
	must(t, "EnqueueCallbacks", s.EnqueueCallbacks(ctx, in[:2]))
	must(t, "EnqueueCallbacks", s.EnqueueCallbacks(ctx, in[2:]))
	got, err := s.PendingCallbacks(ctx, 0, 100)
	must(t, "PendingCallbacks", err)
	if len(got) != 3 {
		t.Fatalf("PendingCallbacks after enqueueing 3 returned %d", len(got))
	}
	for i, cb := range got {
		if i > 0 && cb.Seq <= got[i-1].Seq {
			t.Fatalf("PendingCallbacks: Seq not increasing: %d after %d", cb.Seq, got[i-1].Seq)
		}
		c := in[i]
		c.Seq = cb.Seq
		cbs = append(cbs, c)
	}
	checkPending("after enqueue", 0, 100, cbs...)
	checkLen("after enqueue", 3)

	// Paging.
	checkPending("after the first", cbs[0].Seq, 100, cbs[1:]...)
	checkPending("limit 2", 0, 2, cbs[:2]...)
	checkPending("after the second, limit 1", cbs[1].Seq, 1, cbs[2])
	checkPending("after the last", cbs[2].Seq, 100)

	// Invalid callbacks fail the whole batch.
	noPayload := callback("status_change", 4, 0)
	noPayload.Payload = nil
	isErr(t, "EnqueueCallbacks with an empty payload", s.EnqueueCallbacks(ctx, []store.Callback{callback("status_change", 5, 0), noPayload}), store.ErrInvalid)
	isErr(t, "EnqueueCallbacks with an empty kind", s.EnqueueCallbacks(ctx, []store.Callback{callback("status_change", 5, 0), callback("", 6, 0)}), store.ErrInvalid)
	negative := callback("status_change", 7, 0)
	negative.Attempts = -1
	isErr(t, "EnqueueCallbacks with negative attempts", s.EnqueueCallbacks(ctx, []store.Callback{negative}), store.ErrInvalid)
	checkLen("after invalid batches", 3)
	checkPending("after invalid batches", 0, 100, cbs...)

	must(t, "RescheduleCallback", s.RescheduleCallback(ctx, cbs[1].Seq, 3, at(5*time.Minute)))
	cbs[1].Attempts, cbs[1].NextAttemptAt = 3, at(5*time.Minute)
	checkPending("after reschedule", 0, 100, cbs...)
	isErr(t, "RescheduleCallback of an unknown seq", s.RescheduleCallback(ctx, cbs[2].Seq+1000, 1, at(time.Minute)), store.ErrNotFound)

	n, err := s.AckCallbacks(ctx, []int64{cbs[0].Seq, cbs[2].Seq, cbs[2].Seq + 1000})
	if ok(t, "AckCallbacks", err) && n != 2 {
		t.Errorf("AckCallbacks of 2 queued and 1 unknown = %d, want 2", n)
	}
	checkLen("after ack", 1)
	checkPending("after ack", 0, 100, cbs[1])
	n, err = s.AckCallbacks(ctx, []int64{cbs[0].Seq})
	if ok(t, "AckCallbacks again", err) && n != 0 {
		t.Errorf("AckCallbacks again = %d, want 0", n)
	}
	isErr(t, "RescheduleCallback of an acked seq", s.RescheduleCallback(ctx, cbs[0].Seq, 1, at(time.Minute)), store.ErrNotFound)

	// Seq keeps increasing past acked callbacks.
	more := callback("status_change", 8, time.Hour)
	must(t, "EnqueueCallbacks after ack", s.EnqueueCallbacks(ctx, []store.Callback{more}))
	got, err = s.PendingCallbacks(ctx, cbs[1].Seq, 100)
	must(t, "PendingCallbacks", err)
	if len(got) != 1 {
		t.Fatalf("PendingCallbacks after the last enqueue returned %d callbacks, want 1", len(got))
	}
	if got[0].Seq <= cbs[2].Seq {
		t.Errorf("Seq after acks = %d, not above the highest assigned before (%d)", got[0].Seq, cbs[2].Seq)
	}
	more.Seq = got[0].Seq
	checkPending("after enqueue past acks", 0, 100, cbs[1], more)
	checkLen("after enqueue past acks", 2)
}
