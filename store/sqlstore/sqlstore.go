// Package sqlstore implements store.Store on SQL databases through bun:
// SQLite (the embedded default, pure Go), PostgreSQL and MySQL/MariaDB.
//
// Open picks the dialect from the DSN, runs the embedded migrations (safely
// when several processes open one database at once) and returns a Store.
// Times are kept as Unix microseconds in BIGINT columns on every dialect,
// which sidesteps each driver's time-zone handling and keeps comparisons
// exact.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/waent/waent/store"
)

// Config says which database to open and how.
type Config struct {
	// DSN selects the backend by its scheme:
	//
	//	sqlite:/var/lib/waent/waent.db        (or sqlite:relative/path.db)
	//	postgres://user:pass@host:5432/db?sslmode=disable   (postgresql:// too)
	//	mysql://user:pass@host:3306/db        (or mysql:user:pass@tcp(host:3306)/db)
	DSN string
	// MaxOpenConns bounds the connection pool of PostgreSQL and MySQL, and
	// the reader pool of SQLite (which always has exactly one writer).
	// Default 8.
	MaxOpenConns int
	// BusyTimeout is how long SQLite waits for another process's write lock
	// before failing. Default 10s.
	BusyTimeout time.Duration
	// SQLiteSynchronous is SQLite's synchronous pragma. The default, FULL,
	// makes every commit durable across power loss; NORMAL trades the last
	// commits before a power cut for speed (a process crash loses nothing
	// in either mode).
	SQLiteSynchronous string
	// TxRetries is how many times InTx re-runs a transaction the database
	// aborted for a transient reason (deadlock, serialization failure).
	// Default 5; negative disables retries.
	TxRetries int
}

// Backend names a supported database.
type Backend string

// Supported backends.
const (
	SQLite   Backend = "sqlite"
	Postgres Backend = "postgres"
	MySQL    Backend = "mysql"
)

// Store is a store.Store on a SQL database. The value returned by Open owns
// the connection pools; Close releases them.
type Store struct {
	db      *bun.DB // the owner's handle; the single writer on SQLite
	readers *bun.DB // read-only pool (SQLite) or db itself
	backend Backend
	retries int

	// w and r are what methods run on: db/readers, or the transaction.
	w, r bun.IDB
	tx   bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database named by cfg.DSN, brings its schema up to
// date and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 8
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 10 * time.Second
	}
	if cfg.SQLiteSynchronous == "" {
		cfg.SQLiteSynchronous = "FULL"
	}
	if cfg.TxRetries == 0 {
		cfg.TxRetries = 5
	}
	s, err := openBackend(cfg)
	if err != nil {
		return nil, err
	}
	s.retries = max(cfg.TxRetries, 0)
	if err := s.db.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlstore: connect to %s: %w", s.backend, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func openBackend(cfg Config) (*Store, error) {
	dsn := cfg.DSN
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "//"), cfg)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		pc, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: postgres DSN: %w", err)
		}
		// bun formats every value into the query text, so prepared
		// statements would only fill pgx's statement cache with one-off
		// queries; the simple protocol sends them as they are.
		pc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		sqldb := stdlib.OpenDB(*pc)
		sqldb.SetMaxOpenConns(cfg.MaxOpenConns)
		sqldb.SetMaxIdleConns(cfg.MaxOpenConns)
		return newStore(bun.NewDB(sqldb, pgdialect.New()), nil, Postgres), nil
	case strings.HasPrefix(dsn, "mysql:"):
		mc, err := parseMySQLDSN(strings.TrimPrefix(dsn, "mysql:"))
		if err != nil {
			return nil, err
		}
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: mysql DSN: %w", err)
		}
		sqldb := sql.OpenDB(conn)
		sqldb.SetMaxOpenConns(cfg.MaxOpenConns)
		sqldb.SetMaxIdleConns(cfg.MaxOpenConns)
		sqldb.SetConnMaxLifetime(time.Hour)
		return newStore(bun.NewDB(sqldb, mysqldialect.New()), nil, MySQL), nil
	}
	return nil, fmt.Errorf("sqlstore: DSN %q: want a sqlite:, postgres://, postgresql:// or mysql: prefix", redactDSN(dsn))
}

func newStore(db, readers *bun.DB, b Backend) *Store {
	if readers == nil {
		readers = db
	}
	return &Store{db: db, readers: readers, backend: b, w: db, r: readers}
}

// parseMySQLDSN accepts both //user:pass@host:port/db?params (URL form) and
// the driver's own user:pass@tcp(host:port)/db form, and sets the session
// options the store relies on.
func parseMySQLDSN(rest string) (*mysql.Config, error) {
	var mc *mysql.Config
	if strings.HasPrefix(rest, "//") {
		u, err := url.Parse("mysql:" + rest)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: mysql DSN: %w", err)
		}
		mc = mysql.NewConfig()
		mc.User = u.User.Username()
		mc.Passwd, _ = u.User.Password()
		mc.Net = "tcp"
		mc.Addr = u.Host
		if u.Port() == "" {
			mc.Addr = u.Host + ":3306"
		}
		mc.DBName = strings.TrimPrefix(u.Path, "/")
		for k, v := range u.Query() {
			if mc.Params == nil {
				mc.Params = map[string]string{}
			}
			mc.Params[k] = v[0]
		}
	} else {
		var err error
		if mc, err = mysql.ParseDSN(rest); err != nil {
			return nil, fmt.Errorf("sqlstore: mysql DSN: %w", err)
		}
	}
	if mc.DBName == "" {
		return nil, errors.New("sqlstore: mysql DSN names no database")
	}
	// Conditional UPDATEs report rows matched, not rows changed: a lease
	// renewal that writes the same values must still count as granted.
	mc.ClientFoundRows = true
	mc.Collation = "utf8mb4_bin"
	if mc.Params == nil {
		mc.Params = map[string]string{}
	}
	if _, ok := mc.Params["sql_mode"]; !ok {
		// Strict mode: an over-long value is an error, never a silent
		// truncation.
		mc.Params["sql_mode"] = "'TRADITIONAL'"
	}
	return mc, nil
}

func openSQLite(path string, cfg Config) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlstore: sqlite DSN names no file")
	}
	if path == ":memory:" || strings.Contains(path, "mode=memory") {
		return nil, errors.New("sqlstore: in-memory SQLite is not supported (use store/memstore)")
	}
	escaped := strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	base := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(%s)&_pragma=foreign_keys(1)",
		escaped, cfg.BusyTimeout.Milliseconds(), cfg.SQLiteSynchronous)
	// One writer connection: SQLite has one write lock per file, and
	// queueing writers in the pool is cheaper than making them spin on
	// SQLITE_BUSY. BEGIN IMMEDIATE takes that lock at the start of a
	// transaction, so a read-then-write transaction cannot deadlock against
	// another process.
	wdb, err := sql.Open(sqliteshim.ShimName, base+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	rdb, err := sql.Open(sqliteshim.ShimName, base+"&_pragma=query_only(1)")
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite: %w", err)
	}
	rdb.SetMaxOpenConns(cfg.MaxOpenConns)
	rdb.SetMaxIdleConns(cfg.MaxOpenConns)
	return newStore(bun.NewDB(wdb, sqlitedialect.New()), bun.NewDB(rdb, sqlitedialect.New()), SQLite), nil
}

// Backend reports which database the store runs on.
func (s *Store) Backend() Backend { return s.backend }

// DB returns the underlying bun handle (the writer on SQLite), for tools
// and tests that need to inspect the database.
func (s *Store) DB() *bun.DB { return s.db }

// Close releases the connection pools. It is an error to call it on a
// transaction's Store.
func (s *Store) Close() error {
	if s.tx {
		return errors.New("sqlstore: Close called on a transaction")
	}
	err := s.db.Close()
	if s.readers != s.db {
		err = errors.Join(err, s.readers.Close())
	}
	return err
}

// InTx implements store.Transactor.
func (s *Store) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	if s.tx {
		return fn(s)
	}
	for attempt := 0; ; attempt++ {
		err := s.runTx(ctx, fn)
		if err == nil || attempt >= s.retries || !s.transient(err) || ctx.Err() != nil {
			return err
		}
		// Full jitter, growing: colliding transactions should not collide
		// again on the retry.
		pause := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt+1, 8)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// atomic runs fn in the current transaction, or in a new one.
func (s *Store) atomic(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx {
		return fn(s)
	}
	return s.InTx(ctx, func(tx store.Store) error { return fn(tx.(*Store)) })
}

func (s *Store) runTx(ctx context.Context, fn func(tx store.Store) error) (err error) {
	var opts *sql.TxOptions
	if s.backend == MySQL {
		// InnoDB's default REPEATABLE READ takes gap locks on every
		// searched range, which turns concurrent enqueues into deadlocks;
		// our statements are written for READ COMMITTED (conditional
		// updates, no read-then-write without a guard).
		opts = &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return s.wrap(err, "begin transaction")
	}
	txs := &Store{db: s.db, readers: s.readers, backend: s.backend, w: tx, r: tx, tx: true}
	committed := false
	defer func() {
		if !committed {
			rbErr := tx.Rollback()
			if p := recover(); p != nil {
				panic(p)
			}
			if rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
				err = errors.Join(err, fmt.Errorf("sqlstore: rollback: %w", rbErr))
			}
		}
	}()
	if err := fn(txs); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		return s.wrap(err, "commit")
	}
	return nil
}

func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return dsn
}

// Time columns hold Unix microseconds; 0 is the zero time.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}
