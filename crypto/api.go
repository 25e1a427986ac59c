package crypto

// CONTRACT SKELETON — the helper implementing package crypto replaces the
// bodies (and may split this file), keeping every exported name and
// signature below. Other packages are being written against it.

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/waent/waent/store"
)

var errTODO = errors.New("crypto: not implemented yet")

// Errors reported by Decrypt and Encrypt (wrapped; test with errors.Is).
var (
	// ErrNoSession: a "msg" arrived from an address we have no session
	// with, or Encrypt was called before ProcessBundle.
	ErrNoSession = errors.New("crypto: no session")
	// ErrDecrypt: the ciphertext did not authenticate or decrypt (bad MAC,
	// unknown prekey, corrupt message, bad padding).
	ErrDecrypt = errors.New("crypto: decryption failed")
	// ErrDuplicate: the message counter was already used and the decrypt
	// buffer has no plaintext for it.
	ErrDuplicate = errors.New("crypto: duplicate message")
	// ErrInvalidBundle: a prekey bundle failed its signature or form check.
	ErrInvalidBundle = errors.New("crypto: invalid prekey bundle")
)

// Enc types on the wire (<enc type=...>).
const (
	TypePreKey = "pkmsg"
	TypeMsg    = "msg"
)

// GenerateKeyPair returns a clamped Curve25519 key pair.
func GenerateKeyPair() (store.KeyPair, error) { return store.KeyPair{}, errTODO }

// NewRegistrationID returns a random Signal registration id.
func NewRegistrationID() (uint32, error) { return 0, errTODO }

// NewAccount returns an unregistered account with fresh noise and identity
// keys and registration id, and its signed prekey (id 1) signed by the
// identity key.
func NewAccount(now time.Time) (store.Account, store.SignedPreKey, error) {
	return store.Account{}, store.SignedPreKey{}, errTODO
}

// NewSignedPreKey signs a fresh key (XEdDSA over 0x05||pub) with identity.
func NewSignedPreKey(identity store.KeyPair, id uint32, now time.Time) (store.SignedPreKey, error) {
	return store.SignedPreKey{}, errTODO
}

// NewPreKeys returns n fresh one-time prekeys with ids first, first+1, ...
// wrapping from 16777215 back to 1.
func NewPreKeys(first uint32, n int) ([]store.PreKey, error) { return nil, errTODO }

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
	return Bundle{}
}

// Verify checks lengths and the signed prekey signature.
func (b Bundle) Verify() error { return errTODO }

// Pad appends v2 padding (1..15 bytes of value N); Unpad checks and strips it.
func Pad(plaintext []byte) []byte { return nil }

// Unpad: see Pad.
func Unpad(padded []byte) ([]byte, error) { return nil, errTODO }

// Ciphertext is one <enc> payload.
type Ciphertext struct {
	Type string // TypePreKey or TypeMsg
	Data []byte
}

// IdentityChange reports that a peer's identity key differs from the one on
// record. The new key has been recorded unacknowledged (PeerIdentity with
// Acknowledged false, CreatedAt now) and the operation went ahead.
type IdentityChange struct {
	Address store.Address
	Old     []byte
	New     []byte
}

// Decrypted is a successful Decrypt.
type Decrypted struct {
	Plaintext []byte // unpadded
	// Replay: the plaintext came from the decrypt buffer, because this very
	// ciphertext was decrypted before (a redelivery after a crash).
	Replay bool
	// IdentityChange is non-nil when a pkmsg carried a new identity key.
	IdentityChange *IdentityChange
}

// Options tune a Signal.
type Options struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
}

// Signal is the account's Signal protocol engine: immutable after New and
// safe for concurrent use. All state lives in the store passed to Begin.
type Signal struct{}

// New prepares the engine for acct, which must carry an identity key pair
// and a registration id.
func New(acct store.Account, opts Options) (*Signal, error) { return nil, errTODO }

// Begin starts a unit of work over st, normally the transaction of a
// store.InTx: sessions it touches are loaded once and kept decoded, and
// Flush writes the changed ones back in one batch. A Batch is used by one
// goroutine. Everything it does becomes durable only when Flush has run and
// the caller's transaction commits.
func (s *Signal) Begin(st store.Store) *Batch { return &Batch{} }

// Batch is a unit of Signal work inside one transaction.
type Batch struct{}

// HasSession reports whether there is an open session with addr.
func (b *Batch) HasSession(ctx context.Context, addr store.Address) (bool, error) {
	return false, errTODO
}

// ProcessBundle builds a session with addr from its bundle (X3DH).
func (b *Batch) ProcessBundle(ctx context.Context, addr store.Address, bundle Bundle) (*IdentityChange, error) {
	return nil, errTODO
}

// Encrypt pads (v2) and encrypts plaintext for addr.
func (b *Batch) Encrypt(ctx context.Context, addr store.Address, plaintext []byte) (Ciphertext, error) {
	return Ciphertext{}, errTODO
}

// Decrypt decrypts and unpads one <enc> from addr, exactly once: the
// plaintext is kept in the decrypt buffer keyed by SHA-256 of the
// ciphertext, so a redelivered ciphertext yields the same plaintext (Replay)
// even though the ratchet has moved on.
func (b *Batch) Decrypt(ctx context.Context, addr store.Address, ct Ciphertext) (Decrypted, error) {
	return Decrypted{}, errTODO
}

// DeleteSession forgets the session with addr (identity kept).
func (b *Batch) DeleteSession(ctx context.Context, addr store.Address) error { return errTODO }

// Flush writes the sessions changed by this batch.
func (b *Batch) Flush(ctx context.Context) error { return errTODO }
