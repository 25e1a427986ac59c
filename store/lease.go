package store

import (
	"context"
	"time"
)

// Lease is a named, time-limited claim held by one instance, for High
// Availability: only the holder of the "primary" lease connects. Token is a
// fencing token: it increases every time the lease changes hands, so a
// stale holder's writes can be told apart.
type Lease struct {
	Name      string
	Holder    string
	Token     int64
	ExpiresAt time.Time
}

// LeaseStore arbitrates leases. Callers pass now so that every instance is
// judged by the same rules (and tests control time).
type LeaseStore interface {
	// AcquireLease grants or renews name to holder until now+ttl. It
	// succeeds when the lease is free, expired at now, or already held by
	// holder (a renewal keeps the token); otherwise it is ErrConflict.
	AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (Lease, error)
	// ReleaseLease frees the lease if holder holds it with token: the lease
	// keeps its token and has an empty Holder and zero ExpiresAt.
	// ErrConflict if another holder or token holds it, ErrNotFound if it was
	// never granted.
	ReleaseLease(ctx context.Context, name, holder string, token int64) error
	// GetLease returns the lease as stored (possibly expired).
	GetLease(ctx context.Context, name string) (Lease, error)
}
