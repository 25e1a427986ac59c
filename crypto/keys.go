package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"time"

	"go.mau.fi/libsignal/ecc"
	"golang.org/x/crypto/curve25519"

	"github.com/waent/waent/store"
)

// djbType is the one-byte key type that precedes a Curve25519 public key
// inside libsignal messages and under a signed prekey's signature.
const djbType = ecc.DjbType

// GenerateKeyPair returns a clamped Curve25519 key pair.
func GenerateKeyPair() (store.KeyPair, error) {
	priv := make([]byte, store.KeyLen)
	if _, err := rand.Read(priv); err != nil {
		return store.KeyPair{}, fmt.Errorf("crypto: random key: %w", err)
	}
	// Clamped in storage as well as by X25519, because libsignal and other
	// clients serialise and compare the private key as stored.
	priv[0] &= 248
	priv[31] &= 127
	priv[31] |= 64
	pub, err := curve25519.X25519(priv, curve25519.Basepoint)
	if err != nil {
		return store.KeyPair{}, fmt.Errorf("crypto: derive public key: %w", err)
	}
	return store.KeyPair{Public: pub, Private: priv}, nil
}

// NewRegistrationID returns a random Signal registration id. It is never 0,
// which some peers read as "unset".
func NewRegistrationID() (uint32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("crypto: random registration id: %w", err)
		}
		if id := binary.BigEndian.Uint32(b[:]); id != 0 {
			return id, nil
		}
	}
}

// NewAccount returns an unregistered account with fresh noise and identity
// keys and registration id, and its signed prekey (id 1) signed by the
// identity key.
func NewAccount(now time.Time) (store.Account, store.SignedPreKey, error) {
	noise, err := GenerateKeyPair()
	if err != nil {
		return store.Account{}, store.SignedPreKey{}, err
	}
	ident, err := GenerateKeyPair()
	if err != nil {
		return store.Account{}, store.SignedPreKey{}, err
	}
	regID, err := NewRegistrationID()
	if err != nil {
		return store.Account{}, store.SignedPreKey{}, err
	}
	// whatsmeow and the On-Premises client use signed prekey 1 and never
	// rotate it.
	spk, err := NewSignedPreKey(ident, 1, now)
	if err != nil {
		return store.Account{}, store.SignedPreKey{}, err
	}
	acct := store.Account{
		State:          store.RegistrationNone,
		NoiseKey:       noise,
		IdentityKey:    ident,
		RegistrationID: regID,
		Shards:         1,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	return acct, spk, nil
}

// NewSignedPreKey signs a fresh key (XEdDSA over 0x05||pub) with identity.
func NewSignedPreKey(identity store.KeyPair, id uint32, now time.Time) (store.SignedPreKey, error) {
	if len(identity.Private) != store.KeyLen {
		return store.SignedPreKey{}, fmt.Errorf("crypto: identity private key must be %d bytes, got %d", store.KeyLen, len(identity.Private))
	}
	if id >= store.MaxKeyID {
		return store.SignedPreKey{}, fmt.Errorf("crypto: signed prekey id %d out of range", id)
	}
	kp, err := GenerateKeyPair()
	if err != nil {
		return store.SignedPreKey{}, err
	}
	libsignalReady()
	sig := ecc.CalculateSignature(ecc.NewDjbECPrivateKey([32]byte(identity.Private)), serializePub(kp.Public))
	return store.SignedPreKey{ID: id, Key: kp, Signature: sig[:], CreatedAt: now}, nil
}

// NewPreKeys returns n fresh one-time prekeys with ids first, first+1, ...
// wrapping from 16777215 back to 1.
func NewPreKeys(first uint32, n int) ([]store.PreKey, error) {
	if first == 0 || first >= store.MaxKeyID {
		return nil, fmt.Errorf("crypto: first prekey id %d out of range 1..%d", first, store.MaxKeyID-1)
	}
	if n < 0 || n >= store.MaxKeyID {
		return nil, fmt.Errorf("crypto: prekey count %d out of range", n)
	}
	keys := make([]store.PreKey, n)
	id := first
	for i := range keys {
		kp, err := GenerateKeyPair()
		if err != nil {
			return nil, err
		}
		keys[i] = store.PreKey{ID: id, Key: kp}
		// Ids travel as three bytes and 0 is not a valid prekey id.
		if id++; id >= store.MaxKeyID {
			id = 1
		}
	}
	return keys, nil
}

// serializePub is the 33-byte form libsignal signs and sends: 0x05 || pub.
func serializePub(pub []byte) []byte {
	b := make([]byte, 1+len(pub))
	b[0] = djbType
	copy(b[1:], pub)
	return b
}

// Bundle is a peer's published keys, as the prekey service returns them.
type Bundle struct {
	RegistrationID uint32
	Identity       []byte // 32-byte public key
	SignedPreKeyID uint32
	SignedPreKey   []byte // 32 bytes
	Signature      []byte // 64 bytes
	PreKeyID       uint32 // meaningful only when PreKey != nil
	PreKey         []byte // 32 bytes, or nil when the server ran out
}

// LocalBundle is what an account publishes: its identity, signed prekey
// and optionally one one-time prekey.
func LocalBundle(acct store.Account, spk store.SignedPreKey, pk *store.PreKey) Bundle {
	b := Bundle{
		RegistrationID: acct.RegistrationID,
		Identity:       acct.IdentityKey.Public,
		SignedPreKeyID: spk.ID,
		SignedPreKey:   spk.Key.Public,
		Signature:      spk.Signature,
	}
	if pk != nil {
		b.PreKeyID = pk.ID
		b.PreKey = pk.Key.Public
	}
	return b
}

// Verify checks lengths and the signed prekey signature.
func (b Bundle) Verify() error {
	if err := b.checkForm(); err != nil {
		return err
	}
	libsignalReady()
	pub := ecc.NewDjbECPublicKey([32]byte(b.Identity))
	if !ecc.VerifySignature(pub, serializePub(b.SignedPreKey), [64]byte(b.Signature)) {
		return fmt.Errorf("%w: bad signed prekey signature", ErrInvalidBundle)
	}
	return nil
}

// checkForm is Verify without the signature, for callers that hand the
// bundle to libsignal, which verifies the signature itself: checking it
// twice would cost a tenth of a session setup.
func (b Bundle) checkForm() error {
	switch {
	case len(b.Identity) != store.KeyLen:
		return fmt.Errorf("%w: identity key is %d bytes", ErrInvalidBundle, len(b.Identity))
	case len(b.SignedPreKey) != store.KeyLen:
		return fmt.Errorf("%w: signed prekey is %d bytes", ErrInvalidBundle, len(b.SignedPreKey))
	case len(b.Signature) != store.SignatureLen:
		return fmt.Errorf("%w: signature is %d bytes", ErrInvalidBundle, len(b.Signature))
	case b.SignedPreKeyID >= store.MaxKeyID:
		return fmt.Errorf("%w: signed prekey id %d out of range", ErrInvalidBundle, b.SignedPreKeyID)
	case b.PreKey != nil && len(b.PreKey) != store.KeyLen:
		return fmt.Errorf("%w: one-time prekey is %d bytes", ErrInvalidBundle, len(b.PreKey))
	case b.PreKey != nil && (b.PreKeyID == 0 || b.PreKeyID >= store.MaxKeyID):
		return fmt.Errorf("%w: one-time prekey id %d out of range", ErrInvalidBundle, b.PreKeyID)
	}
	// An all-zero identity is the low-order point every forged bundle
	// would try first; no real key is zero.
	var zero [store.KeyLen]byte
	if subtle.ConstantTimeCompare(b.Identity, zero[:]) == 1 {
		return fmt.Errorf("%w: zero identity key", ErrInvalidBundle)
	}
	return nil
}
