package outbox

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/store"
)

// Encrypting is CPU work (libsignal, about 10–60 µs a message), and on an
// embedded database the transaction that stores the advanced sessions
// holds the only write lock: encrypting inside it would stall every other
// writer (sends being accepted, statuses) for the whole batch. So the
// steady-state path encrypts first, on sessions read outside any
// transaction, and then commits the new sessions only if every one of
// them is still exactly what was read. The dispatcher is the only writer
// that encrypts, but an inbound message can advance a session meanwhile;
// then this attempt is thrown away unsent and the batch is encrypted
// inside the transaction as usual. Nothing reaches the wire before the
// commit, so a discarded attempt never re-uses a ratchet step.

// errNotOptimistic: the attempt touched more than sessions (an identity
// record, say) and is redone inside a transaction.
var errNotOptimistic = errors.New("outbox: needs a transaction")

// errSessionsMoved: a session changed between the read and the commit.
var errSessionsMoved = errors.New("outbox: sessions changed during encryption")

// overlay is the store an optimistic Batch runs on: reads go to the
// database (outside any transaction), session writes are kept, and every
// other write refuses.
type overlay struct {
	store.Store
	read    map[store.Address][]byte // nil: there was none
	written map[store.Address][]byte
}

func newOverlay(base store.Store) *overlay {
	return &overlay{Store: base, read: map[store.Address][]byte{}, written: map[store.Address][]byte{}}
}

func (o *overlay) GetSession(ctx context.Context, addr store.Address) ([]byte, error) {
	if b, ok := o.written[addr]; ok {
		return b, nil
	}
	b, err := o.Store.GetSession(ctx, addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		o.read[addr] = nil
	case err == nil:
		o.read[addr] = b
	}
	return b, err
}

func (o *overlay) PutSessions(ctx context.Context, ss []store.Session) error {
	for _, s := range ss {
		o.written[s.Address] = s.Record
	}
	return nil
}

func (o *overlay) PutPeerIdentity(context.Context, store.PeerIdentity) error { return errNotOptimistic }
func (o *overlay) DeletePeerIdentity(context.Context, store.Address) error   { return errNotOptimistic }
func (o *overlay) DeletePreKey(context.Context, uint32) error                { return errNotOptimistic }
func (o *overlay) PutPreKeys(context.Context, []store.PreKey) error          { return errNotOptimistic }
func (o *overlay) DeleteSession(context.Context, store.Address) error        { return errNotOptimistic }
func (o *overlay) DeleteSessions(context.Context, string) (int, error)       { return 0, errNotOptimistic }
func (o *overlay) DeleteAllSessions(context.Context) error                   { return errNotOptimistic }
func (o *overlay) PutDecrypted(context.Context, []byte, []byte, time.Time) error {
	return errNotOptimistic
}
func (o *overlay) InTx(context.Context, func(store.Store) error) error { return errNotOptimistic }

// sendOptimistic encrypts batch outside a transaction and commits the
// sessions if none moved. It reports false, having changed nothing, when
// the batch must take the transactional path instead.
func (d *dispatcher) sendOptimistic(ctx context.Context, batch []*item) (nodes []wabin.Node, ok bool) {
	for _, it := range batch {
		if it.bundle != nil {
			return nil, false // a new session: bundle processing writes identities
		}
	}
	ov := newOverlay(d.cfg.Store)
	b := d.cfg.Signal.Begin(ov)
	held := map[string]bool{}
	for _, it := range batch {
		h, err := d.isHeld(ctx, d.cfg.Store, held, it.peer)
		if err != nil {
			return nil, false
		}
		if h {
			return nil, false // failures are recorded by the full path
		}
		ct, err := b.Encrypt(ctx, store.Address{Name: it.peer}, it.wire.Plaintext)
		if err != nil {
			return nil, false
		}
		nodes = append(nodes, messageNode(it, ct))
	}
	if err := b.Flush(ctx); err != nil {
		return nil, false
	}
	changed := make([]store.Session, 0, len(ov.written))
	for addr, rec := range ov.written {
		changed = append(changed, store.Session{Address: addr, Record: rec})
	}
	// Address order: a stable lock order for databases that lock rows.
	sort.Slice(changed, func(i, j int) bool {
		a, b := changed[i].Address, changed[j].Address
		return a.Name < b.Name || a.Name == b.Name && a.DeviceID < b.DeviceID
	})
	d.cfg.SignalLock.Lock()
	defer d.cfg.SignalLock.Unlock()
	err := d.cfg.Store.InTx(ctx, func(tx store.Store) error {
		for _, s := range changed {
			cur, err := tx.GetSession(ctx, s.Address)
			if errors.Is(err, store.ErrNotFound) {
				cur, err = nil, nil
			}
			if err != nil {
				return err
			}
			if was := ov.read[s.Address]; (cur == nil) != (was == nil) || !bytes.Equal(cur, was) {
				return errSessionsMoved
			}
		}
		return tx.PutSessions(ctx, changed)
	})
	if err != nil {
		if !errors.Is(err, errSessionsMoved) {
			d.o.log.Debug("optimistic encrypt commit", "err", err)
		}
		return nil, false
	}
	return nodes, true
}
