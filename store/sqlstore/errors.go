package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/waent/waent/store"
)

// errKind classifies a driver error into the store's sentinels.
func errKind(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return store.ErrConflict
		case "23514", "22001", "22003": // check_violation, string too long, numeric out of range
			return store.ErrInvalid
		}
		return nil
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case 1062: // ER_DUP_ENTRY
			return store.ErrConflict
		case 3819, 4025, 1406, 1264: // CHECK (MySQL, MariaDB), data too long, out of range
			return store.ErrInvalid
		}
		return nil
	}
	var liteErr interface{ Code() int }
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case 1555, 2067: // SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
			return store.ErrConflict
		case 275: // SQLITE_CONSTRAINT_CHECK
			return store.ErrInvalid
		}
		return nil
	}
	if msg := err.Error(); strings.Contains(msg, "UNIQUE constraint failed") {
		return store.ErrConflict
	}
	return nil
}

// wrap adds the operation to a driver error and, where it is one of the
// store's kinds, wraps that sentinel too so errors.Is works on both.
func (s *Store) wrap(err error, op string, args ...any) error {
	if err == nil {
		return nil
	}
	what := fmt.Sprintf(op, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: %s: %w", what, store.ErrNotFound)
	}
	if kind := errKind(err); kind != nil {
		return fmt.Errorf("sqlstore: %s: %w: %w", what, kind, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}

// transient reports whether err aborted a transaction that is worth
// running again.
func (s *Store) transient(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization_failure, deadlock_detected
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == 1213 || myErr.Number == 1205 // deadlock, lock wait timeout
	}
	var liteErr interface{ Code() int }
	if errors.As(err, &liteErr) {
		c := liteErr.Code() & 0xff
		return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}
