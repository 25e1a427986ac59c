package store

import (
	"context"
	"strconv"
	"time"
)

// PreKey is a one-time Signal prekey. Uploaded is set once the server has
// the public half.
type PreKey struct {
	ID       uint32
	Key      KeyPair
	Uploaded bool
}

// Validate reports whether p can be stored.
func (p PreKey) Validate() error {
	if p.ID == 0 || p.ID >= MaxKeyID {
		return Invalidf("prekey: id %d out of range 1..%d", p.ID, MaxKeyID-1)
	}
	return p.Key.validate("prekey")
}

// PreKeyStore keeps one-time prekeys. Ids are allocated by the caller,
// sequentially from LastPreKeyID()+1.
type PreKeyStore interface {
	// PutPreKeys inserts new prekeys in one batch; an id that exists already
	// fails the whole batch with ErrConflict.
	PutPreKeys(ctx context.Context, keys []PreKey) error
	GetPreKey(ctx context.Context, id uint32) (PreKey, error)
	// DeletePreKey removes a consumed prekey; ErrNotFound if absent.
	DeletePreKey(ctx context.Context, id uint32) error
	// MarkPreKeysUploaded flags every prekey with id <= throughID.
	MarkPreKeysUploaded(ctx context.Context, throughID uint32) error
	// PreKeysToUpload returns up to limit prekeys not yet uploaded, by id.
	PreKeysToUpload(ctx context.Context, limit int) ([]PreKey, error)
	// CountPreKeys returns how many prekeys are stored and how many of them
	// are uploaded.
	CountPreKeys(ctx context.Context) (total, uploaded int, err error)
	// LastPreKeyID returns the highest id ever stored that is still present,
	// or 0 when there is none.
	LastPreKeyID(ctx context.Context) (uint32, error)
}

// SignedPreKey is the medium-term prekey, signed by the identity key.
type SignedPreKey struct {
	ID        uint32
	Key       KeyPair
	Signature []byte
	CreatedAt time.Time
}

// Validate reports whether k can be stored.
func (k SignedPreKey) Validate() error {
	if k.ID >= MaxKeyID {
		return Invalidf("signed prekey: id %d out of range 0..%d", k.ID, MaxKeyID-1)
	}
	if len(k.Signature) != SignatureLen {
		return Invalidf("signed prekey: signature must be %d bytes, got %d", SignatureLen, len(k.Signature))
	}
	return k.Key.validate("signed prekey")
}

// SignedPreKeyStore keeps signed prekeys.
type SignedPreKeyStore interface {
	// PutSignedPreKey creates or replaces the key with k.ID.
	PutSignedPreKey(ctx context.Context, k SignedPreKey) error
	GetSignedPreKey(ctx context.Context, id uint32) (SignedPreKey, error)
	// ListSignedPreKeys returns every signed prekey ordered by id.
	ListSignedPreKeys(ctx context.Context) ([]SignedPreKey, error)
	DeleteSignedPreKey(ctx context.Context, id uint32) error
}

// Address is a Signal protocol address: a user and one of their devices.
type Address struct {
	Name     string
	DeviceID uint32
}

// String is the form libsignal uses, "name:device"; sessions and peer
// identities are keyed by it.
func (a Address) String() string { return a.Name + ":" + strconv.FormatUint(uint64(a.DeviceID), 10) }

func (a Address) validate() error {
	if a.Name == "" {
		return Invalidf("address: empty name")
	}
	if len(a.Name) > 128 {
		return Invalidf("address: name longer than 128 bytes")
	}
	return nil
}

// Session is a serialised libsignal session record for one address.
type Session struct {
	Address Address
	Record  []byte
}

// SessionStore keeps Signal sessions. Records are opaque bytes.
type SessionStore interface {
	// GetSession returns the record for addr, or ErrNotFound.
	GetSession(ctx context.Context, addr Address) ([]byte, error)
	// PutSessions creates or replaces sessions in one batch, so a fan-out to
	// many devices writes once.
	PutSessions(ctx context.Context, sessions []Session) error
	// SessionDevices returns the device ids that have a session for name,
	// ascending.
	SessionDevices(ctx context.Context, name string) ([]uint32, error)
	// DeleteSession removes one session; ErrNotFound if absent.
	DeleteSession(ctx context.Context, addr Address) error
	// DeleteSessions removes the sessions of every device of name and
	// returns how many there were.
	DeleteSessions(ctx context.Context, name string) (int, error)
	// DeleteAllSessions removes every session.
	DeleteAllSessions(ctx context.Context) error
}

// PeerIdentity is the identity key last seen for a peer address. A key that
// replaces a different one is stored with Acknowledged false until the
// business acknowledges the change (PUT /v1/contacts/{wa_id}/identity).
type PeerIdentity struct {
	Address      Address
	Key          []byte
	Acknowledged bool
	CreatedAt    time.Time
}

// Validate reports whether p can be stored.
func (p PeerIdentity) Validate() error {
	if err := p.Address.validate(); err != nil {
		return err
	}
	if len(p.Key) != KeyLen {
		return Invalidf("peer identity: key must be %d bytes, got %d", KeyLen, len(p.Key))
	}
	return nil
}

// PeerIdentityStore keeps the identity keys of peers.
type PeerIdentityStore interface {
	GetPeerIdentity(ctx context.Context, addr Address) (PeerIdentity, error)
	// PutPeerIdentity creates or replaces the identity for p.Address.
	PutPeerIdentity(ctx context.Context, p PeerIdentity) error
	DeletePeerIdentity(ctx context.Context, addr Address) error
}

// SenderKeyStore keeps group sender-key records, keyed by group and sender
// address string.
type SenderKeyStore interface {
	// GetSenderKey returns the record, or ErrNotFound.
	GetSenderKey(ctx context.Context, groupID, sender string) ([]byte, error)
	// PutSenderKey creates or replaces the record.
	PutSenderKey(ctx context.Context, groupID, sender string, record []byte) error
	DeleteSenderKey(ctx context.Context, groupID, sender string) error
}

// DecryptBufferStore keeps recent plaintexts keyed by a hash of their
// ciphertext. Writing the plaintext in the same transaction that advances
// the ratchet makes decryption exactly-once: a redelivered ciphertext after
// a crash is answered from here instead of failing with an old counter.
type DecryptBufferStore interface {
	// PutDecrypted records plaintext for hash; a second put for the same
	// hash keeps the first plaintext and returns nil.
	PutDecrypted(ctx context.Context, hash, plaintext []byte, at time.Time) error
	// GetDecrypted returns the plaintext for hash, or ErrNotFound.
	GetDecrypted(ctx context.Context, hash []byte) ([]byte, error)
	// PruneDecrypted removes up to limit (> 0) entries recorded before
	// the given time and returns how many.
	PruneDecrypted(ctx context.Context, before time.Time, limit int) (int, error)
}

// HashLen is the length of the hashes used as keys (SHA-256).
const HashLen = 32
