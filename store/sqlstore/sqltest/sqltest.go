// Package sqltest opens throwaway sqlstore databases for tests: a SQLite
// file in a temporary directory, or a fresh schema (PostgreSQL) or database
// (MySQL) on the servers named by WAENT_TEST_POSTGRES_DSN and
// WAENT_TEST_MYSQL_DSN. Each call gets its own, dropped when the test ends,
// so tests and parallel runs never see each other's rows.
package sqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver for the admin connection

	"github.com/waent/waent/store/sqlstore"
)

// Environment variables naming the test servers.
const (
	PostgresEnv = "WAENT_TEST_POSTGRES_DSN"
	MySQLEnv    = "WAENT_TEST_MYSQL_DSN"
)

// Backends lists every backend in the order tests run them.
var Backends = []sqlstore.Backend{sqlstore.SQLite, sqlstore.Postgres, sqlstore.MySQL}

// DSN returns a DSN for a fresh, empty database of the given backend, and
// registers its removal with t.Cleanup. It skips the test when the
// backend's server is not configured.
func DSN(t testing.TB, backend sqlstore.Backend) string {
	t.Helper()
	switch backend {
	case sqlstore.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "waent.db")
	case sqlstore.Postgres:
		return postgresDSN(t)
	case sqlstore.MySQL:
		return mysqlDSN(t)
	}
	t.Fatalf("sqltest: unknown backend %q", backend)
	return ""
}

// Open opens a sqlstore on a fresh database (see DSN) and closes it when
// the test ends.
func Open(t testing.TB, backend sqlstore.Backend) *sqlstore.Store {
	t.Helper()
	return OpenConfig(t, sqlstore.Config{DSN: DSN(t, backend)})
}

// OpenConfig opens cfg, which must name a database from DSN, and closes it
// when the test ends.
func OpenConfig(t testing.TB, cfg sqlstore.Config) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("sqltest: open %s: %v", redacted(cfg.DSN), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func uniqueName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "waent_t_" + hex.EncodeToString(b)
}

func postgresDSN(t testing.TB) string {
	base := os.Getenv(PostgresEnv)
	if base == "" {
		t.Skipf("sqltest: %s not set; PostgreSQL tests skipped", PostgresEnv)
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("sqltest: %s: %v", PostgresEnv, err)
	}
	defer admin.Close()
	schema := uniqueName()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("sqltest: create schema on %s: %v", redacted(base), err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		if _, err := db.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("sqltest: drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("sqltest: %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func mysqlDSN(t testing.TB) string {
	base := os.Getenv(MySQLEnv)
	if base == "" {
		t.Skipf("sqltest: %s not set; MySQL tests skipped", MySQLEnv)
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "mysql" {
		t.Fatalf("sqltest: %s must be a mysql://user:pass@host:port/db URL", MySQLEnv)
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr += ":3306"
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatalf("sqltest: %s: %v", MySQLEnv, err)
	}
	admin := sql.OpenDB(connector)
	defer admin.Close()
	name := uniqueName()
	if _, err := admin.Exec("CREATE DATABASE " + name + " CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		t.Fatalf("sqltest: create database on %s: %v", redacted(base), err)
	}
	t.Cleanup(func() {
		db := sql.OpenDB(connector)
		defer db.Close()
		if _, err := db.Exec("DROP DATABASE " + name); err != nil {
			t.Logf("sqltest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func redacted(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		u.User = url.User(u.User.Username())
		return u.String()
	}
	return strings.SplitN(dsn, "@", 2)[len(strings.SplitN(dsn, "@", 2))-1]
}
