// Command waent runs the WhatsApp Business On-Premises API client: the
// coreapp and the /v1 REST API in one process (serve), a self-contained
// sandbox on a simulated network (sandbox), the environment check
// (doctor), the end-to-end benchmark (bench) and schema migrations
// (migrate).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/waent/waent/store/sqlstore"
)

const usage = `usage: waent <command> [flags]

commands:
  serve     run the coreapp and the /v1 REST API (flags, WAENT_* environment, --config file)
  sandbox   run everything on a simulated network, registered and ready, on 127.0.0.1:9090
  doctor    check the chat hosts, the registration host, proxies, the database and free space
  bench     measure end-to-end throughput and latency on a simulated network
  migrate   create or upgrade the database schema (--dsn, default sqlite in ./waent-data)
  version   print the schema version this build migrates to

Run "waent <command> -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it with their own context
// and writers.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "sandbox":
		err = sandbox(ctx, args[1:], stdout, stderr)
	case "doctor":
		var failed bool
		failed, err = doctor(ctx, args[1:], stdout, stderr)
		if err == nil && failed {
			return 1
		}
	case "bench":
		err = bench(ctx, args[1:], stdout, stderr)
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
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "waent:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "waent:", err)
		return 1
	}
	return 0
}

// usageError is a bad flag or configuration value: exit status 2, as for
// flag parsing errors.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := fs.String("dsn", "sqlite:waent-data/waent.db", "database: sqlite:<file>, postgres://..., mysql://... (env WAENT_DSN)")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	s, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "%s database is at schema version %d\n", s.Backend(), sqlstore.SchemaVersion())
	return nil
}
