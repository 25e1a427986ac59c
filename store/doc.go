// Package store defines what waent keeps durably and the interfaces any
// storage backend implements.
//
// The contract is split by concern into narrow interfaces (AccountStore,
// PreKeyStore, MessageStore, OutboxStore, CallbackStore, ...) so that each
// service depends only on the tables it owns; Store composes them all and adds
// transactions. Implementations live in subpackages: sqlstore (SQLite,
// PostgreSQL, MySQL/MariaDB on bun) and memstore (in memory, for tests).
// storetest is the conformance suite every implementation must pass, and it is
// the executable form of the behaviour documented here.
//
// Conventions shared by every implementation:
//
//   - Every method takes a context.Context first and is safe for concurrent use.
//   - Errors wrap one of ErrNotFound, ErrConflict or ErrInvalid so callers can
//     test them with errors.Is.
//   - Times are kept to the microsecond and returned in UTC; the zero
//     time.Time means "unset" and round-trips as zero.
//   - Byte slices passed in are copied; slices returned belong to the caller.
//   - Batch methods (AddMessages, EnqueueOutbox, EnqueueCallbacks, ...) write
//     all their rows or none, using multi-row statements, so callers can group
//     many logical operations into one commit.
package store
