// Command waent runs the waent coreapp and its tools.
//
// Today it has one working subcommand, migrate, which creates or upgrades
// a database to this build's schema; serve, sandbox, doctor and bench
// follow as the rest of the system lands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/waent/waent/store/sqlstore"
)

const usage = `usage: waent <command> [flags]

commands:
  migrate   create or upgrade the database schema (--dsn, default sqlite in ./waent-data)
  version   print the schema version this build migrates to

Run "waent <command> -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "migrate":
		err = migrate(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "waent schema version %d\n", sqlstore.SchemaVersion())
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "waent: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "waent:", err)
		return 1
	}
	return 0
}

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("dsn", envOr("WAENT_DSN", "sqlite:waent-data/waent.db"), "database: sqlite:<file>, postgres://..., mysql://... (env WAENT_DSN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if file, ok := strings.CutPrefix(*dsn, "sqlite:"); ok {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return err
		}
	}
	s, err := sqlstore.Open(ctx, sqlstore.Config{DSN: *dsn})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "%s database is at schema version %d\n", s.Backend(), sqlstore.SchemaVersion())
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
