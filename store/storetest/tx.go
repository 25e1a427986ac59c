package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

var errRollback = errors.New("storetest: roll back")

// txWrites writes one record of several families inside tx, all keyed by
// prefix, and checks that tx reads its own writes.
func txWrites(t *testing.T, tx store.Store, prefix string) error {
	t.Helper()
	ctx := t.Context()
	m := outMsg(prefix+"-msg", 0)
	added, err := tx.AddMessages(ctx, []store.Message{m})
	if err != nil {
		return fmt.Errorf("AddMessages: %w", err)
	}
	if len(added) != 1 || !added[0] {
		return fmt.Errorf("AddMessages in tx: added = %v, want [true]", added)
	}
	if err := tx.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: m.ID, Recipient: prefix + "-rcpt", NextAttemptAt: at(0), CreatedAt: at(0)}}); err != nil {
		return fmt.Errorf("EnqueueOutbox: %w", err)
	}
	if err := tx.EnqueueCallbacks(ctx, []store.Callback{{Kind: "status_change", Payload: []byte(`{"tx":"` + prefix + `"}`), CreatedAt: at(0)}}); err != nil {
		return fmt.Errorf("EnqueueCallbacks: %w", err)
	}
	if _, err := tx.PutSettings(ctx, prefix+"-settings", []byte(`{"tx":true}`), 0, at(0)); err != nil {
		return fmt.Errorf("PutSettings: %w", err)
	}
	if err := tx.PutSessions(ctx, []store.Session{session(prefix+"-peer", 1, 3)}); err != nil {
		return fmt.Errorf("PutSessions: %w", err)
	}
	if err := tx.PutContacts(ctx, []store.Contact{{Input: prefix + "-contact", Status: store.ContactInvalid, CheckedAt: at(0)}}); err != nil {
		return fmt.Errorf("PutContacts: %w", err)
	}
	if err := tx.CreateUser(ctx, store.User{Username: prefix + "-user", PasswordHash: "h", Role: store.RoleUser, CreatedAt: at(0), UpdatedAt: at(0)}); err != nil {
		return fmt.Errorf("CreateUser: %w", err)
	}
	if _, err := tx.AcquireLease(ctx, prefix+"-lease", "me", at(0), time.Minute); err != nil {
		return fmt.Errorf("AcquireLease: %w", err)
	}

	// The transaction sees its own writes.
	got, err := tx.GetMessage(ctx, m.ID)
	if err != nil {
		return fmt.Errorf("GetMessage of a message written in the same tx: %w", err)
	}
	equal(t, "GetMessage in the tx that wrote it", got, m)
	if _, err := tx.GetSettings(ctx, prefix+"-settings"); err != nil {
		return fmt.Errorf("GetSettings of a document written in the same tx: %w", err)
	}
	if _, err := tx.GetUser(ctx, prefix+"-user"); err != nil {
		return fmt.Errorf("GetUser of a user written in the same tx: %w", err)
	}
	due, err := tx.DueOutbox(ctx, at(time.Hour), 1000)
	if err != nil {
		return fmt.Errorf("DueOutbox: %w", err)
	}
	if !containsOutbox(due, m.ID) {
		return fmt.Errorf("DueOutbox in the tx that enqueued %s does not return it", m.ID)
	}
	return nil
}

func containsOutbox(items []store.OutboxItem, id string) bool {
	for _, it := range items {
		if it.MessageID == id {
			return true
		}
	}
	return false
}

// checkTxKept checks that everything txWrites wrote under prefix is there,
// or that none of it is.
func checkTxKept(t *testing.T, s store.Store, what, prefix string, kept bool) {
	t.Helper()
	ctx := t.Context()
	want := func(family string, err error) {
		t.Helper()
		if kept {
			ok(t, fmt.Sprintf("%s: %s written in the tx", what, family), err)
		} else {
			isErr(t, fmt.Sprintf("%s: %s written in the tx", what, family), err, store.ErrNotFound)
		}
	}
	_, err := s.GetMessage(ctx, prefix+"-msg")
	want("message", err)
	_, err = s.StatusHistory(ctx, prefix+"-msg")
	want("status history", err)
	_, err = s.GetSettings(ctx, prefix+"-settings")
	want("settings", err)
	_, err = s.GetSession(ctx, store.Address{Name: prefix + "-peer", DeviceID: 1})
	want("session", err)
	_, err = s.GetUser(ctx, prefix+"-user")
	want("user", err)
	_, err = s.GetLease(ctx, prefix+"-lease")
	want("lease", err)

	contacts, err := s.GetContacts(ctx, []string{prefix + "-contact"})
	if ok(t, what+": GetContacts", err) && (len(contacts) == 1) != kept {
		t.Errorf("%s: contact written in the tx: found %d, want kept=%v", what, len(contacts), kept)
	}
	due, err := s.DueOutbox(ctx, at(time.Hour), 1000)
	if ok(t, what+": DueOutbox", err) && containsOutbox(due, prefix+"-msg") != kept {
		t.Errorf("%s: outbox item written in the tx: present=%v, want %v", what, !kept, kept)
	}
	cbs, err := s.PendingCallbacks(ctx, 0, 1000)
	if ok(t, what+": PendingCallbacks", err) {
		found := false
		for _, cb := range cbs {
			if string(cb.Payload) == `{"tx":"`+prefix+`"}` {
				found = true
			}
		}
		if found != kept {
			t.Errorf("%s: callback written in the tx: present=%v, want %v", what, found, kept)
		}
	}
}

type queueLens struct{ outbox, callbacks int }

func lens(t *testing.T, s store.Store) queueLens {
	t.Helper()
	o, err := s.OutboxLen(t.Context())
	must(t, "OutboxLen", err)
	c, err := s.CallbackQueueLen(t.Context())
	must(t, "CallbackQueueLen", err)
	return queueLens{o, c}
}

func checkLens(t *testing.T, s store.Store, what string, want queueLens) {
	t.Helper()
	if got := lens(t, s); got != want {
		t.Errorf("%s: queue lengths (outbox, callbacks) = %v, want %v", what, got, want)
	}
}

func testTx(t *testing.T, s store.Store) {
	t.Run("Commit", func(t *testing.T) {
		before := lens(t, s)
		err := s.InTx(t.Context(), func(tx store.Store) error { return txWrites(t, tx, "tx-commit") })
		must(t, "InTx", err)
		checkTxKept(t, s, "after commit", "tx-commit", true)
		checkLens(t, s, "after commit", queueLens{before.outbox + 1, before.callbacks + 1})
	})

	t.Run("Rollback", func(t *testing.T) {
		before := lens(t, s)
		err := s.InTx(t.Context(), func(tx store.Store) error {
			if err := txWrites(t, tx, "tx-rollback"); err != nil {
				t.Errorf("writes in the tx: %v", err)
			}
			return errRollback
		})
		isErr(t, "InTx whose fn returns an error", err, errRollback)
		checkTxKept(t, s, "after rollback", "tx-rollback", false)
		checkLens(t, s, "after rollback", before)
	})

	t.Run("RollbackUpdates", func(t *testing.T) {
		ctx := t.Context()
		m := outMsg("tx-upd-msg", 0)
		addMsgs(t, s, m)
		must(t, "EnqueueOutbox", s.EnqueueOutbox(ctx, []store.OutboxItem{{MessageID: m.ID, Recipient: "tx-upd-rcpt", NextAttemptAt: at(0), CreatedAt: at(0)}}))
		doc, err := s.PutSettings(ctx, "tx-upd-settings", []byte(`{"v":1}`), 0, at(0))
		must(t, "PutSettings", err)
		before := lens(t, s)

		err = s.InTx(ctx, func(tx store.Store) error {
			if _, err := tx.ApplyStatuses(ctx, []store.StatusEvent{event(m.ID, store.StatusSent, time.Second)}); err != nil {
				t.Errorf("ApplyStatuses in tx: %v", err)
			}
			if _, err := tx.DeleteOutbox(ctx, []string{m.ID}); err != nil {
				t.Errorf("DeleteOutbox in tx: %v", err)
			}
			if _, err := tx.PutSettings(ctx, doc.Name, []byte(`{"v":2}`), doc.Version, at(time.Second)); err != nil {
				t.Errorf("PutSettings in tx: %v", err)
			}
			if n, err := tx.OutboxLen(ctx); err != nil || n != before.outbox-1 {
				t.Errorf("OutboxLen in the tx that deleted an item = %d, %v; want %d", n, err, before.outbox-1)
			}
			return errRollback
		})
		isErr(t, "InTx whose fn returns an error", err, errRollback)
		checkMessage(t, s, "status change rolled back", m)
		checkHistory(t, s, "status change rolled back", m.ID, []store.StatusEvent{initial(m)})
		checkLens(t, s, "delete rolled back", before)
		got, err := s.GetSettings(ctx, doc.Name)
		if ok(t, "GetSettings", err) {
			equal(t, "GetSettings after a rolled back update", got, doc)
		}
	})

	t.Run("Panic", func(t *testing.T) {
		before := lens(t, s)
		boom := &struct{ msg string }{"storetest: boom"}
		var (
			err       error
			recovered any
		)
		func() {
			defer func() { recovered = recover() }()
			err = s.InTx(t.Context(), func(tx store.Store) error {
				if err := txWrites(t, tx, "tx-panic"); err != nil {
					t.Errorf("writes in the tx: %v", err)
				}
				panic(boom)
			})
		}()
		switch {
		case recovered == nil && err == nil:
			t.Error("InTx whose fn panicked returned nil")
		case recovered != nil && recovered != boom:
			t.Errorf("InTx whose fn panicked re-panicked with %v, want the original value", recovered)
		}
		checkTxKept(t, s, "after a panic", "tx-panic", false)
		checkLens(t, s, "after a panic", before)

		// The store is still usable: the transaction did not leak.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		err = s.InTx(ctx, func(tx store.Store) error {
			_, err := tx.PutSettings(ctx, "tx-after-panic", []byte(`{}`), 0, at(0))
			return err
		})
		must(t, "InTx after a panic", err)
		_, err = s.GetSettings(ctx, "tx-after-panic")
		ok(t, "GetSettings after a commit following a panic", err)
	})

	t.Run("Nested", func(t *testing.T) {
		ctx := t.Context()
		// Inner and outer commit together.
		err := s.InTx(ctx, func(tx store.Store) error {
			if err := txWrites(t, tx, "tx-outer-ok"); err != nil {
				return err
			}
			return tx.InTx(ctx, func(inner store.Store) error { return txWrites(t, inner, "tx-inner-ok") })
		})
		must(t, "nested InTx", err)
		checkTxKept(t, s, "nested commit, outer", "tx-outer-ok", true)
		checkTxKept(t, s, "nested commit, inner", "tx-inner-ok", true)

		// The inner transaction is the outer one: an error from the outer
		// fn rolls back what the inner fn wrote.
		before := lens(t, s)
		err = s.InTx(ctx, func(tx store.Store) error {
			if err := txWrites(t, tx, "tx-outer-rb"); err != nil {
				t.Errorf("outer writes: %v", err)
			}
			err := tx.InTx(ctx, func(inner store.Store) error { return txWrites(t, inner, "tx-inner-rb") })
			if err != nil {
				t.Errorf("inner InTx: %v", err)
			}
			// The outer transaction sees what the inner one wrote.
			if _, err := tx.GetMessage(ctx, "tx-inner-rb-msg"); err != nil {
				t.Errorf("outer tx reading the inner tx's message: %v", err)
			}
			return errRollback
		})
		isErr(t, "nested InTx whose outer fn returns an error", err, errRollback)
		checkTxKept(t, s, "nested rollback, outer", "tx-outer-rb", false)
		checkTxKept(t, s, "nested rollback, inner", "tx-inner-rb", false)
		checkLens(t, s, "nested rollback", before)
	})

	t.Run("NestedErrorNoSavepoint", func(t *testing.T) {
		// There is no savepoint: an inner fn's error comes back to the
		// outer fn as is, and the outermost fn's result decides the fate of
		// every write, the inner fn's included.
		ctx := t.Context()
		errInner := errors.New("storetest: inner failed")
		err := s.InTx(ctx, func(tx store.Store) error {
			if err := txWrites(t, tx, "tx-outer-kept"); err != nil {
				return err
			}
			err := tx.InTx(ctx, func(inner store.Store) error {
				if err := txWrites(t, inner, "tx-inner-kept"); err != nil {
					t.Errorf("inner writes: %v", err)
				}
				return errInner
			})
			isErr(t, "nested InTx whose fn returns an error", err, errInner)
			return nil
		})
		must(t, "InTx whose outer fn ignores the inner error", err)
		checkTxKept(t, s, "outer fn committed after an inner error, outer", "tx-outer-kept", true)
		checkTxKept(t, s, "outer fn committed after an inner error, inner", "tx-inner-kept", true)
	})

	t.Run("StoreErrorPassesThrough", func(t *testing.T) {
		ctx := t.Context()
		err := s.InTx(ctx, func(tx store.Store) error {
			_, err := tx.GetMessage(ctx, "tx-never")
			return err
		})
		isErr(t, "InTx returning a store error", err, store.ErrNotFound)
	})
}
