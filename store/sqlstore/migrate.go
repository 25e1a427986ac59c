package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations are numbered SQL files, one directory per dialect
// (NNNN_name.sql). They are embedded so the binary carries its schema.
//
//go:embed migrations
var migrationFS embed.FS

type migration struct {
	version int
	name    string
	stmts   []string
}

func loadMigrations(backend Backend) ([]migration, error) {
	dir := path.Join("migrations", string(backend))
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: bad migration file name %s", e.Name())
		}
		body, err := fs.ReadFile(migrationFS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, stmts: splitStatements(string(body))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("sqlstore: %s migrations skip from %d to %d", backend, i, m.version)
		}
	}
	return ms, nil
}

// splitStatements splits a migration on semicolons that end a line. Our
// migrations contain no semicolons inside literals, so nothing smarter is
// needed; comment-only chunks are dropped.
func splitStatements(body string) []string {
	var out []string
	for _, chunk := range strings.Split(body, ";\n") {
		var code []string
		for _, line := range strings.Split(chunk, "\n") {
			if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "--") {
				code = append(code, line)
			}
		}
		if stmt := strings.TrimSuffix(strings.TrimSpace(strings.Join(code, "\n")), ";"); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

// SchemaVersion is the schema version this build migrates to.
func SchemaVersion() int {
	ms, err := loadMigrations(SQLite)
	if err != nil {
		return 0
	}
	return len(ms)
}

const migrationsTable = "waent_schema_migrations"

// migrate brings the schema up to date. Two processes may open the same
// database at once, so the work happens under a lock native to the
// dialect, and applied versions are re-read under that lock:
//   - SQLite: one BEGIN IMMEDIATE transaction holds the file's write lock
//     for the whole run (DDL is transactional);
//   - PostgreSQL: a session advisory lock, one transaction per migration;
//   - MySQL: a named GET_LOCK; DDL commits implicitly, so statements are
//     idempotent and the version row is written last.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.backend)
	if err != nil {
		return err
	}
	conn, err := s.db.DB.Conn(ctx) // a raw connection: the lock must stay on it
	if err != nil {
		return s.wrap(err, "migrate: connect")
	}
	defer conn.Close()

	createTable := "CREATE TABLE IF NOT EXISTS " + migrationsTable +
		" (version INTEGER PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)"
	switch s.backend {
	case SQLite:
		tx, err := conn.BeginTx(ctx, nil) // BEGIN IMMEDIATE via _txlock
		if err != nil {
			return s.wrap(err, "migrate: lock")
		}
		defer tx.Rollback()
		if err := s.applyPending(ctx, tx, tx, createTable, ms); err != nil {
			return err
		}
		return s.wrap(tx.Commit(), "migrate: commit")

	case Postgres:
		// The key is per database, so schemas in one database migrate one
		// at a time; that is rare and harmless.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7420251023)"); err != nil {
			return s.wrap(err, "migrate: lock")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7420251023)")
		return s.applyPending(ctx, conn, nil, createTable, ms)

	case MySQL:
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(CONCAT('waent_migrate.', DATABASE()), 120)").Scan(&got); err != nil {
			return s.wrap(err, "migrate: lock")
		}
		if got.Int64 != 1 {
			return fmt.Errorf("sqlstore: migrate: timed out waiting for another process's migration lock")
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(CONCAT('waent_migrate.', DATABASE()))")
		return s.applyPending(ctx, conn, nil, createTable+" ENGINE=InnoDB", ms)
	}
	return fmt.Errorf("sqlstore: unknown backend %q", s.backend)
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// applyPending runs the migrations not yet recorded. When outer is nil each
// migration gets its own transaction on conn (a no-op for MySQL DDL, which
// commits implicitly, but it keeps PostgreSQL migrations atomic).
func (s *Store) applyPending(ctx context.Context, conn execQuerier, outer *sql.Tx, createTable string, ms []migration) error {
	if _, err := conn.ExecContext(ctx, createTable); err != nil {
		return s.wrap(err, "migrate: create %s", migrationsTable)
	}
	applied := map[int]bool{}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM "+migrationsTable)
	if err != nil {
		return s.wrap(err, "migrate: read versions")
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return s.wrap(err, "migrate: read versions")
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap(err, "migrate: read versions")
	}
	for v := range applied {
		if v > len(ms) {
			return fmt.Errorf("sqlstore: database schema version %d is newer than this build knows (%d); upgrade waent", v, len(ms))
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if err := s.applyOne(ctx, conn, outer, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyOne(ctx context.Context, conn execQuerier, outer *sql.Tx, m migration) error {
	target, tx := conn, outer
	if outer == nil {
		c, ok := conn.(*sql.Conn)
		if !ok {
			return fmt.Errorf("sqlstore: migrate: no connection")
		}
		var err error
		if tx, err = c.BeginTx(ctx, nil); err != nil {
			return s.wrap(err, "migrate: begin %04d", m.version)
		}
		defer tx.Rollback()
		target = tx
	}
	for i, stmt := range m.stmts {
		if _, err := target.ExecContext(ctx, stmt); err != nil {
			return s.wrap(err, "migrate: %04d_%s statement %d", m.version, m.name, i+1)
		}
	}
	if _, err := target.ExecContext(ctx, "INSERT INTO "+migrationsTable+" (version, name, applied_at) VALUES ("+
		strconv.Itoa(m.version)+", '"+m.name+"', "+strconv.FormatInt(time.Now().UnixMicro(), 10)+")"); err != nil {
		return s.wrap(err, "migrate: record %04d", m.version)
	}
	if outer == nil {
		return s.wrap(tx.Commit(), "migrate: commit %04d", m.version)
	}
	return nil
}
