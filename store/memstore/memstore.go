// Package memstore is an in-memory implementation of store.Store with the
// same observable behaviour as the SQL backends, for unit tests across the
// project. Nothing is persisted: a Store lives as long as the value.
//
// # Concurrency
//
// One sync.Mutex guards one state value that holds a map per table family.
// Every method of Store takes the mutex for its whole duration, so a Store is
// safe for concurrent use and every method is atomic.
//
// # Transactions
//
// InTx takes the mutex for the whole of fn and hands fn a transaction view:
// a store.Store that works on the same state without locking and records an
// undo closure for every mutation it makes. When fn returns nil (and the
// context is still live, as database/sql would require to commit) the undo
// log is dropped and the writes stay. When fn returns an error, panics or
// calls runtime.Goexit (t.FailNow), the undo closures run in reverse order,
// restoring the state exactly, before the mutex is released; a panic then
// carries on up the stack. No map is copied per transaction.
//
// Calling InTx on the transaction view joins the transaction: fn runs on the
// same view and its error is returned as is, with nothing undone yet (as in
// the SQL backends, there are no savepoints): whatever the outermost fn
// returns decides the fate of every write. The view must not be used after
// fn returns (such calls fail with store.ErrInvalid) nor from another
// goroutine, and fn must not call the outer Store: the mutex is not
// reentrant, so that deadlocks.
//
// Sequence counters (outbox and callback Seq) are not rolled back, like SQL
// sequences: a rolled-back transaction may leave a gap.
//
// Each operation is written once, as a method of the unexported op type,
// which both the Store and the transaction view embed: in the Store it takes
// the mutex for its duration and records no undo, in the view it runs under
// the transaction's hold of the mutex and records undo closures. An operation checks everything that can fail before its first
// write, so a failed call (a batch with one bad element, say) writes nothing
// even outside a transaction.
//
// # Times and bytes
//
// Every time written is passed through store.NormalizeTime, and so is every
// time a query compares with (PruneMessages' UpdatedBefore, DueOutbox's now,
// ...), so that a record written at t is not "before t", as in the SQL
// backends, which keep microseconds. Byte slices are copied on the way in and
// on the way out; nil stays nil.
package memstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/waent/waent/store"
)

var _ store.Store = (*Store)(nil)

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	op // with mu set: every operation locks for its duration
	mu sync.Mutex
}

// New returns an empty Store.
func New() *Store {
	s := &Store{}
	s.op = op{st: newState(), mu: &s.mu}
	return s
}

// state is every table of the store. The maps are created once and never
// replaced, so undo closures may capture them.
type state struct {
	account        *store.Account
	preKeys        map[uint32]store.PreKey
	signedPreKeys  map[uint32]store.SignedPreKey
	sessions       map[store.Address][]byte
	peerIdentities map[store.Address]store.PeerIdentity
	senderKeys     map[senderKeyID][]byte
	decrypted      map[string]decryptedEntry

	messages map[string]store.Message
	history  map[string][]store.StatusEvent

	outbox      map[string]store.OutboxItem
	outboxSeq   int64
	callbacks   map[int64]store.Callback
	callbackSeq int64

	contacts  map[string]store.Contact
	settings  map[string]store.SettingsDoc
	users     map[string]store.User
	tokens    map[string]store.Token // by string(hash)
	templates map[store.TemplateKey]store.Template
	media     map[string]store.Media
	leases    map[string]store.Lease

	conversations map[string]store.Conversation // by id
	convLinks     map[string]string             // message id → conversation id
}

type senderKeyID struct{ group, sender string }

type decryptedEntry struct {
	plaintext []byte
	at        time.Time
}

func newState() *state {
	return &state{
		preKeys:        map[uint32]store.PreKey{},
		signedPreKeys:  map[uint32]store.SignedPreKey{},
		sessions:       map[store.Address][]byte{},
		peerIdentities: map[store.Address]store.PeerIdentity{},
		senderKeys:     map[senderKeyID][]byte{},
		decrypted:      map[string]decryptedEntry{},
		messages:       map[string]store.Message{},
		history:        map[string][]store.StatusEvent{},
		outbox:         map[string]store.OutboxItem{},
		callbacks:      map[int64]store.Callback{},
		contacts:       map[string]store.Contact{},
		settings:       map[string]store.SettingsDoc{},
		users:          map[string]store.User{},
		tokens:         map[string]store.Token{},
		templates:      map[store.TemplateKey]store.Template{},
		media:          map[string]store.Media{},
		leases:         map[string]store.Lease{},
		conversations:  map[string]store.Conversation{},
		convLinks:      map[string]string{},
	}
}

// op carries out operations on a state. Outside a transaction (the Store)
// mu is set and each operation holds it for its duration; inside one (the
// transaction view) InTx already holds it, undo is non-nil and every
// mutation appends the closure that reverts it.
//
// Operations check everything that can fail before their first mutation, so
// a failed call outside a transaction writes nothing.
type op struct {
	st   *state
	mu   *sync.Mutex  // nil inside a transaction
	undo *[]func()    // nil outside a transaction
	done *atomic.Bool // set once the transaction has finished; nil outside
}

// enter is called first by every operation: it takes the lock when running
// outside a transaction and returns what releases it.
func (o op) enter(ctx context.Context) (leave func(), err error) {
	if o.done != nil && o.done.Load() {
		return nil, store.Invalidf("memstore: transaction used after InTx returned")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.mu == nil {
		return func() {}, nil
	}
	o.mu.Lock()
	return o.mu.Unlock, nil
}

func (o op) onUndo(f func()) {
	if o.undo != nil {
		*o.undo = append(*o.undo, f)
	}
}

// put sets m[k] = v, recording how to revert it.
func put[K comparable, V any](o op, m map[K]V, k K, v V) {
	if o.undo != nil {
		old, had := m[k]
		o.onUndo(func() {
			if had {
				m[k] = old
			} else {
				delete(m, k)
			}
		})
	}
	m[k] = v
}

// del deletes m[k], recording how to revert it, and reports whether it existed.
func del[K comparable, V any](o op, m map[K]V, k K) bool {
	old, had := m[k]
	if !had {
		return false
	}
	o.onUndo(func() { m[k] = old })
	delete(m, k)
	return true
}

// set assigns *p = v, recording how to revert it.
func set[T any](o op, p *T, v T) {
	old := *p
	o.onUndo(func() { *p = old })
	*p = v
}

// InTx runs fn in one transaction; see the package comment.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if fn == nil {
		return store.Invalidf("memstore: nil transaction function")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var undo []func()
	tx := &txStore{op: op{st: s.st, undo: &undo}}
	tx.op.done = &tx.done
	defer tx.done.Store(true)
	return tx.run(ctx, fn)
}

// txStore is the store.Store handed to a transaction's fn.
type txStore struct {
	op
	done atomic.Bool
}

var _ store.Store = (*txStore)(nil)

// InTx joins the running transaction; see the package comment.
func (t *txStore) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	leave, err := t.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if fn == nil {
		return store.Invalidf("memstore: nil transaction function")
	}
	return fn(t)
}

// run calls fn and keeps its writes only if it returns nil and ctx is still
// live. Any other exit (error, panic, Goexit) reverts the writes, in the
// deferred call, before the panic or Goexit carries on up the stack.
func (t *txStore) run(ctx context.Context, fn func(tx store.Store) error) (err error) {
	keep := false
	defer func() {
		if !keep {
			t.rollback()
		}
		*t.undo = nil
	}()
	if err = fn(t); err != nil {
		return err
	}
	// database/sql rolls back a transaction whose context is done, and
	// Commit fails; do the same.
	if err = ctx.Err(); err != nil {
		return err
	}
	keep = true
	return nil
}

// rollback applies the undo log, newest entry first.
func (t *txStore) rollback() {
	log := *t.undo
	for i := len(log) - 1; i >= 0; i-- {
		log[i]()
	}
}
