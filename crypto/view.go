package crypto

import (
	"context"
	"fmt"
	"slices"

	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/state/record"
	libstore "go.mau.fi/libsignal/state/store"

	"github.com/waent/waent/store"
)

// view is the store libsignal's builder and cipher see during one Batch
// operation. Sessions come from and go to the Batch's cache; identity
// writes and prekey removals are only noted, and the Batch applies them
// once the whole operation has succeeded, so a message that fails half way
// (a bad MAC after the prekey was loaded, say) writes nothing. Everything
// else reads the store directly.
type view struct {
	b       *Batch
	idents  []pendingIdentity
	removed []uint32
}

type pendingIdentity struct {
	addr store.Address
	key  [32]byte
}

var (
	_ libstore.Session      = (*view)(nil)
	_ libstore.PreKey       = (*view)(nil)
	_ libstore.SignedPreKey = (*view)(nil)
	_ libstore.IdentityKey  = (*view)(nil)
)

// reset forgets the notes of the previous operation, keeping the slices.
func (v *view) reset() {
	v.idents = v.idents[:0]
	v.removed = v.removed[:0]
}

// --- IdentityKey ---

func (v *view) GetIdentityKeyPair() *identity.KeyPair { return v.b.sig.identity }
func (v *view) GetLocalRegistrationID() uint32        { return v.b.sig.regID }

func (v *view) SaveIdentity(ctx context.Context, address *protocol.SignalAddress, key *identity.Key) error {
	k, err := identityBytes(key)
	if err != nil {
		return err
	}
	addr := toAddress(address)
	// libsignal saves the same identity on every message; keep one note per
	// address, the last.
	for i := range v.idents {
		if v.idents[i].addr == addr {
			v.idents[i].key = k
			return nil
		}
	}
	v.idents = append(v.idents, pendingIdentity{addr: addr, key: k})
	return nil
}

// IsTrustedIdentity trusts every key; see ProtocolStore.IsTrustedIdentity.
func (v *view) IsTrustedIdentity(ctx context.Context, address *protocol.SignalAddress, key *identity.Key) (bool, error) {
	return true, nil
}

// --- PreKey ---

func (v *view) LoadPreKey(ctx context.Context, id uint32) (*record.PreKey, error) {
	if slices.Contains(v.removed, id) {
		return nil, fmt.Errorf("%w %d: consumed by this operation", signalerror.ErrNoOneTimeKeyFound, id)
	}
	return v.b.ps.LoadPreKey(ctx, id)
}

func (v *view) StorePreKey(ctx context.Context, id uint32, rec *record.PreKey) error {
	return v.b.ps.StorePreKey(ctx, id, rec)
}

func (v *view) ContainsPreKey(ctx context.Context, id uint32) (bool, error) {
	if slices.Contains(v.removed, id) {
		return false, nil
	}
	return v.b.ps.ContainsPreKey(ctx, id)
}

// RemovePreKey notes the consumed prekey; the Batch deletes it once the
// message has decrypted.
func (v *view) RemovePreKey(ctx context.Context, id uint32) error {
	if !slices.Contains(v.removed, id) {
		v.removed = append(v.removed, id)
	}
	return nil
}

// --- SignedPreKey ---

func (v *view) LoadSignedPreKey(ctx context.Context, id uint32) (*record.SignedPreKey, error) {
	return v.b.ps.LoadSignedPreKey(ctx, id)
}

func (v *view) LoadSignedPreKeys(ctx context.Context) ([]*record.SignedPreKey, error) {
	return v.b.ps.LoadSignedPreKeys(ctx)
}

func (v *view) StoreSignedPreKey(ctx context.Context, id uint32, rec *record.SignedPreKey) error {
	return v.b.ps.StoreSignedPreKey(ctx, id, rec)
}

func (v *view) ContainsSignedPreKey(ctx context.Context, id uint32) (bool, error) {
	return v.b.ps.ContainsSignedPreKey(ctx, id)
}

func (v *view) RemoveSignedPreKey(ctx context.Context, id uint32) error {
	return v.b.ps.RemoveSignedPreKey(ctx, id)
}

// --- Session ---

// LoadSession returns the cached record itself (libsignal changes it in
// place; the Batch snapshots it before operations that can fail), or a new
// empty one when there is no session.
func (v *view) LoadSession(ctx context.Context, address *protocol.SignalAddress) (*record.Session, error) {
	e, err := v.b.entry(ctx, toAddress(address))
	if err != nil {
		return nil, err
	}
	if e.rec == nil {
		return record.NewSession(v.b.sig.ser.Session, v.b.sig.ser.State), nil
	}
	return e.rec, nil
}

// StoreSession puts rec in the cache; Flush writes it.
func (v *view) StoreSession(ctx context.Context, address *protocol.SignalAddress, rec *record.Session) error {
	e, err := v.b.entry(ctx, toAddress(address))
	if err != nil {
		return err
	}
	e.rec, e.raw, e.dirty = rec, nil, true
	return nil
}

func (v *view) ContainsSession(ctx context.Context, address *protocol.SignalAddress) (bool, error) {
	e, err := v.b.entry(ctx, toAddress(address))
	if err != nil {
		return false, err
	}
	return e.rec != nil, nil
}

// GetSubDeviceSessions merges the store's devices with the Batch's
// unflushed creations and deletions.
func (v *view) GetSubDeviceSessions(ctx context.Context, name string) ([]uint32, error) {
	return v.b.SessionDevices(ctx, name)
}

func (v *view) DeleteSession(ctx context.Context, address *protocol.SignalAddress) error {
	return v.b.DeleteSession(ctx, toAddress(address))
}

// DeleteAllSessions deletes every session in the store and forgets the
// cached ones.
func (v *view) DeleteAllSessions(ctx context.Context) error {
	if err := v.b.check(); err != nil {
		return err
	}
	if err := v.b.st.DeleteAllSessions(ctx); err != nil {
		return storeErr("delete all sessions", err)
	}
	clear(v.b.sessions)
	return nil
}
