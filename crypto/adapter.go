package crypto

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mau.fi/libsignal/ecc"
	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/state/record"
	libstore "go.mau.fi/libsignal/state/store"

	"github.com/waent/waent/store"
)

// ProtocolStore implements every libsignal store interface directly over a
// store.Store: each call reads or writes the store, nothing is cached. It
// is what group (sender key) code and tools hand to libsignal; pairwise
// sessions go through a Batch, which caches and defers.
//
// libsignal's MessageKey store is deliberately not implemented: the session
// cipher keeps skipped message keys inside the session record and never
// calls it, and the store has no table for it.
type ProtocolStore struct {
	sig *Signal
	st  store.Store
}

var _ libstore.SignalProtocol = (*ProtocolStore)(nil)

// ProtocolStore returns a libsignal store over st for this account.
func (s *Signal) ProtocolStore(st store.Store) *ProtocolStore {
	return &ProtocolStore{sig: s, st: st}
}

// storeError marks a failure of the store itself (as opposed to a missing
// record or a bad message), so that Decrypt passes it through unchanged
// instead of calling it ErrDecrypt: the caller must retry or roll back, not
// drop the message.
type storeError struct {
	op  string
	err error
}

func (e *storeError) Error() string { return "crypto: store: " + e.op + ": " + e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func storeErr(op string, err error) error { return &storeError{op: op, err: err} }

// toAddress keys everything by name and device, never by the pointer
// libsignal happens to pass.
func toAddress(a *protocol.SignalAddress) store.Address {
	return store.Address{Name: a.Name(), DeviceID: a.DeviceID()}
}

// key32 converts a stored key, refusing (rather than panicking on) a
// record of the wrong length.
func key32(what string, b []byte) ([32]byte, error) {
	if len(b) != store.KeyLen {
		return [32]byte{}, fmt.Errorf("crypto: stored %s is %d bytes, want %d", what, len(b), store.KeyLen)
	}
	return [32]byte(b), nil
}

func keyPairOf(what string, kp store.KeyPair) (*ecc.ECKeyPair, error) {
	pub, err := key32(what+" public key", kp.Public)
	if err != nil {
		return nil, err
	}
	priv, err := key32(what+" private key", kp.Private)
	if err != nil {
		return nil, err
	}
	return ecc.NewECKeyPair(ecc.NewDjbECPublicKey(pub), ecc.NewDjbECPrivateKey(priv)), nil
}

func storeKeyPair(kp *ecc.ECKeyPair) store.KeyPair {
	pub := kp.PublicKey().PublicKey()
	priv := kp.PrivateKey().Serialize()
	return store.KeyPair{Public: pub[:], Private: priv[:]}
}

func identityBytes(k *identity.Key) ([32]byte, error) {
	if k == nil || k.PublicKey() == nil {
		return [32]byte{}, errors.New("crypto: nil identity key")
	}
	return k.PublicKey().PublicKey(), nil
}

// --- IdentityKey ---

// GetIdentityKeyPair returns the account's identity key pair.
func (p *ProtocolStore) GetIdentityKeyPair() *identity.KeyPair { return p.sig.identity }

// GetLocalRegistrationID returns the account's registration id.
func (p *ProtocolStore) GetLocalRegistrationID() uint32 { return p.sig.regID }

// SaveIdentity records key for address: the first key seen is stored
// acknowledged, a different key replaces it unacknowledged, the same key
// changes nothing.
func (p *ProtocolStore) SaveIdentity(ctx context.Context, address *protocol.SignalAddress, key *identity.Key) error {
	k, err := identityBytes(key)
	if err != nil {
		return err
	}
	addr := toAddress(address)
	old, known, err := loadPeerIdentity(ctx, p.st, addr)
	if err != nil {
		return err
	}
	put, _ := identityUpdate(addr, old, known, k, p.sig.now())
	if put == nil {
		return nil
	}
	if err := p.st.PutPeerIdentity(ctx, *put); err != nil {
		return storeErr("put peer identity", err)
	}
	return nil
}

// IsTrustedIdentity always trusts: a peer that reinstalls has a new
// identity and the On-Premises client keeps exchanging messages with it;
// SaveIdentity records the change for the business to acknowledge.
func (p *ProtocolStore) IsTrustedIdentity(ctx context.Context, address *protocol.SignalAddress, key *identity.Key) (bool, error) {
	return true, nil
}

// loadPeerIdentity returns the recorded key for addr and whether there is
// one.
func loadPeerIdentity(ctx context.Context, st store.Store, addr store.Address) ([32]byte, bool, error) {
	pi, err := st.GetPeerIdentity(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return [32]byte{}, false, nil
	}
	if err != nil {
		return [32]byte{}, false, storeErr("get peer identity", err)
	}
	k, err := key32("peer identity", pi.Key)
	if err != nil {
		return [32]byte{}, false, storeErr("get peer identity", err)
	}
	return k, true, nil
}

// identityUpdate decides what seeing key k for addr means given what is on
// record: nothing (same key), a first acknowledged record, or an
// unacknowledged replacement plus the change to report.
func identityUpdate(addr store.Address, old [32]byte, known bool, k [32]byte, now time.Time) (*store.PeerIdentity, *IdentityChange) {
	if known && old == k {
		return nil, nil
	}
	put := &store.PeerIdentity{Address: addr, Key: append([]byte(nil), k[:]...), Acknowledged: !known, CreatedAt: now}
	if !known {
		return put, nil
	}
	return put, &IdentityChange{Address: addr, Old: append([]byte(nil), old[:]...), New: put.Key}
}

// --- PreKey ---

// LoadPreKey returns the one-time prekey id. A missing key is
// signalerror.ErrNoOneTimeKeyFound (and store.ErrNotFound): a pkmsg naming
// it cannot be decrypted.
func (p *ProtocolStore) LoadPreKey(ctx context.Context, id uint32) (*record.PreKey, error) {
	pk, err := p.st.GetPreKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w %d: %w", signalerror.ErrNoOneTimeKeyFound, id, err)
	}
	if err != nil {
		return nil, storeErr("get prekey", err)
	}
	kp, err := keyPairOf("prekey", pk.Key)
	if err != nil {
		return nil, storeErr("get prekey", err)
	}
	return record.NewPreKey(id, kp, p.sig.ser.PreKeyRecord), nil
}

// StorePreKey creates or replaces prekey id. A replaced key counts as not
// uploaded: the server has the old public half.
func (p *ProtocolStore) StorePreKey(ctx context.Context, id uint32, rec *record.PreKey) error {
	keys := []store.PreKey{{ID: id, Key: storeKeyPair(rec.KeyPair())}}
	err := p.st.PutPreKeys(ctx, keys)
	if errors.Is(err, store.ErrConflict) {
		if err = p.st.DeletePreKey(ctx, id); err == nil {
			err = p.st.PutPreKeys(ctx, keys)
		}
	}
	if err != nil {
		return storeErr("put prekey", err)
	}
	return nil
}

// ContainsPreKey reports whether prekey id exists.
func (p *ProtocolStore) ContainsPreKey(ctx context.Context, id uint32) (bool, error) {
	_, err := p.st.GetPreKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("get prekey", err)
	}
	return true, nil
}

// RemovePreKey deletes a consumed prekey. Removing one that is already gone
// succeeds: the goal, its absence, holds.
func (p *ProtocolStore) RemovePreKey(ctx context.Context, id uint32) error {
	return removePreKey(ctx, p.st, id)
}

func removePreKey(ctx context.Context, st store.Store, id uint32) error {
	if err := st.DeletePreKey(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("delete prekey", err)
	}
	return nil
}

// --- SignedPreKey ---

func (p *ProtocolStore) signedRecord(k store.SignedPreKey) (*record.SignedPreKey, error) {
	kp, err := keyPairOf("signed prekey", k.Key)
	if err != nil {
		return nil, err
	}
	if len(k.Signature) != store.SignatureLen {
		return nil, fmt.Errorf("crypto: stored signed prekey signature is %d bytes", len(k.Signature))
	}
	var ts int64
	if !k.CreatedAt.IsZero() {
		ts = k.CreatedAt.UnixMilli()
	}
	return record.NewSignedPreKey(k.ID, ts, kp, [64]byte(k.Signature), p.sig.ser.SignedPreKeyRecord), nil
}

// LoadSignedPreKey returns signed prekey id; a missing one is
// signalerror.ErrNoSignedPreKey (and store.ErrNotFound).
func (p *ProtocolStore) LoadSignedPreKey(ctx context.Context, id uint32) (*record.SignedPreKey, error) {
	k, err := p.st.GetSignedPreKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w with id %d: %w", signalerror.ErrNoSignedPreKey, id, err)
	}
	if err != nil {
		return nil, storeErr("get signed prekey", err)
	}
	rec, err := p.signedRecord(k)
	if err != nil {
		return nil, storeErr("get signed prekey", err)
	}
	return rec, nil
}

// LoadSignedPreKeys returns every signed prekey, by id.
func (p *ProtocolStore) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	ks, err := p.st.ListSignedPreKeys(ctx)
	if err != nil {
		return nil, storeErr("list signed prekeys", err)
	}
	out := make([]*record.SignedPreKey, len(ks))
	for i, k := range ks {
		if out[i], err = p.signedRecord(k); err != nil {
			return nil, storeErr("list signed prekeys", err)
		}
	}
	return out, nil
}

// StoreSignedPreKey creates or replaces signed prekey id.
func (p *ProtocolStore) StoreSignedPreKey(ctx context.Context, id uint32, rec *record.SignedPreKey) error {
	sig := rec.Signature()
	k := store.SignedPreKey{ID: id, Key: storeKeyPair(rec.KeyPair()), Signature: sig[:]}
	if ts := rec.Timestamp(); ts != 0 {
		k.CreatedAt = time.UnixMilli(ts)
	}
	if err := p.st.PutSignedPreKey(ctx, k); err != nil {
		return storeErr("put signed prekey", err)
	}
	return nil
}

// ContainsSignedPreKey reports whether signed prekey id exists.
func (p *ProtocolStore) ContainsSignedPreKey(ctx context.Context, id uint32) (bool, error) {
	_, err := p.st.GetSignedPreKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("get signed prekey", err)
	}
	return true, nil
}

// RemoveSignedPreKey deletes signed prekey id; an absent one is no error.
func (p *ProtocolStore) RemoveSignedPreKey(ctx context.Context, id uint32) error {
	if err := p.st.DeleteSignedPreKey(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("delete signed prekey", err)
	}
	return nil
}

// --- Session ---

func (p *ProtocolStore) newSession() *record.Session {
	return record.NewSession(p.sig.ser.Session, p.sig.ser.State)
}

func (p *ProtocolStore) decodeSession(addr store.Address, b []byte) (*record.Session, error) {
	rec, err := p.sig.decodeSession(b)
	if err != nil {
		return nil, storeErr("decode session", fmt.Errorf("corrupt session record for %s: %w", addr, err))
	}
	return rec, nil
}

// loadSessionBytes returns the stored record for addr, or nil when there
// is none.
func loadSessionBytes(ctx context.Context, st store.Store, addr store.Address) ([]byte, error) {
	b, err := st.GetSession(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, storeErr("get session", err)
	}
	if b == nil {
		// Absence is spelled nil throughout; a stored record is never empty.
		b = []byte{}
	}
	return b, nil
}

// LoadSession returns the session with address, or a new empty record (as
// libsignal requires) when there is none.
func (p *ProtocolStore) LoadSession(ctx context.Context, address *protocol.SignalAddress) (*record.Session, error) {
	addr := toAddress(address)
	b, err := loadSessionBytes(ctx, p.st, addr)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return p.newSession(), nil
	}
	return p.decodeSession(addr, b)
}

// GetSubDeviceSessions returns the device ids with a session for name.
func (p *ProtocolStore) GetSubDeviceSessions(ctx context.Context, name string) ([]uint32, error) {
	ids, err := p.st.SessionDevices(ctx, name)
	if err != nil {
		return nil, storeErr("list session devices", err)
	}
	return ids, nil
}

// StoreSession writes the session with address.
func (p *ProtocolStore) StoreSession(ctx context.Context, address *protocol.SignalAddress, rec *record.Session) error {
	s := []store.Session{{Address: toAddress(address), Record: rec.Serialize()}}
	if err := p.st.PutSessions(ctx, s); err != nil {
		return storeErr("put session", err)
	}
	return nil
}

// ContainsSession reports whether there is a session with address.
func (p *ProtocolStore) ContainsSession(ctx context.Context, address *protocol.SignalAddress) (bool, error) {
	b, err := loadSessionBytes(ctx, p.st, toAddress(address))
	return b != nil, err
}

// DeleteSession forgets the session with address; an absent one is no
// error.
func (p *ProtocolStore) DeleteSession(ctx context.Context, address *protocol.SignalAddress) error {
	return deleteSession(ctx, p.st, toAddress(address))
}

func deleteSession(ctx context.Context, st store.Store, addr store.Address) error {
	if err := st.DeleteSession(ctx, addr); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr("delete session", err)
	}
	return nil
}

// DeleteAllSessions forgets every session.
func (p *ProtocolStore) DeleteAllSessions(ctx context.Context) error {
	if err := p.st.DeleteAllSessions(ctx); err != nil {
		return storeErr("delete all sessions", err)
	}
	return nil
}

// --- SenderKey ---

// StoreSenderKey writes the sender key record for name, keyed by group and
// sender address string.
func (p *ProtocolStore) StoreSenderKey(ctx context.Context, name *protocol.SenderKeyName, rec *groupRecord.SenderKey) error {
	if err := p.st.PutSenderKey(ctx, name.GroupID(), name.Sender().String(), rec.Serialize()); err != nil {
		return storeErr("put sender key", err)
	}
	return nil
}

// LoadSenderKey returns the sender key record for name, or an empty one
// (as libsignal requires) when there is none.
func (p *ProtocolStore) LoadSenderKey(ctx context.Context, name *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	b, err := p.st.GetSenderKey(ctx, name.GroupID(), name.Sender().String())
	if errors.Is(err, store.ErrNotFound) {
		return groupRecord.NewSenderKey(p.sig.ser.SenderKeyRecord, p.sig.ser.SenderKeyState), nil
	}
	if err != nil {
		return nil, storeErr("get sender key", err)
	}
	rec, err := groupRecord.NewSenderKeyFromBytes(b, p.sig.ser.SenderKeyRecord, p.sig.ser.SenderKeyState)
	if err != nil {
		return nil, storeErr("decode sender key", fmt.Errorf("corrupt sender key record for %s in %s: %w", name.Sender(), name.GroupID(), err))
	}
	return rec, nil
}
