package waenttest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// device is one installation of a simulated user: its Signal identity and
// the store its sessions and prekeys live in. A reinstall replaces the
// whole device, which is what drops every session.
type device struct {
	st   *memstore.Store
	acct store.Account
	spk  store.SignedPreKey
	sig  *crypto.Signal
	// nextPreKey is the id the next generated one-time key gets. Kept
	// here rather than derived from the store, because the store's
	// LastPreKeyID forgets consumed keys and ids must not be reused while
	// a peer may still hold the old public half.
	nextPreKey uint32
}

// newDevice makes a fresh installation with preKeys one-time keys, which
// it returns for upload.
func newDevice(ctx context.Context, n *Network, preKeys int) (*device, []store.PreKey, error) {
	now := n.opts.Now()
	acct, spk, err := crypto.NewAccount(now)
	if err != nil {
		return nil, nil, err
	}
	sig, err := crypto.New(acct, crypto.Options{Now: n.opts.Now, Logger: n.log})
	if err != nil {
		return nil, nil, err
	}
	d := &device{st: memstore.New(), acct: acct, spk: spk, sig: sig, nextPreKey: 1}
	if err := d.st.PutAccount(ctx, acct); err != nil {
		return nil, nil, fmt.Errorf("waenttest: store account: %w", err)
	}
	if err := d.st.PutSignedPreKey(ctx, spk); err != nil {
		return nil, nil, fmt.Errorf("waenttest: store signed prekey: %w", err)
	}
	keys, err := d.newPreKeys(ctx, d.st, preKeys)
	if err != nil {
		return nil, nil, err
	}
	return d, keys, nil
}

// newPreKeys generates and stores n one-time keys. Callers serialise it
// (the user's processing lock) because it advances nextPreKey.
func (d *device) newPreKeys(ctx context.Context, st store.Store, n int) ([]store.PreKey, error) {
	if n <= 0 {
		return nil, nil
	}
	keys, err := crypto.NewPreKeys(d.nextPreKey, n)
	if err != nil {
		return nil, err
	}
	if err := st.PutPreKeys(ctx, keys); err != nil {
		return nil, fmt.Errorf("waenttest: store prekeys: %w", err)
	}
	d.nextPreKey = keys[len(keys)-1].ID + 1
	if d.nextPreKey >= store.MaxKeyID {
		d.nextPreKey = 1
	}
	return keys, nil
}

// bundle is what the device uploads to the prekey service.
func (d *device) bundle(oneTime []store.PreKey) *keyBundle {
	kb := &keyBundle{
		registration: binary.BigEndian.AppendUint32(nil, d.acct.RegistrationID),
		identity:     d.acct.IdentityKey.Public,
		signed:       signedKey{id: keyID(d.spk.ID), value: d.spk.Key.Public, signature: d.spk.Signature},
	}
	for _, k := range oneTime {
		kb.oneTime = append(kb.oneTime, oneTimeKey{id: keyID(k.ID), value: k.Key.Public})
	}
	return kb
}

// retryKeys is the <keys> child of a retry receipt: the device's bundle
// with a one-time key made for the occasion, so the sender can rebuild the
// session without asking the server.
func (d *device) retryKeys(pk store.PreKey) wabin.Node {
	return wabin.Node{Tag: "keys", Content: []wabin.Node{
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: d.acct.IdentityKey.Public},
		{Tag: "key", Content: []wabin.Node{{Tag: "id", Content: keyID(pk.ID)}, {Tag: "value", Content: pk.Key.Public}}},
		{Tag: "skey", Content: []wabin.Node{
			{Tag: "id", Content: keyID(d.spk.ID)}, {Tag: "value", Content: d.spk.Key.Public}, {Tag: "signature", Content: d.spk.Signature},
		}},
	}}
}

// keyID is the three-byte big-endian form prekey ids travel in.
func keyID(id uint32) []byte { return []byte{byte(id >> 16), byte(id >> 8), byte(id)} }

func readKeyID(b []byte) (uint32, bool) {
	if len(b) != 3 {
		return 0, false
	}
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]), true
}

var errBadBundle = errors.New("waenttest: malformed prekey bundle")

// parseBundle reads a bundle in the prekey service's layout: a <user> of a
// fetch reply, or the <keys> of a retry receipt, whose registration id
// travels outside it (reg non-nil).
func parseBundle(n wabin.Node, reg []byte) (crypto.Bundle, error) {
	if e, ok := n.Child("error"); ok {
		return crypto.Bundle{}, fmt.Errorf("waenttest: no prekey bundle: error %s %s", e.AttrString("code"), e.AttrString("text"))
	}
	if reg == nil {
		r, _ := n.Child("registration")
		reg = r.Bytes()
	}
	if len(reg) != 4 {
		return crypto.Bundle{}, fmt.Errorf("%w: registration id is %d bytes", errBadBundle, len(reg))
	}
	b := crypto.Bundle{RegistrationID: binary.BigEndian.Uint32(reg)}
	ident, _ := n.Child("identity")
	b.Identity = ident.Bytes()
	skey, ok := n.Child("skey")
	if !ok {
		return crypto.Bundle{}, fmt.Errorf("%w: no signed prekey", errBadBundle)
	}
	id, _ := skey.Child("id")
	if b.SignedPreKeyID, ok = readKeyID(id.Bytes()); !ok {
		return crypto.Bundle{}, fmt.Errorf("%w: signed prekey id", errBadBundle)
	}
	val, _ := skey.Child("value")
	sig, _ := skey.Child("signature")
	b.SignedPreKey, b.Signature = val.Bytes(), sig.Bytes()
	if k, has := n.Child("key"); has {
		id, _ := k.Child("id")
		if b.PreKeyID, ok = readKeyID(id.Bytes()); !ok {
			return crypto.Bundle{}, fmt.Errorf("%w: one-time prekey id", errBadBundle)
		}
		v, _ := k.Child("value")
		b.PreKey = v.Bytes()
	}
	if err := b.Verify(); err != nil {
		return crypto.Bundle{}, err
	}
	return b, nil
}

// encrypt encrypts plaintext for to in one transaction. With a bundle it
// (re)builds the session from it first; without one it builds a session
// from the prekey service only when there is none, or always when fetch
// is set.
func (d *device) encrypt(ctx context.Context, srv *chatServer, to string, plaintext []byte, bundle *crypto.Bundle, fetch bool) (crypto.Ciphertext, error) {
	addr := store.Address{Name: to}
	var ct crypto.Ciphertext
	err := d.st.InTx(ctx, func(tx store.Store) error {
		b := d.sig.Begin(tx)
		bd := bundle
		if bd == nil {
			has, err := b.HasSession(ctx, addr)
			if err != nil {
				return err
			}
			if !has || fetch {
				// In-process, so fetching inside the transaction blocks
				// on no network; the lock order is always store, then
				// server.
				fetched, err := srv.fetchBundle(to)
				if err != nil {
					return err
				}
				bd = &fetched
			}
		}
		if bd != nil {
			if _, err := b.ProcessBundle(ctx, addr, *bd); err != nil {
				return err
			}
		}
		var err error
		if ct, err = b.Encrypt(ctx, addr, plaintext); err != nil {
			return err
		}
		return b.Flush(ctx)
	})
	return ct, err
}

// decrypt decrypts one <enc> from from in one transaction; a failure
// leaves the store as it was.
func (d *device) decrypt(ctx context.Context, from string, ct crypto.Ciphertext) (crypto.Decrypted, error) {
	addr := store.Address{Name: from}
	var out crypto.Decrypted
	err := d.st.InTx(ctx, func(tx store.Store) error {
		b := d.sig.Begin(tx)
		var err error
		if out, err = b.Decrypt(ctx, addr, ct); err != nil {
			return err
		}
		return b.Flush(ctx)
	})
	return out, err
}

// forget drops the session and recorded identity of peer, as a phone does
// on an identity-change notification: the next message either way starts
// a new session.
func (d *device) forget(ctx context.Context, peer string) error {
	addr := store.Address{Name: peer}
	return d.st.InTx(ctx, func(tx store.Store) error {
		b := d.sig.Begin(tx)
		if err := b.DeleteSession(ctx, addr); err != nil {
			return err
		}
		if err := tx.DeletePeerIdentity(ctx, addr); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return b.Flush(ctx)
	})
}

// retryPreKey makes the one-time key a retry receipt carries. It is not
// uploaded: only the sender of the failed message learns it.
func (d *device) retryPreKey(ctx context.Context) (store.PreKey, error) {
	var keys []store.PreKey
	err := d.st.InTx(ctx, func(tx store.Store) error {
		var err error
		keys, err = d.newPreKeys(ctx, tx, 1)
		return err
	})
	if err != nil {
		return store.PreKey{}, err
	}
	return keys[0], nil
}

// registration is the device's registration id as it travels.
func (d *device) registration() []byte {
	return binary.BigEndian.AppendUint32(nil, d.acct.RegistrationID)
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
