package crypto

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/logger"
	"go.mau.fi/libsignal/serialize"
	"golang.org/x/crypto/curve25519"

	"github.com/waent/waent/store"
)

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
	// IdentityChange is non-nil when the message came under an identity
	// key other than the one on record: a pkmsg from a peer that
	// reinstalled, or (rarely) a late msg from an archived session with a
	// peer's previous identity, which becomes current again.
	IdentityChange *IdentityChange
}

// Options tune a Signal.
type Options struct {
	Now    func() time.Time // default time.Now
	Logger *slog.Logger     // default slog.Default()
}

// Signal is the account's Signal protocol engine: immutable after New and
// safe for concurrent use. All state lives in the store passed to Begin.
type Signal struct {
	regID    uint32
	identity *identity.KeyPair
	// ser is stateless: every serializer in it is an empty struct, so one
	// instance serves all goroutines.
	ser *serialize.Serializer
	now func() time.Time
	log *slog.Logger
}

// New prepares the engine for acct, which must carry an identity key pair
// and a registration id.
func New(acct store.Account, opts Options) (*Signal, error) {
	ik := acct.IdentityKey
	if len(ik.Public) != store.KeyLen || len(ik.Private) != store.KeyLen {
		return nil, fmt.Errorf("crypto: account identity key pair must be %d+%d bytes, got %d+%d",
			store.KeyLen, store.KeyLen, len(ik.Public), len(ik.Private))
	}
	if acct.RegistrationID == 0 {
		return nil, errors.New("crypto: account has no registration id")
	}
	// A mismatched pair would build sessions no peer can decrypt; catching
	// it here costs one scalar multiplication per process.
	pub, err := curve25519.X25519(ik.Private, curve25519.Basepoint)
	if err != nil || subtle.ConstantTimeCompare(pub, ik.Public) != 1 {
		return nil, errors.New("crypto: account identity public key does not match its private key")
	}
	libsignalReady()
	s := &Signal{
		regID: acct.RegistrationID,
		identity: identity.NewKeyPair(
			identity.NewKey(ecc.NewDjbECPublicKey([32]byte(ik.Public))),
			ecc.NewDjbECPrivateKey([32]byte(ik.Private)),
		),
		ser: serialize.NewProtoBufSerializer(),
		now: opts.Now,
		log: opts.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// libsignalReady makes sure libsignal's package-level logger is set before
// the first libsignal call of this package. libsignal assigns it lazily,
// without synchronisation, on first use; the init below normally sets it
// already, and this is the fallback should another package have cleared it
// during its own initialisation.
var libsignalReady = sync.OnceFunc(func() { logger.Debug() })

// init installs a quiet logger for libsignal unless someone already set
// one. Its default logger prints every warning and error to stdout —
// including one line per bad MAC, which an attacker controls — and setting
// it during package initialisation is the only moment that cannot race
// with another goroutine's libsignal call. An application that wants
// libsignal's output calls logger.Setup from main, which runs later.
func init() {
	if logger.Logger == nil {
		var l logger.Loggable = quietLogger{}
		logger.Setup(&l)
	}
}

// quietLogger drops libsignal's debug and info lines and passes warnings
// and errors to slog.Default at debug level: the error itself reaches the
// caller through the returned error, the log line only adds libsignal's
// location.
type quietLogger struct{}

func (quietLogger) Debug(caller, msg string)   {}
func (quietLogger) Info(caller, msg string)    {}
func (quietLogger) Warning(caller, msg string) { forward("warning", caller, msg) }
func (quietLogger) Error(caller, msg string)   { forward("error", caller, msg) }
func (quietLogger) Configure(settings string)  {}

func forward(level, caller, msg string) {
	l := slog.Default()
	if l.Enabled(context.Background(), slog.LevelDebug) {
		l.Debug("libsignal: "+msg, "libsignal_level", level, "caller", caller)
	}
}
