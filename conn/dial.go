package conn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DialNetDialer opens plain TCP connections; *net.Dialer is one. It is
// the injection point for tests and sandboxes.
type DialNetDialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dialer opens the raw TCP connection to the chat servers. The zero
// values of its optional fields select the On-Premises defaults. A Dialer
// is not modified by DialContext and may be used concurrently.
type Dialer struct {
	// Hosts are the chat server names (or IP literals, without port),
	// e.g. "g.whatsapp.net", tried in order. Required.
	Hosts []string
	// Ports are tried in order for each host. Default {5222, 443}: the
	// coreapp's fallback when a firewall blocks 5222.
	Ports []int
	// Timeout bounds each attempt: the TCP connect and, through a
	// proxy, the proxy handshake. Default 20s.
	Timeout time.Duration
	// Proxy returns the proxy URL for a target "host:port", or nil to
	// connect directly. Supported schemes: http and https (HTTP CONNECT)
	// and socks5 and socks5h. Nil means ProxyFromEnvironment.
	Proxy func(target string) (*url.URL, error)
	// ProxyTLS configures TLS to https:// proxies; nil uses the system
	// roots. ServerName defaults to the proxy's host.
	ProxyTLS *tls.Config
	// NetDialer opens the TCP connections, to the target or to the
	// proxy; nil means &net.Dialer{}.
	NetDialer DialNetDialer
}

// DialDefaultPorts are the On-Premises chat ports: 5222, and 443 when
// 5222 cannot connect.
func DialDefaultPorts() []int { return []int{5222, 443} }

// DialDefaultTimeout is the per-attempt timeout when Dialer.Timeout is 0.
const DialDefaultTimeout = 20 * time.Second

// DialContext connects to the first reachable host and port and returns
// the connection and the "host:port" it reached (the target, not the
// proxy).
//
// The order is host by host, and for each host its ports in order:
// h1:5222, h1:443, h2:5222, h2:443. A blocked 5222 is the common failure
// (corporate firewalls), so trying 443 on the same host right away finds
// a working path sooner than timing out on 5222 across every host first.
//
// Each attempt gets its own Timeout; ctx bounds the whole call, and when
// it ends no further attempt is made. On failure the error is a
// *DialError listing every attempt; errors.Is sees through it to each
// attempt's cause and to ctx's error.
func (d *Dialer) DialContext(ctx context.Context) (net.Conn, string, error) {
	targets, err := d.targets()
	if err != nil {
		return nil, "", err
	}
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DialDefaultTimeout
	}
	proxyFor := d.Proxy
	if proxyFor == nil {
		proxyFor = ProxyFromEnvironment
	}
	var nd DialNetDialer = d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}

	derr := &DialError{}
	for _, target := range targets {
		if err := ctx.Err(); err != nil {
			derr.Err = err
			return nil, "", derr
		}
		c, via, err := d.dialOne(ctx, nd, proxyFor, target, timeout)
		if err == nil {
			return c, target, nil
		}
		derr.Attempts = append(derr.Attempts, DialAttempt{Addr: target, Proxy: via, Err: err})
	}
	derr.Err = ctx.Err()
	return nil, "", derr
}

// targets validates the configuration up front: a typo in a host name
// should be reported as such, not as a list of failed connections.
func (d *Dialer) targets() ([]string, error) {
	if len(d.Hosts) == 0 {
		return nil, errors.New("conn: Dialer has no Hosts")
	}
	ports := d.Ports
	if len(ports) == 0 {
		ports = DialDefaultPorts()
	}
	for _, p := range ports {
		if p <= 0 || p > 65535 {
			return nil, fmt.Errorf("conn: Dialer port %d out of range", p)
		}
	}
	targets := make([]string, 0, len(d.Hosts)*len(ports))
	for _, h := range d.Hosts {
		host, err := dialCheckHost(h)
		if err != nil {
			return nil, err
		}
		for _, p := range ports {
			targets = append(targets, net.JoinHostPort(host, strconv.Itoa(p)))
		}
	}
	return targets, nil
}

// dialCheckHost rejects hosts that would not survive being written into
// an HTTP CONNECT request line or a SOCKS request, and hosts carrying
// their own port (which Ports would silently override).
func dialCheckHost(h string) (string, error) {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" {
		return "", errors.New("conn: Dialer has an empty host")
	}
	if len(h) > 255 {
		return "", fmt.Errorf("conn: Dialer host too long (%d bytes)", len(h))
	}
	for _, r := range h {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("/?#@[]", r) {
			return "", fmt.Errorf("conn: Dialer host %q has an invalid character %q", h, r)
		}
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return "", fmt.Errorf("conn: Dialer host %q includes a port; use Ports", h)
	}
	return h, nil
}

// dialOne makes one attempt under its own timeout. via is the redacted
// proxy URL, "" for a direct connection.
func (d *Dialer) dialOne(ctx context.Context, nd DialNetDialer, proxyFor func(string) (*url.URL, error), target string, timeout time.Duration) (c net.Conn, via string, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pu, err := proxyFor(target)
	if err != nil {
		return nil, "", fmt.Errorf("choosing a proxy: %w", err)
	}
	if pu == nil {
		c, err = nd.DialContext(ctx, "tcp", target)
	} else {
		via = pu.Redacted()
		c, err = proxyDial(ctx, nd, pu, target, d.ProxyTLS)
	}
	if err != nil {
		return nil, via, dialCtxErr(ctx, err)
	}
	return c, via, nil
}

// dialCtxErr makes a failure caused by ctx recognisable as such. A read
// that hit a deadline taken from ctx fails with os.ErrDeadlineExceeded,
// sometimes before ctx's own timer has fired; callers (and the
// reconnect loop) should see context.DeadlineExceeded either way.
func dialCtxErr(ctx context.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded
		}
	}
	if cerr == nil {
		return err
	}
	return fmt.Errorf("%w: %w", cerr, err)
}

// DialError reports a failed DialContext.
type DialError struct {
	Attempts []DialAttempt // in the order made
	// Err is the context's error when ctx ended the dial (possibly
	// before every target was tried); nil otherwise.
	Err error
}

// DialAttempt is one failed connection attempt.
type DialAttempt struct {
	Addr  string // the target host:port
	Proxy string // the proxy URL with its password redacted; "" for direct
	Err   error
}

func (e *DialError) Error() string {
	var b strings.Builder
	b.WriteString("conn: could not reach the chat server")
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	for i, a := range e.Attempts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(a.Addr)
		if a.Proxy != "" {
			b.WriteString(" via " + a.Proxy)
		}
		fmt.Fprintf(&b, ": %v", a.Err)
	}
	return b.String()
}

// Unwrap exposes the context's error and every attempt's error, so
// errors.Is(err, context.DeadlineExceeded) and errors.As(err,
// new(*ProxyConnectError)) work on the whole dial.
func (e *DialError) Unwrap() []error {
	errs := make([]error, 0, len(e.Attempts)+1)
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	for _, a := range e.Attempts {
		errs = append(errs, a.Err)
	}
	return errs
}
