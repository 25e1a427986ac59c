package crypto

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/keys/prekey"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/state/record"
	"go.mau.fi/libsignal/util/optional"

	"github.com/waent/waent/store"
)

// Begin starts a unit of work over st, normally the transaction of a
// store.InTx: sessions it touches are loaded once and kept decoded, and
// Flush writes the changed ones back in one batch. A Batch is used by one
// goroutine. Everything it does becomes durable only when Flush has run and
// the caller's transaction commits. A Batch must not outlive st: after a
// rollback its cache describes writes that never happened.
func (s *Signal) Begin(st store.Store) *Batch {
	b := &Batch{
		sig:      s,
		st:       st,
		ps:       ProtocolStore{sig: s, st: st},
		sessions: make(map[store.Address]*sessionEntry),
		idents:   make(map[store.Address]identEntry),
	}
	b.v.b = b
	return b
}

// Batch is a unit of Signal work inside one transaction.
//
// Sessions are cached by address (name and device, the identity of
// store.Address.String) for the Batch's lifetime. libsignal's builder and
// cipher read and write the cache through view; the store sees a session
// only in Flush. Peer identities are cached too, so a burst of messages to
// one peer reads its identity once.
type Batch struct {
	sig      *Signal
	st       store.Store
	ps       ProtocolStore // prekeys and signed prekeys, read straight from st
	sessions map[store.Address]*sessionEntry
	idents   map[store.Address]identEntry
	v        view
	// broken is set when a store write failed after an operation had
	// succeeded in memory: st may hold part of its effects, so the only
	// safe continuation is the caller's rollback, and every later call
	// returns this error.
	broken error
}

// sessionEntry is the cached state of one address.
type sessionEntry struct {
	rec *record.Session // nil: no session
	// raw is rec serialised, kept while rec is unchanged since it was read
	// or flushed. It is the cheapest "last good" copy to roll back to, and
	// is nil once rec has changed.
	raw   []byte
	dirty bool // rec differs from what the store holds
}

// identEntry is the recorded identity of one address, as far as this Batch
// knows (the store's, plus what the Batch wrote).
type identEntry struct {
	key   [32]byte
	known bool
}

func (b *Batch) check() error {
	if b.broken != nil {
		return fmt.Errorf("crypto: batch unusable after an earlier store failure: %w", b.broken)
	}
	return nil
}

// fail marks the Batch broken by err and returns err.
func (b *Batch) fail(err error) error {
	b.broken = err
	return err
}

// entry returns the cached state of addr, reading and decoding the stored
// record the first time.
func (b *Batch) entry(ctx context.Context, addr store.Address) (*sessionEntry, error) {
	if e, ok := b.sessions[addr]; ok {
		return e, nil
	}
	raw, err := loadSessionBytes(ctx, b.st, addr)
	if err != nil {
		return nil, err
	}
	e := &sessionEntry{}
	if raw != nil {
		rec, err := b.sig.decodeSession(raw)
		if err != nil {
			return nil, storeErr("decode session", fmt.Errorf("corrupt session record for %s: %w", addr, err))
		}
		e.rec, e.raw = rec, raw
	}
	b.sessions[addr] = e
	return e, nil
}

// snapshot is an entry as it was before an operation that may fail after
// libsignal has changed the record in place.
type snapshot struct {
	e    *sessionEntry
	prev sessionEntry
	// st is the record's structure when raw is not available (the record
	// changed earlier in this Batch). Taking it costs far less than
	// serialising, and rebuilding from it is only paid on failure.
	st *record.SessionStructure
}

func (b *Batch) snapshot(e *sessionEntry) snapshot {
	s := snapshot{e: e, prev: *e}
	if e.rec != nil && e.raw == nil {
		s.st = e.rec.Structure()
	}
	return s
}

// restore puts the entry back as it was when s was taken.
func (b *Batch) restore(s snapshot) error {
	*s.e = s.prev
	if s.prev.rec == nil {
		return nil
	}
	var rec *record.Session
	var err error
	if s.prev.raw != nil {
		rec, err = b.sig.decodeSession(s.prev.raw)
	} else {
		rec, err = b.sig.sessionFromStructure(s.st)
	}
	if err != nil {
		// The record was good a moment ago; failing to rebuild it means
		// the cache can no longer be trusted.
		s.e.rec = nil
		return b.fail(fmt.Errorf("crypto: restoring session after failed operation: %w", err))
	}
	s.e.rec = rec
	return nil
}

// changed records that the operation on e succeeded.
func (b *Batch) changed(e *sessionEntry) error {
	e.raw, e.dirty = nil, true
	if e.rec != nil && e.rec.IsFresh() {
		// A record libsignal created is flagged fresh until it is read back
		// from bytes, and a fresh record is overwritten instead of archived
		// by the next X3DH. Rebuild it so a second session setup within the
		// Batch archives the first, as it would across Batches.
		rec, err := b.sig.sessionFromStructure(e.rec.Structure())
		if err != nil {
			return b.fail(fmt.Errorf("crypto: rebuilding new session: %w", err))
		}
		e.rec = rec
	}
	return nil
}

// applyEffects writes what the finished operation implied: identities seen
// and prekeys consumed. It returns the identity change, if any.
func (b *Batch) applyEffects(ctx context.Context) (*IdentityChange, error) {
	var change *IdentityChange
	for _, p := range b.v.idents {
		c, err := b.saveIdentity(ctx, p.addr, p.key)
		if err != nil {
			return nil, b.fail(err)
		}
		if c != nil {
			change = c
		}
	}
	for _, id := range b.v.removed {
		if err := removePreKey(ctx, b.st, id); err != nil {
			return nil, b.fail(err)
		}
	}
	return change, nil
}

func (b *Batch) saveIdentity(ctx context.Context, addr store.Address, k [32]byte) (*IdentityChange, error) {
	ie, ok := b.idents[addr]
	if !ok {
		key, known, err := loadPeerIdentity(ctx, b.st, addr)
		if err != nil {
			return nil, err
		}
		ie = identEntry{key: key, known: known}
	}
	put, change := identityUpdate(addr, ie.key, ie.known, k, b.sig.now())
	if put != nil {
		if err := b.st.PutPeerIdentity(ctx, *put); err != nil {
			return nil, storeErr("put peer identity", err)
		}
		ie = identEntry{key: k, known: true}
	}
	b.idents[addr] = ie
	return change, nil
}

func signalAddress(addr store.Address) *protocol.SignalAddress {
	return protocol.NewSignalAddress(addr.Name, addr.DeviceID)
}

func (b *Batch) builder(addr *protocol.SignalAddress) *session.Builder {
	b.v.reset()
	return session.NewBuilder(&b.v, &b.v, &b.v, &b.v, addr, b.sig.ser)
}

// HasSession reports whether there is an open session with addr.
func (b *Batch) HasSession(ctx context.Context, addr store.Address) (bool, error) {
	if err := b.check(); err != nil {
		return false, err
	}
	e, err := b.entry(ctx, addr)
	if err != nil {
		return false, err
	}
	return e.rec != nil && e.rec.SessionState().HasSenderChain(), nil
}

// ProcessBundle builds a session with addr from its bundle (X3DH). An
// existing session is archived, so messages still in flight on it decrypt.
// The bundle's identity is recorded (acknowledged when it is the first for
// addr); a different one than on record is returned as an IdentityChange.
func (b *Batch) ProcessBundle(ctx context.Context, addr store.Address, bundle Bundle) (*IdentityChange, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	// libsignal verifies the signature (a failure is mapped to
	// ErrInvalidBundle below); the form checks keep its array
	// conversions from panicking.
	if err := bundle.checkForm(); err != nil {
		return nil, err
	}
	e, err := b.entry(ctx, addr)
	if err != nil {
		return nil, err
	}
	snap := b.snapshot(e)
	if err := b.builder(signalAddress(addr)).ProcessBundle(ctx, libsignalBundle(addr, bundle)); err != nil {
		if rerr := b.restore(snap); rerr != nil {
			return nil, rerr
		}
		var se *storeError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidBundle, err)
	}
	if err := b.changed(e); err != nil {
		return nil, err
	}
	return b.applyEffects(ctx)
}

// libsignalBundle converts a bundle that passed checkForm (which makes the
// array conversions below safe).
func libsignalBundle(addr store.Address, bundle Bundle) *prekey.Bundle {
	preKeyID := optional.NewEmptyUint32()
	// A nil interface, not a typed nil pointer: libsignal tests != nil.
	var preKey ecc.ECPublicKeyable
	if bundle.PreKey != nil {
		preKeyID = optional.NewOptionalUint32(bundle.PreKeyID)
		preKey = ecc.NewDjbECPublicKey([32]byte(bundle.PreKey))
	}
	return prekey.NewBundle(bundle.RegistrationID, addr.DeviceID, preKeyID, bundle.SignedPreKeyID,
		preKey, ecc.NewDjbECPublicKey([32]byte(bundle.SignedPreKey)), [64]byte(bundle.Signature),
		identity.NewKey(ecc.NewDjbECPublicKey([32]byte(bundle.Identity))))
}

// Encrypt pads (v2) and encrypts plaintext for addr. The result is a pkmsg
// until the peer has answered on the session, a msg afterwards.
func (b *Batch) Encrypt(ctx context.Context, addr store.Address, plaintext []byte) (Ciphertext, error) {
	if err := b.check(); err != nil {
		return Ciphertext{}, err
	}
	e, err := b.entry(ctx, addr)
	if err != nil {
		return Ciphertext{}, err
	}
	if e.rec == nil || !e.rec.SessionState().HasSenderChain() {
		return Ciphertext{}, fmt.Errorf("%w with %s", ErrNoSession, addr)
	}
	// No snapshot: libsignal's Encrypt changes the record only after the
	// last step that can fail, except for calls into view, which do not
	// fail. That keeps the steady-state send path free of copies.
	addrS := signalAddress(addr)
	msg, err := session.NewCipher(b.builder(addrS), addrS).Encrypt(ctx, Pad(plaintext))
	if err != nil {
		var se *storeError
		if errors.As(err, &se) {
			return Ciphertext{}, err
		}
		if errors.Is(err, signalerror.ErrUninitializedSession) {
			return Ciphertext{}, fmt.Errorf("%w with %s: %w", ErrNoSession, addr, err)
		}
		return Ciphertext{}, fmt.Errorf("crypto: encrypt for %s: %w", addr, err)
	}
	if err := b.changed(e); err != nil {
		return Ciphertext{}, err
	}
	change, err := b.applyEffects(ctx)
	if err != nil {
		return Ciphertext{}, err
	}
	if change != nil {
		// Encrypt cannot report it; it means the identity on record was
		// replaced or removed behind the session's back.
		b.sig.log.Info("crypto: session identity differs from the recorded one; recorded it unacknowledged", "address", addr.String())
	}
	ct := Ciphertext{Type: TypeMsg, Data: msg.Serialize()}
	if msg.Type() == protocol.PREKEY_TYPE {
		ct.Type = TypePreKey
	}
	return ct, nil
}

// received is an <enc> that has passed parsing: exactly one of pre and msg
// is set.
type received struct {
	pre *protocol.PreKeySignalMessage
	msg *protocol.SignalMessage
}

// signalMessage is the SignalMessage the MAC covers: the message itself,
// or the one a pkmsg carries.
func (r received) signalMessage() *protocol.SignalMessage {
	if r.pre != nil {
		return r.pre.WhisperMessage()
	}
	return r.msg
}

// bufferKey is the decrypt buffer key of a message of type typ from sender:
//
//	SHA-256( typ || 0x00 || uint32be(len(addr)) || addr || canonical )
//
// typ is the enc type in ASCII ("pkmsg" or "msg") and addr is
// from.String() ("name:device"). canonical is the SignalMessage (for a
// pkmsg, the one it carries) as libsignal serialises it after parsing:
// version byte, protobuf {ratchetKey, counter, previousCounter,
// ciphertext}, 8-byte MAC.
//
// Not the received bytes: libsignal checks the MAC over its own
// re-serialisation, so differently encoded copies of one message (another
// low nibble in the version byte, unknown protobuf fields, a changed pkmsg
// header) all decrypt, and must all find the same buffer entry, not fail
// as duplicates. Nor without the sender: a buffer hit skips the MAC check
// that binds a message to its session, so whoever relays messages could
// otherwise re-deliver one peer's message as another's.
func bufferKey(from store.Address, typ string, canonical []byte) [32]byte {
	addr := from.String()
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(addr))))
	h.Write([]byte(addr))
	h.Write(canonical)
	return [32]byte(h.Sum(nil))
}

// Decrypt decrypts and unpads one <enc> from addr, exactly once: the
// plaintext is kept in the decrypt buffer keyed by a hash of the message
// and its sender (see bufferKey for the exact input), so a redelivered
// ciphertext yields the same plaintext (Replay) even though the ratchet has
// moved on.
//
// Errors wrap ErrNoSession, ErrDecrypt or ErrDuplicate, and leave the
// session as it was; any other error is the store's, and the caller should
// roll back and retry rather than drop the message.
func (b *Batch) Decrypt(ctx context.Context, addr store.Address, ct Ciphertext) (Decrypted, error) {
	if err := b.check(); err != nil {
		return Decrypted{}, err
	}
	var r received
	err := b.untrusted(addr, ct.Type, func() error {
		var err error
		r, err = b.sig.parse(ct)
		return err
	})
	if err != nil {
		return Decrypted{}, err
	}
	hash := bufferKey(addr, ct.Type, r.signalMessage().Serialize())
	pt, err := b.st.GetDecrypted(ctx, hash[:])
	switch {
	case err == nil:
		if pt == nil {
			pt = []byte{}
		}
		return Decrypted{Plaintext: pt, Replay: true}, nil
	case !errors.Is(err, store.ErrNotFound):
		return Decrypted{}, storeErr("get decrypted", err)
	}
	e, err := b.entry(ctx, addr)
	if err != nil {
		return Decrypted{}, err
	}
	if r.msg != nil && e.rec == nil {
		return Decrypted{}, fmt.Errorf("%w with %s", ErrNoSession, addr)
	}

	snap := b.snapshot(e)
	var padded []byte
	err = b.untrusted(addr, ct.Type, func() error {
		a := signalAddress(addr)
		bld := b.builder(a)
		c := session.NewCipher(bld, a)
		var err error
		if r.pre != nil {
			padded, err = b.decryptPreKeyMessage(ctx, bld, c, a, r.pre)
		} else {
			padded, err = b.decryptMessage(ctx, c, a, r.msg)
		}
		return err
	})
	if err == nil {
		pt, err = Unpad(padded)
	}
	if err != nil {
		if rerr := b.restore(snap); rerr != nil {
			return Decrypted{}, rerr
		}
		return Decrypted{}, classify(addr, err)
	}
	if err := b.changed(e); err != nil {
		return Decrypted{}, err
	}
	change, err := b.applyEffects(ctx)
	if err != nil {
		return Decrypted{}, err
	}
	if err := b.st.PutDecrypted(ctx, hash[:], pt, b.sig.now()); err != nil {
		return Decrypted{}, b.fail(storeErr("put decrypted", err))
	}
	return Decrypted{Plaintext: pt, IdentityChange: change}, nil
}

// untrusted runs f, which hands received bytes to libsignal.
func (b *Batch) untrusted(addr store.Address, typ string, f func() error) (err error) {
	// The form checks in parse close every panic we know of in libsignal's
	// handling of hostile input, but libsignal was not written to be fed
	// attacker bytes and has panicked on them before. Only here, at the
	// boundary where those bytes enter, is a panic turned into a rejected
	// message, so one bad message cannot take the process down. Decrypt
	// rolls the session back as for any failure.
	defer func() {
		if r := recover(); r != nil {
			b.sig.log.Warn("crypto: libsignal panicked on a received message", "address", addr.String(), "type", typ, "panic", fmt.Sprint(r))
			err = fmt.Errorf("%w: malformed message (libsignal panic: %v)", ErrDecrypt, r)
		}
	}()
	return f()
}

// classify maps a failed decryption onto the package's errors. Store
// failures keep their identity so that the caller rolls back instead of
// dropping the message.
func classify(addr store.Address, err error) error {
	var se *storeError
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, ErrDecrypt), errors.Is(err, ErrNoSession):
		return err
	case errors.Is(err, signalerror.ErrOldCounter):
		return fmt.Errorf("%w from %s: %w", ErrDuplicate, addr, err)
	case errors.Is(err, signalerror.ErrNoSessionForUser), errors.Is(err, signalerror.ErrUninitializedSession):
		return fmt.Errorf("%w with %s: %w", ErrNoSession, addr, err)
	default:
		return fmt.Errorf("%w from %s: %w", ErrDecrypt, addr, err)
	}
}

// DeleteSession forgets the session with addr (identity kept). It takes
// effect in the store at once, not at Flush; a change to the session made
// earlier in this Batch is dropped.
func (b *Batch) DeleteSession(ctx context.Context, addr store.Address) error {
	if err := b.check(); err != nil {
		return err
	}
	if err := deleteSession(ctx, b.st, addr); err != nil {
		return err
	}
	b.sessions[addr] = &sessionEntry{}
	return nil
}

// Flush writes the sessions changed by this batch, with one PutSessions in
// address order (a stable lock order for databases that lock rows). The
// Batch stays usable; a later Flush writes only what changed since.
func (b *Batch) Flush(ctx context.Context) error {
	if err := b.check(); err != nil {
		return err
	}
	var out []store.Session
	for addr, e := range b.sessions {
		if e.dirty && e.rec != nil {
			out = append(out, store.Session{Address: addr, Record: e.rec.Serialize()})
		}
	}
	if len(out) == 0 {
		return nil
	}
	slices.SortFunc(out, func(x, y store.Session) int {
		return cmp.Or(cmp.Compare(x.Address.Name, y.Address.Name), cmp.Compare(x.Address.DeviceID, y.Address.DeviceID))
	})
	if err := b.st.PutSessions(ctx, out); err != nil {
		return storeErr("put sessions", err)
	}
	for _, s := range out {
		e := b.sessions[s.Address]
		e.raw, e.dirty = s.Record, false
	}
	return nil
}

// SessionDevices returns the device ids of name that have a session, as
// the store has them plus this Batch's unflushed creations and minus its
// deletions, ascending.
func (b *Batch) SessionDevices(ctx context.Context, name string) ([]uint32, error) {
	if err := b.check(); err != nil {
		return nil, err
	}
	ids, err := b.st.SessionDevices(ctx, name)
	if err != nil {
		return nil, storeErr("list session devices", err)
	}
	slices.Sort(ids) // promised by the store; the merge below relies on it
	for addr, e := range b.sessions {
		if addr.Name != name {
			continue
		}
		i, found := slices.BinarySearch(ids, addr.DeviceID)
		switch {
		case e.rec != nil && !found:
			ids = slices.Insert(ids, i, addr.DeviceID)
		case e.rec == nil && found:
			ids = slices.Delete(ids, i, i+1)
		}
	}
	return ids, nil
}
