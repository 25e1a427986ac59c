package store

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Implementations wrap them with context, so compare with
// errors.Is, never ==.
var (
	// ErrNotFound means the addressed record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means the write collides with existing state: a duplicate
	// key, a stale version in a compare-and-swap, or a lease held by someone
	// else.
	ErrConflict = errors.New("store: conflict")
	// ErrInvalid means the input can never be stored as given (empty key,
	// wrong key length, unknown enum value). Retrying will not help.
	ErrInvalid = errors.New("store: invalid input")
)

// NotFoundf returns an error wrapping ErrNotFound.
func NotFoundf(format string, args ...any) error { return wrapf(ErrNotFound, format, args...) }

// Conflictf returns an error wrapping ErrConflict.
func Conflictf(format string, args ...any) error { return wrapf(ErrConflict, format, args...) }

// Invalidf returns an error wrapping ErrInvalid.
func Invalidf(format string, args ...any) error { return wrapf(ErrInvalid, format, args...) }

func wrapf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...))
}

// NormalizeTime reduces t to what every Store keeps: UTC, microsecond
// precision. The zero time stays zero. Implementations apply it on write so
// that a value read back compares equal with == to NormalizeTime(written).
func NormalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
