package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store/filemedia"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

// The sandbox's business number and the simulated user it starts with.
const (
	sandboxCC      = "1"
	sandboxNumber  = "5550100"
	sandboxWAID    = sandboxCC + sandboxNumber
	sandboxAlice   = "15550101"
	sandboxNewPass = "Sandbox-Pass-1"
)

func sandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:9090", "address of the API (loopback; port 0 picks a free one)")
	dataDir := fs.String("data", "waent-data", "data directory (sandbox.db and media/ live here)")
	hookURL := fs.String("webhook", "", "also POST callbacks to this URL (http allowed on loopback)")
	var lf logFlags
	lf.register(fs, "-", "warn", "text")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	if !isLoopback(*listen) {
		return usagef("--listen %s: the sandbox serves plain HTTP with well-known credentials, so only a loopback address is allowed", *listen)
	}
	log, logCloser, err := lf.open(stderr)
	if err != nil {
		return err
	}
	defer logCloser.Close()
	var forward webhook.Sink
	if *hookURL != "" {
		s, err := webhookSink(*hookURL)
		if err != nil {
			return err
		}
		forward = s
	}

	dbFile := filepath.Join(*dataDir, "sandbox.db")
	if err := freshSandboxDB(dbFile); err != nil {
		return err
	}
	st, err := openStore(ctx, "sqlite:"+dbFile)
	if err != nil {
		return err
	}
	defer st.Close()
	media, err := filemedia.New(filepath.Join(*dataDir, "media"))
	if err != nil {
		return fmt.Errorf("media directory: %w", err)
	}

	simNet, err := waenttest.NewNetwork(waenttest.Options{Logger: log})
	if err != nil {
		return err
	}
	defer simNet.Close()
	rec := newWebhookRecorder(forward, 1000)
	client, err := startSimClient(ctx, simNet, waent.Config{Store: st, Media: media, Webhook: rec, Logger: log, PushName: "waent sandbox"})
	if err != nil {
		return err
	}
	defer client.Close()

	sb := newSandboxAPI(client, simNet, rec)
	api, err := httpapi.New(client, httpapi.Options{Logger: log, Routes: sb.routes()})
	if err != nil {
		return err
	}
	sb.api = api
	if _, err := sb.addUser(sandboxAlice, "Alice"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	printSandboxIntro(stdout, base, dbFile, *hookURL)
	return serveHTTP(ctx, ln, api, 10*time.Second, log)
}

// freshSandboxDB moves an earlier run's database aside. The simulated
// network lives only as long as the process, so a new one knows neither
// the business number nor its keys nor the simulated users; a database
// from a previous run would hold Signal sessions with phones that no
// longer exist. Starting fresh every time also keeps the printed admin
// flow (admin/secret, then a new password) true on every start. The last
// run's database stays as sandbox.db.prev for inspection.
func freshSandboxDB(file string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		err := os.Rename(file+suffix, file+".prev"+suffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("move the previous sandbox database aside: %w", err)
		}
		if errors.Is(err, os.ErrNotExist) {
			os.Remove(file + ".prev" + suffix) // a stale companion of an older copy
		}
	}
	return nil
}

// startSimClient starts a Client on the simulated network, registers the
// sandbox number (the network's registration service issues the code) and
// waits until it accepts sends. cfg supplies Store and anything else; the
// network's dialer, root key and registration URL are filled in.
func startSimClient(ctx context.Context, simNet *waenttest.Network, cfg waent.Config) (*waent.Client, error) {
	cfg.Dialer, cfg.ChatRootKey, cfg.RegistrationURL = simNet.Dialer(), simNet.RootKey(), simNet.RegistrationURL()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c, err := waent.New(cfg)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*waent.Client, error) {
		c.Close()
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return fail(err)
	}
	if c.WAID() == "" {
		if _, err := c.Register(ctx, waent.RegisterRequest{CC: sandboxCC, PhoneNumber: sandboxNumber, Method: "sms"}); err != nil {
			return fail(fmt.Errorf("register the sandbox number: %w", err))
		}
		code, ok := simNet.Registration().IssuedCode(sandboxCC, sandboxNumber)
		if !ok {
			return fail(errors.New("the simulated registration service issued no code"))
		}
		if err := c.Verify(ctx, code); err != nil {
			return fail(fmt.Errorf("verify the sandbox number: %w", err))
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for !c.Ready() {
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("the client did not become ready within a minute (health %s)", c.Health()))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return c, nil
}

// printSandboxIntro prints what a newcomer needs: where the API is, how
// to log in, and commands that work when pasted into a POSIX shell.
func printSandboxIntro(w io.Writer, base, dbFile, hookURL string) {
	hooks := "GET " + base + "/sandbox/webhooks lists them"
	if hookURL != "" {
		hooks = "POSTed to " + hookURL + ", and GET " + base + "/sandbox/webhooks lists them"
	}
	fmt.Fprintf(w, `waent sandbox listening on %[1]s
  business number: +1 555 0100 (wa_id %[2]s), registered on a simulated WhatsApp network in this process
  simulated user:  Alice, wa_id %[3]s
  database:        %[4]s (fresh on every start; the previous run's is kept as .prev)
  webhooks:        %[5]s

Log in as admin with password "secret"; the first login must set a new password:

  TOKEN=$(curl -s -u admin:secret -X POST -H 'Content-Type: application/json' -d '{"new_password":"%[6]s"}' %[1]s/v1/users/login | sed -E 's/.*"token":"([^"]+)".*/\1/')

Send Alice a message:

  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"to":"%[3]s","type":"text","text":{"body":"Hello from waent"}}' %[1]s/v1/messages

See what Alice received, make her reply, and read the callbacks:

  curl -s -H "Authorization: Bearer $TOKEN" %[1]s/sandbox/users/%[3]s/messages
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"type":"text","text":{"body":"Thanks!"}}' %[1]s/sandbox/users/%[3]s/messages
  curl -s -H "Authorization: Bearer $TOKEN" %[1]s/sandbox/webhooks

Later logins use the new password: curl -s -u admin:%[6]s -X POST %[1]s/v1/users/login
Stop with Ctrl-C.
`, base, sandboxWAID, sandboxAlice, dbFile, hooks, sandboxNewPass)
}
