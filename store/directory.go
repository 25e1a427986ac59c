package store

import (
	"context"
	"time"
)

// ContactStatus is the result of a contact check.
type ContactStatus string

// Contact check results, as POST /v1/contacts reports them.
const (
	ContactValid      ContactStatus = "valid"
	ContactInvalid    ContactStatus = "invalid"
	ContactProcessing ContactStatus = "processing"
	ContactFailed     ContactStatus = "failed"
)

// Valid reports whether s is a defined result.
func (s ContactStatus) Valid() bool {
	switch s {
	case ContactValid, ContactInvalid, ContactProcessing, ContactFailed:
		return true
	}
	return false
}

// Contact is a cached contact check: the input as the caller wrote it and
// what it resolved to.
type Contact struct {
	Input     string
	WAID      string
	Status    ContactStatus
	CheckedAt time.Time
}

// Validate reports whether c can be stored.
func (c Contact) Validate() error {
	if c.Input == "" || len(c.Input) > 255 {
		return Invalidf("contact: input must be 1..255 bytes")
	}
	if !c.Status.Valid() {
		return Invalidf("contact %q: unknown status %q", c.Input, c.Status)
	}
	if c.Status == ContactValid && c.WAID == "" {
		return Invalidf("contact %q: valid contact needs a wa_id", c.Input)
	}
	return nil
}

// ContactStore caches contact checks (On-Prem kept them for 7 days).
type ContactStore interface {
	// GetContacts returns the cached entries for the inputs that have one,
	// in the order of inputs; inputs without an entry are left out.
	GetContacts(ctx context.Context, inputs []string) ([]Contact, error)
	// PutContacts creates or replaces entries by Input, in one batch.
	PutContacts(ctx context.Context, contacts []Contact) error
	// PruneContacts removes up to limit (> 0) entries checked before the
	// given time and returns how many.
	PruneContacts(ctx context.Context, checkedBefore time.Time, limit int) (int, error)
}

// SettingsDoc is a named, versioned JSON document: "application" holds the
// application settings; other names hold profile, certificates and the like.
type SettingsDoc struct {
	Name      string
	Version   int64
	Value     []byte
	UpdatedAt time.Time
}

// SettingsStore keeps settings documents with optimistic concurrency, so
// two instances editing settings cannot silently overwrite each other.
type SettingsStore interface {
	// GetSettings returns the document, or ErrNotFound.
	GetSettings(ctx context.Context, name string) (SettingsDoc, error)
	// PutSettings writes the document if its stored version equals
	// expectVersion (0: the document must not exist yet) and returns it with
	// the new version, expectVersion+1. A mismatch is ErrConflict.
	PutSettings(ctx context.Context, name string, value []byte, expectVersion int64, at time.Time) (SettingsDoc, error)
	// DeleteSettings removes the document; ErrNotFound if absent.
	DeleteSettings(ctx context.Context, name string) error
}
