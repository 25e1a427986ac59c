package store

import (
	"context"
	"time"
)

// RegistrationState is where the business number stands with the
// registration service.
type RegistrationState string

// Registration states, in the order an account passes through them.
const (
	RegistrationNone          RegistrationState = "unregistered"
	RegistrationCodeRequested RegistrationState = "code_requested"
	RegistrationRegistered    RegistrationState = "registered"
)

// Valid reports whether s is one of the defined states.
func (s RegistrationState) Valid() bool {
	switch s {
	case RegistrationNone, RegistrationCodeRequested, RegistrationRegistered:
		return true
	}
	return false
}

// KeyPair is a Curve25519 key pair, 32 bytes each half.
type KeyPair struct {
	Public  []byte
	Private []byte
}

// KeyLen is the length of every Curve25519 public or private key.
const KeyLen = 32

// SignatureLen is the length of an XEdDSA signature.
const SignatureLen = 64

// MaxKeyID is one past the largest prekey id: ids travel as 3 bytes.
const MaxKeyID = 1 << 24

func (k KeyPair) validate(what string) error {
	if len(k.Public) != KeyLen || len(k.Private) != KeyLen {
		return Invalidf("%s key pair must be %d+%d bytes, got %d+%d", what, KeyLen, KeyLen, len(k.Public), len(k.Private))
	}
	return nil
}

// Account is this installation's identity: the business number, its
// registration state and the long-lived keys that make it that account. A
// backup carries exactly this (plus settings); restoring it on a fresh
// instance brings back the same account.
type Account struct {
	// WAID is the registered number (digits only); empty until registered.
	WAID  string
	State RegistrationState
	// CC and PhoneNumber are as given to POST /v1/account.
	CC          string
	PhoneNumber string
	// VerifiedName is the base64 verified-name certificate, and VName the
	// display name decoded from it.
	VerifiedName string
	VName        string
	// NoiseKey authenticates the chat connection; IdentityKey and
	// RegistrationID are the Signal identity.
	NoiseKey       KeyPair
	IdentityKey    KeyPair
	RegistrationID uint32
	// Shards is the Multiconnect shard count (1 when not sharded).
	Shards    int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Validate reports whether a can be stored.
func (a Account) Validate() error {
	if !a.State.Valid() {
		return Invalidf("account: unknown registration state %q", a.State)
	}
	if err := a.NoiseKey.validate("account: noise"); err != nil {
		return err
	}
	if err := a.IdentityKey.validate("account: identity"); err != nil {
		return err
	}
	if a.State == RegistrationRegistered && a.WAID == "" {
		return Invalidf("account: registered account needs a wa_id")
	}
	if a.Shards < 0 {
		return Invalidf("account: negative shard count %d", a.Shards)
	}
	return nil
}

// AccountStore keeps the single Account of this installation.
type AccountStore interface {
	// GetAccount returns the account, or ErrNotFound before the first
	// PutAccount.
	GetAccount(ctx context.Context) (Account, error)
	// PutAccount creates or replaces the account. CreatedAt is kept from
	// the first write; UpdatedAt is taken from a.
	PutAccount(ctx context.Context, a Account) error
}
