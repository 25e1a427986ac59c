package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

const (
	workers    = 8
	iterations = 25
)

func testConcurrency(t *testing.T, s store.Store) {
	t.Run("Enqueue", func(t *testing.T) { testConcurrentEnqueue(t, s) })
	t.Run("ApplyStatuses", func(t *testing.T) { testConcurrentStatuses(t, s) })
	t.Run("ApplyStatusesOpposed", func(t *testing.T) { testOpposedStatuses(t, s) })
	t.Run("SettingsCAS", func(t *testing.T) { testConcurrentSettings(t, s) })
	t.Run("AcquireLease", func(t *testing.T) { testConcurrentLease(t, s) })
}

// testConcurrentEnqueue runs the receive path's transaction (store the
// message, queue work, queue callbacks) from several goroutines at once.
func testConcurrentEnqueue(t *testing.T, s store.Store) {
	ctx := t.Context()
	const cbsPerTx = 2
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range iterations {
				id := fmt.Sprintf("cc-%d-%d", g, i)
				err := s.InTx(ctx, func(tx store.Store) error {
					added, err := tx.AddMessages(ctx, []store.Message{outMsg(id, time.Duration(i)*time.Second)})
					if err != nil {
						return fmt.Errorf("AddMessages: %w", err)
					}
					if len(added) != 1 || !added[0] {
						return fmt.Errorf("AddMessages of a new message: added = %v", added)
					}
					if err := tx.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: id, Recipient: fmt.Sprintf("cr-%d", g), NextAttemptAt: at(0), CreatedAt: at(0)}}); err != nil {
						return fmt.Errorf("EnqueueOutbox: %w", err)
					}
					cbs := make([]store.Callback, cbsPerTx)
					for j := range cbs {
						cbs[j] = store.Callback{Kind: "status_change", Payload: fmt.Appendf(nil, `{"g":%d,"i":%d,"j":%d}`, g, i, j), CreatedAt: at(0)}
					}
					if err := tx.EnqueueCallbacks(ctx, cbs); err != nil {
						return fmt.Errorf("EnqueueCallbacks: %w", err)
					}
					return nil
				})
				if err != nil {
					t.Errorf("worker %d, iteration %d: InTx: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	total := workers * iterations
	checkLens(t, s, "after concurrent transactions", queueLens{total, total * cbsPerTx})

	// Every Seq distinct; per recipient (one per worker), FIFO in the order
	// the worker committed.
	due, err := s.DueOutbox(ctx, at(time.Hour), 10*total)
	must(t, "DueOutbox", err)
	if len(due) != total {
		t.Fatalf("DueOutbox after %d concurrent enqueues returned %d items", total, len(due))
	}
	next := make([]int, workers)
	seen := map[int64]bool{}
	for k, it := range due {
		if seen[it.Seq] {
			t.Errorf("outbox Seq %d assigned twice", it.Seq)
		}
		seen[it.Seq] = true
		if k > 0 && it.Seq <= due[k-1].Seq {
			t.Errorf("DueOutbox not ordered by Seq: %d after %d", it.Seq, due[k-1].Seq)
		}
		var g, i int
		if _, err := fmt.Sscanf(it.MessageID, "cc-%d-%d", &g, &i); err != nil || g < 0 || g >= workers {
			t.Fatalf("DueOutbox returned an unexpected item %q", it.MessageID)
		}
		if it.Recipient != fmt.Sprintf("cr-%d", g) {
			t.Errorf("outbox item %s has recipient %q, want cr-%d", it.MessageID, it.Recipient, g)
		}
		if i != next[g] {
			t.Errorf("recipient cr-%d: got %s, want iteration %d next (FIFO in commit order)", g, it.MessageID, next[g])
		}
		next[g] = i + 1
	}

	cbs, err := s.PendingCallbacks(ctx, 0, 10*total*cbsPerTx)
	must(t, "PendingCallbacks", err)
	if len(cbs) != total*cbsPerTx {
		t.Fatalf("PendingCallbacks after %d concurrent enqueues returned %d callbacks", total*cbsPerTx, len(cbs))
	}
	nextCb := make([]int, workers) // i*cbsPerTx+j expected next for each worker
	for k, cb := range cbs {
		if k > 0 && cb.Seq <= cbs[k-1].Seq {
			t.Errorf("PendingCallbacks not strictly ordered by Seq: %d after %d", cb.Seq, cbs[k-1].Seq)
		}
		var g, i, j int
		if _, err := fmt.Sscanf(string(cb.Payload), `{"g":%d,"i":%d,"j":%d}`, &g, &i, &j); err != nil || g < 0 || g >= workers {
			t.Fatalf("PendingCallbacks returned an unexpected payload %q", cb.Payload)
		}
		if n := i*cbsPerTx + j; n != nextCb[g] {
			t.Errorf("worker %d: callback %d/%d came out of enqueue order (want iteration %d, callback %d next)", g, i, j, nextCb[g]/cbsPerTx, nextCb[g]%cbsPerTx)
		} else {
			nextCb[g] = n + 1
		}
	}

	for g := range workers {
		checkMessage(t, s, "after concurrent transactions", outMsg(fmt.Sprintf("cc-%d-%d", g, iterations-1), time.Duration(iterations-1)*time.Second))
	}
}

// testConcurrentStatuses races status events for the same messages. Each
// event of rank r carries the time base+r seconds, so whichever order the
// store serialises them in, the outcome is determined: the message ends at
// the highest rank sent, with a history strictly increasing in rank.
func testConcurrentStatuses(t *testing.T, s store.Store) {
	ctx := t.Context()
	const msgs = 10
	statuses := []store.Status{store.StatusSent, store.StatusDelivered, store.StatusRead, store.StatusFailed, store.StatusDeleted}
	ids := make([]string, msgs)
	originals := make([]store.Message, msgs)
	for k := range ids {
		ids[k] = fmt.Sprintf("cs-%02d", k)
		originals[k] = outMsg(ids[k], 0)
	}
	addMsgs(t, s, originals...)

	evAt := func(st store.Status) time.Time { return at(time.Duration(st.Rank()) * time.Second) }
	// Message k only ever gets statuses up to a cap, so the final statuses
	// differ between messages.
	capOf := func(k int) int { return 1 + k%len(statuses) }

	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		maxRank    = make([]int, msgs)
		appliedCnt = make([]int, msgs)
	)
	for g := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 42))
			localMax := make([]int, msgs)
			localApplied := make([]int, msgs)
			for range iterations {
				// A batch of 1..3 events, message ids ascending (so row
				// locks are always taken in the same order).
				n := 1 + rng.IntN(3)
				var events []store.StatusEvent
				for range n {
					k := rng.IntN(msgs)
					st := statuses[rng.IntN(capOf(k))]
					ev := store.StatusEvent{MessageID: ids[k], Status: st, At: evAt(st)}
					if st == store.StatusFailed {
						ev.ErrorCode, ev.ErrorDetail = 1, "failed"
					}
					events = append(events, ev)
				}
				slices.SortStableFunc(events, func(a, b store.StatusEvent) int {
					switch {
					case a.MessageID < b.MessageID:
						return -1
					case a.MessageID > b.MessageID:
						return 1
					}
					return 0
				})
				outcomes, err := s.ApplyStatuses(ctx, events)
				if err != nil {
					t.Errorf("worker %d: ApplyStatuses: %v", g, err)
					return
				}
				if len(outcomes) != len(events) {
					t.Errorf("worker %d: ApplyStatuses returned %d outcomes for %d events", g, len(outcomes), len(events))
					return
				}
				for e, ev := range events {
					var k int
					fmt.Sscanf(ev.MessageID, "cs-%d", &k)
					localMax[k] = max(localMax[k], ev.Status.Rank())
					switch outcomes[e] {
					case store.StatusApplied:
						localApplied[k]++
					case store.StatusStale:
					default:
						t.Errorf("worker %d: ApplyStatuses outcome %v for a stored message", g, outcomes[e])
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for k := range msgs {
				maxRank[k] = max(maxRank[k], localMax[k])
				appliedCnt[k] += localApplied[k]
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for k, id := range ids {
		m, err := s.GetMessage(ctx, id)
		if !ok(t, "GetMessage", err) {
			continue
		}
		if m.Status.Rank() != maxRank[k] {
			t.Errorf("%s: status %s (rank %d), want the highest rank sent, %d", id, m.Status, m.Status.Rank(), maxRank[k])
		}
		if maxRank[k] > 0 && m.UpdatedAt != norm(evAt(m.Status)) {
			t.Errorf("%s: UpdatedAt %s, want %s, the time of its %s event", id, fmtTime(m.UpdatedAt), fmtTime(norm(evAt(m.Status))), m.Status)
		}
		hist, err := s.StatusHistory(ctx, id)
		if !ok(t, "StatusHistory", err) {
			continue
		}
		if len(hist) == 0 || hist[0].Status != store.StatusPending {
			t.Errorf("%s: history %v does not start with the initial pending status", id, hist)
			continue
		}
		if len(hist)-1 != appliedCnt[k] {
			t.Errorf("%s: history has %d changes, but ApplyStatuses reported %d applied", id, len(hist)-1, appliedCnt[k])
		}
		for e := 1; e < len(hist); e++ {
			h := hist[e]
			if h.Status.Rank() <= hist[e-1].Status.Rank() {
				t.Errorf("%s: history not strictly increasing in rank: %s after %s", id, h.Status, hist[e-1].Status)
			}
			want := store.StatusEvent{MessageID: id, Status: h.Status, At: evAt(h.Status)}
			if h.Status == store.StatusFailed {
				want.ErrorCode, want.ErrorDetail = 1, "failed"
			}
			equal(t, fmt.Sprintf("%s: history[%d]", id, e), h, want)
		}
		if last := hist[len(hist)-1]; last.Status != m.Status {
			t.Errorf("%s: last history entry %s, but the message is %s", id, last.Status, m.Status)
		}
	}
}

// testOpposedStatuses has two writers apply batches naming the same
// messages, one in ascending and one in descending id order, with several
// events per message in each batch, while a reader watches every message's
// status. No status may ever be seen to move backwards, every call must
// succeed whatever order its events come in, and within one batch the
// events applied to a message must raise its rank at each turn.
func testOpposedStatuses(t *testing.T, s store.Store) {
	ctx := t.Context()
	const msgs, rounds = 16, 20
	statuses := []store.Status{store.StatusSent, store.StatusDelivered, store.StatusRead, store.StatusFailed, store.StatusDeleted}
	ids := make([]string, msgs)
	originals := make([]store.Message, msgs)
	for k := range ids {
		ids[k] = fmt.Sprintf("co-%02d", k)
		originals[k] = outMsg(ids[k], 0)
	}
	addMsgs(t, s, originals...)
	evAt := func(st store.Status) time.Time { return at(time.Duration(st.Rank()) * time.Second) }
	mkEvent := func(id string, st store.Status) store.StatusEvent {
		ev := store.StatusEvent{MessageID: id, Status: st, At: evAt(st)}
		if st == store.StatusFailed {
			ev.ErrorCode, ev.ErrorDetail = 2, "opposed"
		}
		return ev
	}

	var (
		writers    sync.WaitGroup
		mu         sync.Mutex
		maxRank    = make([]int, msgs)
		appliedCnt = make([]int, msgs)
	)
	for w := range 2 {
		writers.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1234))
			for r := range rounds {
				// Ranks climb slowly over the rounds, so most batches
				// still have something to apply.
				top := min(len(statuses), 1+r*len(statuses)/rounds+rng.IntN(2))
				var events []store.StatusEvent
				for j := range msgs {
					k := j
					if w == 1 {
						k = msgs - 1 - j
					}
					for range 1 + rng.IntN(3) {
						events = append(events, mkEvent(ids[k], statuses[rng.IntN(top)]))
					}
				}
				outcomes, err := s.ApplyStatuses(ctx, events)
				if err != nil {
					t.Errorf("writer %d, round %d: ApplyStatuses: %v", w, r, err)
					return
				}
				if len(outcomes) != len(events) {
					t.Errorf("writer %d, round %d: %d outcomes for %d events", w, r, len(outcomes), len(events))
					return
				}
				// Per message, within the batch: an applied event raises
				// the rank above every earlier applied one, and an event
				// not above an earlier applied one is stale.
				batchRank := map[string]int{}
				mu.Lock()
				for e, ev := range events {
					var k int
					fmt.Sscanf(ev.MessageID, "co-%d", &k)
					maxRank[k] = max(maxRank[k], ev.Status.Rank())
					prev, had := batchRank[ev.MessageID]
					switch outcomes[e] {
					case store.StatusApplied:
						if had && ev.Status.Rank() <= prev {
							t.Errorf("writer %d, round %d: event %d (%s %s) applied after %s in the same batch", w, r, e, ev.MessageID, ev.Status, statuses[prev-1])
						}
						batchRank[ev.MessageID] = ev.Status.Rank()
						appliedCnt[k]++
					case store.StatusStale:
					default:
						t.Errorf("writer %d, round %d: outcome %v for stored message %s", w, r, outcomes[e], ev.MessageID)
					}
				}
				mu.Unlock()
			}
		})
	}

	// The reader owns its goroutine and stops once both writers have.
	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		seen := make([]int, msgs)
		for {
			select {
			case <-done:
				return
			default:
			}
			for k, id := range ids {
				m, err := s.GetMessage(ctx, id)
				if err != nil {
					t.Errorf("reader: GetMessage %s: %v", id, err)
					return
				}
				if rk := m.Status.Rank(); rk < seen[k] {
					t.Errorf("reader: %s moved backwards: %s (rank %d) after rank %d", id, m.Status, rk, seen[k])
				} else {
					seen[k] = rk
				}
			}
		}
	})
	writers.Wait()
	close(done)
	reader.Wait()
	if t.Failed() {
		t.FailNow()
	}

	for k, id := range ids {
		m, err := s.GetMessage(ctx, id)
		if !ok(t, "GetMessage", err) {
			continue
		}
		if m.Status.Rank() != maxRank[k] {
			t.Errorf("%s: status %s (rank %d), want the highest rank sent, %d", id, m.Status, m.Status.Rank(), maxRank[k])
		}
		hist, err := s.StatusHistory(ctx, id)
		if !ok(t, "StatusHistory", err) {
			continue
		}
		if len(hist)-1 != appliedCnt[k] {
			t.Errorf("%s: history has %d changes, but ApplyStatuses reported %d applied", id, len(hist)-1, appliedCnt[k])
		}
		for e := 1; e < len(hist); e++ {
			if hist[e].Status.Rank() <= hist[e-1].Status.Rank() {
				t.Errorf("%s: history not strictly increasing in rank: %s after %s", id, hist[e].Status, hist[e-1].Status)
			}
			equal(t, fmt.Sprintf("%s: history[%d]", id, e), hist[e], mkEvent(id, hist[e].Status))
		}
		if maxRank[k] > 0 {
			equal(t, id+": UpdatedAt", m.UpdatedAt, evAt(m.Status))
		}
	}
}

// testConcurrentSettings increments a counter held in a settings document
// with compare-and-swap from several goroutines, retrying on conflict.
func testConcurrentSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	const name, perWorker, maxTries = "counter", 10, 10000
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			done := 0
			for try := 0; done < perWorker; try++ {
				if try == maxTries {
					t.Errorf("worker %d: no progress after %d tries", g, maxTries)
					return
				}
				var n, version int64
				doc, err := s.GetSettings(ctx, name)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					t.Errorf("worker %d: GetSettings: %v", g, err)
					return
				default:
					version = doc.Version
					if n, err = strconv.ParseInt(string(doc.Value), 10, 64); err != nil {
						t.Errorf("worker %d: counter value %q: %v", g, doc.Value, err)
						return
					}
				}
				put, err := s.PutSettings(ctx, name, strconv.AppendInt(nil, n+1, 10), version, at(0))
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					t.Errorf("worker %d: PutSettings: %v", g, err)
					return
				}
				if put.Version != version+1 {
					t.Errorf("worker %d: PutSettings returned version %d, want %d", g, put.Version, version+1)
				}
				done++
			}
		})
	}
	wg.Wait()
	want := int64(workers * perWorker)
	doc, err := s.GetSettings(ctx, name)
	must(t, "GetSettings", err)
	equal(t, "counter after concurrent increments", doc, store.SettingsDoc{Name: name, Version: want, Value: strconv.AppendInt(nil, want, 10), UpdatedAt: at(0)})
}

// testConcurrentLease has many holders race for one free lease.
func testConcurrentLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	const name, holders = "race", 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []store.Lease
	)
	for h := range holders {
		wg.Go(func() {
			l, err := s.AcquireLease(ctx, name, fmt.Sprintf("holder-%02d", h), at(0), time.Minute)
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, l)
				mu.Unlock()
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("holder %d: AcquireLease: %v, want nil or ErrConflict", h, err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d holders acquired one free lease at the same time: %v; want exactly one", len(winners), winners)
	}
	got, err := s.GetLease(ctx, name)
	must(t, "GetLease", err)
	equal(t, "lease after the race", got, winners[0])
	if winners[0].ExpiresAt != norm(at(time.Minute)) {
		t.Errorf("winning lease expires at %s, want %s", fmtTime(winners[0].ExpiresAt), fmtTime(norm(at(time.Minute))))
	}
}
