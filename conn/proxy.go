package conn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/http/httpproxy"
	"golang.org/x/net/proxy"
)

// ProxyFromEnvironment chooses the proxy for target ("host:port") from the
// process environment, the way the On-Premises coreapp was configured:
//
//   - https_proxy, then HTTPS_PROXY, then http_proxy, then HTTP_PROXY,
//     then ALL_PROXY, then all_proxy: the first non-empty one is used
//     (the chat protocol is neither HTTP nor HTTPS, so both HTTP variables
//     apply to it; https_proxy wins because it is the one Meta's network
//     guide tells operators to set for port 443 traffic);
//   - the value is a URL with scheme http:// or https:// (tunnelled with
//     HTTP CONNECT) or socks5:// / socks5h:// (SOCKS5, the proxy resolves
//     the name), or a bare "host[:port]", taken as http://;
//   - no_proxy, then NO_PROXY, lists hosts to reach directly, with the
//     syntax and matching of golang.org/x/net/http/httpproxy: host names
//     match themselves and their subdomains, ".example.com" only
//     subdomains, IPs and CIDRs match addresses, an entry may carry a
//     ":port", and "*" disables proxying. As in net/http, "localhost" and
//     loopback addresses are never proxied.
//
// It returns nil for a direct connection and an error, naming the
// variable, for a value that is not a usable proxy URL: connecting
// directly when the operator asked for a proxy would hide the
// misconfiguration until a firewall drops the traffic.
//
// The environment is read on every call, so a changed variable takes
// effect at the next dial.
func ProxyFromEnvironment(target string) (*url.URL, error) {
	return ProxyFromEnv(os.Getenv)(target)
}

// ProxyFromEnv is ProxyFromEnvironment reading variables through getenv,
// so tests and embedders can supply their own environment. The returned
// function calls getenv on every call.
func ProxyFromEnv(getenv func(string) string) func(target string) (*url.URL, error) {
	return func(target string) (*url.URL, error) {
		name, raw := proxyFirstEnv(getenv, "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy")
		if raw == "" {
			return nil, nil
		}
		if _, err := proxyParseURL(raw); err != nil {
			return nil, fmt.Errorf("conn: %s: %w", name, err)
		}
		_, noProxy := proxyFirstEnv(getenv, "no_proxy", "NO_PROXY")
		// httpproxy decides per URL scheme; putting the chosen value in
		// the HTTPS slot and asking for an https URL makes it apply the
		// NO_PROXY rules (and its own parsing) to that one value.
		cfg := httpproxy.Config{HTTPSProxy: raw, NoProxy: noProxy}
		u, err := cfg.ProxyFunc()(&url.URL{Scheme: "https", Host: target})
		if err != nil {
			return nil, fmt.Errorf("conn: %s: %w", name, err)
		}
		return u, nil
	}
}

func proxyFirstEnv(getenv func(string) string, names ...string) (name, value string) {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return n, v
		}
	}
	return "", ""
}

// proxyParseURL parses a proxy setting as httpproxy does (a full URL, or
// "host[:port]" meaning http://), but more strictly: httpproxy ignores a
// value it cannot parse (so the dial would go direct) and passes on any
// scheme, where this rejects both.
func proxyParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if !strings.Contains(raw, "://") && (err != nil || u.Scheme == "" || u.Host == "") {
		// "host:port" parses as scheme "host" or fails outright; a value
		// that has a scheme is taken as written, so a typo in it is an
		// error rather than a host named "http:".
		if u2, err2 := url.Parse("http://" + raw); err2 == nil && u2.Host != "" {
			u, err = u2, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("invalid proxy URL: %w", err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid proxy URL %q: no host", u.Redacted())
	}
	if err := proxyCheckScheme(u); err != nil {
		return nil, err
	}
	return u, nil
}

func proxyCheckScheme(u *url.URL) error {
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		return nil
	}
	return fmt.Errorf("unsupported proxy scheme %q in %q (want http, https, socks5 or socks5h)", u.Scheme, u.Redacted())
}

// ProxyConnectError is a proxy's refusal of an HTTP CONNECT request, for
// instance 407 when the credentials in the proxy URL are missing or wrong.
type ProxyConnectError struct {
	Proxy      string // the proxy URL, password redacted
	Target     string // the host:port the tunnel was for
	StatusCode int
	Status     string // the status line's text, e.g. "407 Proxy Authentication Required"
}

func (e *ProxyConnectError) Error() string {
	return fmt.Sprintf("proxy refused CONNECT %s: %s", e.Target, e.Status)
}

// proxyMaxConnectResponse bounds the proxy's answer to CONNECT (status
// line and headers), so a broken or hostile proxy cannot make the client
// buffer without limit.
const proxyMaxConnectResponse = 16 << 10

// proxyDial opens a connection to target through the proxy at pu. Its
// errors do not repeat the proxy URL: DialAttempt carries it.
func proxyDial(ctx context.Context, nd DialNetDialer, pu *url.URL, target string, tlsConf *tls.Config) (net.Conn, error) {
	if err := proxyCheckScheme(pu); err != nil {
		return nil, err
	}
	if pu.Host == "" {
		return nil, errors.New("proxy URL has no host")
	}
	switch pu.Scheme {
	case "socks5", "socks5h":
		return proxySOCKS5(ctx, nd, pu, target)
	default:
		return proxyHTTPConnect(ctx, nd, pu, target, tlsConf)
	}
}

// proxyForward adapts a DialNetDialer to x/net/proxy's forward dialer.
// It implements proxy.ContextDialer, which x/net prefers, so the context
// (and with it the attempt's timeout) reaches the connection to the
// proxy; Dial exists only to satisfy proxy.Dialer.
type proxyForward struct{ nd DialNetDialer }

func (f proxyForward) Dial(network, addr string) (net.Conn, error) {
	return f.nd.DialContext(context.Background(), network, addr)
}

func (f proxyForward) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return f.nd.DialContext(ctx, network, addr)
}

func proxySOCKS5(ctx context.Context, nd DialNetDialer, pu *url.URL, target string) (net.Conn, error) {
	d, err := proxy.FromURL(pu, proxyForward{nd})
	if err != nil {
		return nil, fmt.Errorf("socks5: %w", err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		// Without DialContext the handshake could outlive the timeout.
		return nil, errors.New("socks5: dialer cannot take a context")
	}
	c, err := cd.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, fmt.Errorf("socks5: %w", err)
	}
	return c, nil
}

// proxyHostPort is the proxy's address, with the scheme's default port
// when the URL has none (as net/http does: 80 for http, 443 for https).
func proxyHostPort(pu *url.URL) string {
	if p := pu.Port(); p != "" {
		return net.JoinHostPort(pu.Hostname(), p)
	}
	if pu.Scheme == "https" {
		return net.JoinHostPort(pu.Hostname(), "443")
	}
	return net.JoinHostPort(pu.Hostname(), "80")
}

// proxyHTTPConnect opens a tunnel to target with HTTP CONNECT, over TLS
// to the proxy when pu is https://.
func proxyHTTPConnect(ctx context.Context, nd DialNetDialer, pu *url.URL, target string, tlsConf *tls.Config) (_ net.Conn, err error) {
	raw, err := nd.DialContext(ctx, "tcp", proxyHostPort(pu))
	if err != nil {
		return nil, err
	}
	c := raw
	defer func() {
		if err != nil {
			c.Close()
		}
	}()

	// Reads and writes below block on the proxy; a deadline and a
	// cancellation hook tie them to ctx.
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() {
		raw.SetDeadline(time.Unix(1, 0)) // in the past: aborts blocked I/O
	})
	defer stop()

	if pu.Scheme == "https" {
		cfg := &tls.Config{}
		if tlsConf != nil {
			cfg = tlsConf.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = pu.Hostname()
		}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("TLS to proxy: %w", err)
		}
		c = tc
	}

	var req strings.Builder
	req.WriteString("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n")
	if pu.User != nil {
		pass, _ := pu.User.Password()
		req.WriteString("Proxy-Authorization: Basic " +
			base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass)) + "\r\n")
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(c, req.String()); err != nil {
		return nil, fmt.Errorf("sending CONNECT: %w", err)
	}

	lr := &io.LimitedReader{R: c, N: proxyMaxConnectResponse}
	br := bufio.NewReader(lr)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if lr.N == 0 {
			err = fmt.Errorf("response longer than %d bytes: %w", proxyMaxConnectResponse, err)
		}
		return nil, fmt.Errorf("reading CONNECT response: %w", err)
	}
	// The body of a non-200 answer is only an explanation; nothing reads it.
	if resp.StatusCode != http.StatusOK {
		return nil, &ProxyConnectError{Proxy: pu.Redacted(), Target: target, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if !stop() {
		// The cancellation hook ran and poisoned the deadline.
		return nil, ctx.Err()
	}
	if err := raw.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	// bufio may have read past the response into the tunnel: bytes the
	// target sent right away must not be lost.
	if n := br.Buffered(); n > 0 {
		early, _ := br.Peek(n)
		return &proxyBufferedConn{Conn: c, early: bytes.Clone(early)}, nil
	}
	return c, nil
}

// proxyBufferedConn is a tunnel whose first bytes were already read from
// the socket while parsing the proxy's response.
type proxyBufferedConn struct {
	net.Conn
	early []byte
}

func (c *proxyBufferedConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
