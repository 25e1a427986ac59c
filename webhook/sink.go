package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sink receives callback bodies. One Deliver is one delivery attempt; any
// error means the receiver did not take the body and it will be retried.
// A Sink with nowhere to deliver yet (no webhooks.url) returns an error
// wrapping ErrNotConfigured: the Dispatcher then holds the queue without
// counting failures or backing off, and tries again on Kick or its poll.
type Sink interface {
	Deliver(ctx context.Context, body []byte) error
}

// ErrNotConfigured is wrapped by a Sink that has no destination yet.
var ErrNotConfigured = errors.New("webhook: no destination configured")

// FuncSink adapts a function to a Sink, for embedding applications that
// consume callbacks in-process instead of over HTTPS.
type FuncSink func(ctx context.Context, body []byte) error

// Deliver calls f.
func (f FuncSink) Deliver(ctx context.Context, body []byte) error { return f(ctx, body) }

// StatusError is a response other than 200: On-Premises treats every other
// status, 2xx and 3xx included, as a failed delivery.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return "webhook: receiver answered " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
}

// HTTPConfig configures an HTTPSink.
type HTTPConfig struct {
	// URL is webhooks.url. On-Premises requires https; http is refused
	// unless AllowInsecureHTTP is set (local receivers, benchmarks).
	URL               string
	AllowInsecureHTTP bool
	// CACertPEM holds extra trusted roots (the uploaded webhook CA, §3.10),
	// added to the system pool. Ignored when Client is set.
	CACertPEM []byte
	// Timeout bounds one POST, response included. Default 10s.
	Timeout time.Duration
	// Secrets sign each request per Standard Webhooks when non-empty. Two
	// secrets during rotation give two signatures, so receivers holding
	// either key accept the request. "whsec_<base64>" is decoded; any other
	// string is used as raw key bytes.
	Secrets []string
	// Client is used instead of a built-in one. Its CheckRedirect is
	// replaced (on a copy) so redirects are never followed.
	Client *http.Client
	// Now stamps webhook-timestamp. Default time.Now.
	Now func() time.Time
}

// HTTPSink POSTs callbacks as JSON to the webhook URL.
type HTTPSink struct {
	url     string
	client  *http.Client
	timeout time.Duration
	keys    [][]byte
	now     func() time.Time
}

// NewHTTPSink checks cfg and builds the sink.
func NewHTTPSink(cfg HTTPConfig) (*HTTPSink, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("webhook: url: %w", err)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && cfg.AllowInsecureHTTP:
	default:
		return nil, fmt.Errorf("webhook: url %q: scheme must be https", cfg.URL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("webhook: url %q: no host", cfg.URL)
	}
	s := &HTTPSink{url: u.String(), timeout: cfg.Timeout, now: cfg.Now}
	if s.timeout <= 0 {
		s.timeout = 10 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i, sec := range cfg.Secrets {
		k, err := decodeSecret(sec)
		if err != nil {
			return nil, fmt.Errorf("webhook: secret %d: %w", i, err)
		}
		s.keys = append(s.keys, k)
	}
	if cfg.Client != nil {
		c := *cfg.Client
		c.CheckRedirect = noRedirect
		s.client = &c
		return s, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if len(cfg.CACertPEM) > 0 && !pool.AppendCertsFromPEM(cfg.CACertPEM) {
		return nil, errors.New("webhook: CACertPEM holds no certificate")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	// Keep one connection per concurrent request alive, or every POST of a
	// busy dispatcher would pay a TLS handshake.
	tr.MaxIdleConnsPerHost = 32
	s.client = &http.Client{Transport: tr, CheckRedirect: noRedirect}
	return s, nil
}

// noRedirect hands the 3xx back to Deliver, which fails it: a redirect
// could send message contents to a host the operator never configured.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func decodeSecret(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "whsec_"); ok {
		k, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("whsec_ key is not base64: %w", err)
		}
		if len(k) == 0 {
			return nil, errors.New("empty key")
		}
		return k, nil
	}
	if s == "" {
		return nil, errors.New("empty key")
	}
	return []byte(s), nil
}

// Deliver POSTs body once. Only 200 is success.
func (s *HTTPSink) Deliver(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook: request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if len(s.keys) > 0 {
		id, ts, sig := sign(s.keys, body, s.now())
		req.Header.Set("webhook-id", id)
		req.Header.Set("webhook-timestamp", ts)
		req.Header.Set("webhook-signature", sig)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: post: %w", err)
	}
	// Drain a little so the connection can be reused; a receiver that
	// streams a large body is cut off rather than waited for.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// sign returns the Standard Webhooks headers. The id comes from the body
// hash so a retry of the same body carries the same id, which is what
// receivers deduplicate on.
func sign(keys [][]byte, body []byte, now time.Time) (id, ts, sig string) {
	h := sha256.Sum256(body)
	id = "msg_" + hex.EncodeToString(h[:16])
	ts = strconv.FormatInt(now.Unix(), 10)
	var b strings.Builder
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id))
		m.Write([]byte{'.'})
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return id, ts, b.String()
}
