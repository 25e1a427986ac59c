package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/store/storetest"
)

// TestConformance runs the store conformance suite on every backend; the
// ones without a configured server skip, by name.
func TestConformance(t *testing.T) {
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) {
			sqltest.DSN(t, b) // skips now, by name, when the server is not configured
			storetest.Run(t, func(t *testing.T) store.Store { return sqltest.Open(t, b) })
		})
	}
}

// helperEnv makes the test binary act as a separate process that opens
// the DSN in it and exits: used to race migrations across processes.
const helperEnv = "WAENT_SQLSTORE_OPEN_HELPER"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(helperEnv); dsn != "" {
		s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: dsn})
		if err != nil {
			fmt.Fprintln(os.Stderr, "open:", err)
			os.Exit(3)
		}
		s.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestConcurrentMigrations opens one empty database from several
// processes at once: every open must succeed and each migration must be
// applied exactly once.
func TestConcurrentMigrations(t *testing.T) {
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) {
			dsn := sqltest.DSN(t, b)
			const procs = 4
			var wg sync.WaitGroup
			errs := make([]error, procs)
			outs := make([][]byte, procs)
			for i := range procs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					cmd := exec.Command(os.Args[0], "-test.run=^$")
					cmd.Env = append(os.Environ(), helperEnv+"="+dsn)
					outs[i], errs[i] = cmd.CombinedOutput()
				}()
			}
			wg.Wait()
			for i := range procs {
				if errs[i] != nil {
					t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
				}
			}
			s := sqltest.OpenConfig(t, sqlstore.Config{DSN: dsn})
			var versions []int
			if err := s.DB().NewSelect().Table("waent_schema_migrations").Column("version").Order("version").Scan(context.Background(), &versions); err != nil {
				t.Fatal(err)
			}
			if len(versions) != sqlstore.SchemaVersion() {
				t.Fatalf("migrations recorded %v, want versions 1..%d once each", versions, sqlstore.SchemaVersion())
			}
			for i, v := range versions {
				if v != i+1 {
					t.Fatalf("migrations recorded %v, want versions 1..%d once each", versions, sqlstore.SchemaVersion())
				}
			}
		})
	}
}

// TestReopenKeepsData checks that a second open migrates nothing and sees
// what the first wrote.
func TestReopenKeepsData(t *testing.T) {
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			dsn := sqltest.DSN(t, b)
			s1, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s1.PutSettings(ctx, "application", []byte(`{"a":1}`), 0, storetestTime); err != nil {
				t.Fatal(err)
			}
			s1.Close()
			s2 := sqltest.OpenConfig(t, sqlstore.Config{DSN: dsn})
			doc, err := s2.GetSettings(ctx, "application")
			if err != nil || string(doc.Value) != `{"a":1}` || doc.Version != 1 {
				t.Fatalf("after reopen: %+v, %v", doc, err)
			}
		})
	}
}

// TestRefusesNewerSchema: a database migrated by a newer build must not be
// used by an older one.
func TestRefusesNewerSchema(t *testing.T) {
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) {
			ctx := context.Background()
			dsn := sqltest.DSN(t, b)
			s := sqltest.OpenConfig(t, sqlstore.Config{DSN: dsn})
			if _, err := s.DB().ExecContext(ctx, "INSERT INTO waent_schema_migrations (version, name, applied_at) VALUES (9999, 'future', 0)"); err != nil {
				t.Fatal(err)
			}
			_, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
			if err == nil || !strings.Contains(err.Error(), "newer") {
				t.Fatalf("open of a newer schema: err = %v, want a 'newer than this build' error", err)
			}
		})
	}
}

// TestCheckConstraints writes a short key behind the store's back: the
// schema itself must refuse it where the dialect enforces CHECK.
func TestCheckConstraints(t *testing.T) {
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) {
			s := sqltest.Open(t, b)
			_, err := s.DB().NewInsert().Table("waent_prekeys").
				Value("key_id", "?", 7).Value("pub", "?", make([]byte, 31)).Value("priv", "?", make([]byte, 32)).Value("uploaded", "?", false).
				Exec(context.Background())
			if err == nil {
				t.Fatal("a 31-byte public key was accepted by the schema")
			}
		})
	}
}

func TestOpenRejectsBadDSN(t *testing.T) {
	for _, dsn := range []string{"", "redis://localhost", "sqlite:", "sqlite::memory:", "mysql://root@127.0.0.1:1/", "postgres://%zz"} {
		if s, err := sqlstore.Open(context.Background(), sqlstore.Config{DSN: dsn}); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
}

func TestTransactionErrorsKeepKind(t *testing.T) {
	s := sqltest.Open(t, sqlstore.SQLite)
	ctx := context.Background()
	u := store.User{Username: "ann", PasswordHash: "h", Role: store.RoleUser}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx store.Store) error { return tx.CreateUser(ctx, u) })
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate user in a transaction: %v, want ErrConflict", err)
	}
}
