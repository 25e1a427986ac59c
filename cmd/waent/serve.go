package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/conn"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store/filemedia"
	"github.com/waent/waent/webhook"
)

// serverConfig is the configuration of a coreapp deployment, shared by
// serve (which runs it) and doctor (which checks the machine for it).
type serverConfig struct {
	configFile      string
	listen          string
	tlsCert, tlsKey string
	dataDir         string
	dsn             string
	mediaDir        string
	chatHosts       string
	chatPorts       string
	registrationURL string
	rootKey         string
	webhookURL      string
	apiKey          string
	pushName        string
	shutdown        time.Duration
	log             logFlags
}

func (c *serverConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.configFile, "config", "", "JSON file of flag names to values, read after flags and environment")
	fs.StringVar(&c.listen, "listen", ":8443", "address of the /v1 API; HTTPS unless it is a loopback address")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain of the API (HTTPS)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key of the API (HTTPS)")
	fs.StringVar(&c.dataDir, "data", "waent-data", "data directory: the default SQLite database, media and logs live here")
	fs.StringVar(&c.dsn, "dsn", "", "database: sqlite:<file>, postgres://... or mysql://... (default sqlite:<data>/waent.db)")
	fs.StringVar(&c.mediaDir, "media-dir", "", "media directory (default <data>/media)")
	fs.StringVar(&c.chatHosts, "chat-hosts", "g.whatsapp.net", "chat server hosts, comma-separated, tried in order")
	fs.StringVar(&c.chatPorts, "chat-ports", "5222,443", "chat server ports, tried in order for each host")
	fs.StringVar(&c.registrationURL, "registration-url", "", "base URL of the registration service")
	fs.StringVar(&c.rootKey, "root-key", "", "trusted root public key of the chat servers' certificates (32 bytes, hex or base64)")
	fs.StringVar(&c.webhookURL, "webhook-url", "", "deliver callbacks here instead of the webhooks.url setting (https; http only on loopback)")
	fs.StringVar(&c.apiKey, "api-key", "", "API key accepted on the health, stats and metrics paths (12-128 characters)")
	fs.StringVar(&c.pushName, "push-name", "", "name phones show for the business before saving it as a contact")
	fs.DurationVar(&c.shutdown, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	c.log.register(fs, "", "info", "json")
}

// resolve fills the defaults that depend on other flags.
func (c *serverConfig) resolve() {
	if c.dsn == "" {
		c.dsn = "sqlite:" + filepath.Join(c.dataDir, "waent.db")
	}
	if c.mediaDir == "" {
		c.mediaDir = filepath.Join(c.dataDir, "media")
	}
	if c.log.file == "" {
		c.log.file = filepath.Join(c.dataDir, "logs", "waent.log")
	}
}

// logDir is where the log files go, "" when logging to stderr.
func (c *serverConfig) logDir() string {
	if c.log.file == "-" {
		return ""
	}
	return filepath.Dir(c.log.file)
}

// parseRootKey reads a 32-byte key written in hex or base64.
func parseRootKey(s string) ([32]byte, error) {
	var k [32]byte
	s = strings.TrimSpace(s)
	for _, dec := range []func(string) ([]byte, error){hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString} {
		if b, err := dec(s); err == nil && len(b) == 32 {
			copy(k[:], b)
			return k, nil
		}
	}
	return k, usagef("--root-key: want 32 bytes in hex (64 digits) or base64")
}

// webhookSink builds the HTTP sink for an explicit webhook URL; http is
// allowed only to a loopback receiver, since callbacks carry message
// contents.
func webhookSink(raw string) (*webhook.HTTPSink, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, usagef("webhook URL %q: want https://host/path", raw)
	}
	if u.Scheme == "http" && !isLoopbackURL(u.Host) {
		return nil, usagef("webhook URL %q: http is allowed only to a loopback address; use https", raw)
	}
	s, err := webhook.NewHTTPSink(webhook.HTTPConfig{URL: raw, AllowInsecureHTTP: u.Scheme == "http"})
	if err != nil {
		return nil, usagef("%v", err)
	}
	return s, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	c.register(fs)
	if err := parseFlags(fs, args, "config"); err != nil {
		return err
	}
	c.resolve()
	if c.registrationURL == "" || c.rootKey == "" {
		return usagef("serve needs --registration-url and --root-key (or WAENT_REGISTRATION_URL and WAENT_ROOT_KEY)")
	}
	rootKey, err := parseRootKey(c.rootKey)
	if err != nil {
		return err
	}
	ports, err := parsePorts(c.chatPorts)
	if err != nil {
		return usagef("--chat-ports: %v", err)
	}
	hosts := splitList(c.chatHosts)
	if len(hosts) == 0 {
		return usagef("--chat-hosts: no hosts given")
	}
	useTLS := c.tlsCert != "" || c.tlsKey != ""
	if useTLS && (c.tlsCert == "" || c.tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if !useTLS && !isLoopback(c.listen) {
		return usagef("--listen %s is not a loopback address: give --tls-cert and --tls-key (plain HTTP is allowed only on 127.0.0.1, ::1 or localhost)", c.listen)
	}
	var tlsCfg *tls.Config
	if useTLS {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	log, logCloser, err := c.log.open(stderr)
	if err != nil {
		return err
	}
	defer logCloser.Close()

	st, err := openStore(ctx, c.dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	media, err := filemedia.New(c.mediaDir)
	if err != nil {
		return fmt.Errorf("media directory: %w", err)
	}
	cfg := waent.Config{
		Store:           st,
		Dialer:          conn.Dialer{Hosts: hosts, Ports: ports},
		ChatRootKey:     rootKey,
		RegistrationURL: c.registrationURL,
		PushName:        c.pushName,
		Logger:          log,
		Media:           media,
	}
	if c.webhookURL != "" {
		sink, err := webhookSink(c.webhookURL)
		if err != nil {
			return err
		}
		cfg.Webhook = sink
	}
	client, err := waent.New(cfg)
	if err != nil {
		return err
	}
	// Close order on the way out: the HTTP server first (no new
	// requests), then the client (commits what was accepted), then the
	// store (deferred above).
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		return err
	}
	h, err := httpapi.New(client, httpapi.Options{APIKey: c.apiKey, Logger: log})
	if err != nil {
		return usagef("%v", err)
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsCfg != nil {
		ln, scheme = tls.NewListener(ln, tlsCfg), "https"
	}
	log.Info("waent serving", "url", scheme+"://"+ln.Addr().String(), "backend", st.Backend(), "health", client.Health())
	fmt.Fprintf(stdout, "waent serving the /v1 API on %s://%s\n", scheme, ln.Addr())
	return serveHTTP(ctx, ln, h, c.shutdown, log)
}

// serveHTTP serves h on ln until ctx ends, then stops taking requests and
// lets those in flight finish (up to grace): a request that got its 201
// has its message in the store, so nothing accepted is lost.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
