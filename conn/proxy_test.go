package conn_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/conn"
)

// proxyTestSplice copies both ways until either side ends, then closes
// both. from is read through r, which may hold bytes already buffered.
func proxyTestSplice(a net.Conn, r io.Reader, b net.Conn) {
	var once sync.Once
	done := func() { once.Do(func() { a.Close(); b.Close() }) }
	var wg sync.WaitGroup
	wg.Go(func() { io.Copy(b, r); done() })
	wg.Go(func() { io.Copy(a, b); done() })
	wg.Wait()
}

// proxyTestTracker closes every connection a test proxy opened, at
// cleanup, and waits for their goroutines.
type proxyTestTracker struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func (tr *proxyTestTracker) add(c net.Conn) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		c.Close()
		return false
	}
	if tr.conns == nil {
		tr.conns = map[net.Conn]struct{}{}
	}
	tr.conns[c] = struct{}{}
	return true
}

func (tr *proxyTestTracker) closeAll() {
	tr.mu.Lock()
	tr.closed = true
	for c := range tr.conns {
		c.Close()
	}
	tr.mu.Unlock()
	tr.wg.Wait()
}

// proxyTestHTTP is an HTTP CONNECT proxy on net/http: it checks Basic
// credentials (407 otherwise), then hijacks the connection and splices
// it to the target. resolve maps the requested host:port to a real one,
// standing in for the proxy's DNS, so tests can use names the client
// itself cannot resolve.
type proxyTestHTTP struct {
	srv        *httptest.Server
	user, pass string
	resolve    func(string) string
	tr         proxyTestTracker

	mu       sync.Mutex
	requests []string // "METHOD host auth-header-ok?" per request
}

func proxyTestStartHTTP(t *testing.T, tlsProxy bool, user, pass string, resolve func(string) string) *proxyTestHTTP {
	t.Helper()
	p := &proxyTestHTTP{user: user, pass: pass, resolve: resolve}
	p.srv = httptest.NewUnstartedServer(p)
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-TLS case logs a handshake error
	if tlsProxy {
		p.srv.StartTLS()
	} else {
		p.srv.Start()
	}
	t.Cleanup(func() {
		p.srv.Close()
		p.tr.closeAll()
	})
	return p
}

func (p *proxyTestHTTP) url(user *url.Userinfo) *url.URL {
	u, _ := url.Parse(p.srv.URL)
	u.User = user
	return u
}

func (p *proxyTestHTTP) log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

func (p *proxyTestHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	authOK := p.user == "" ||
		r.Header.Get("Proxy-Authorization") == "Basic "+base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass))
	p.mu.Lock()
	p.requests = append(p.requests, r.Method+" "+r.Host+" auth="+strconv.FormatBool(authOK))
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	if !authOK {
		w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
		http.Error(w, "credentials, please", http.StatusProxyAuthRequired)
		return
	}
	addr := r.Host
	if p.resolve != nil {
		addr = p.resolve(addr)
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	if !p.tr.add(c) || !p.tr.add(up) {
		c.Close()
		up.Close()
		return
	}
	p.tr.wg.Add(1)
	defer p.tr.wg.Done()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		c.Close()
		up.Close()
		return
	}
	proxyTestSplice(c, rw.Reader, up)
}

// proxyTestSOCKS is a minimal SOCKS5 server (RFC 1928, CONNECT only)
// with optional username/password authentication (RFC 1929).
type proxyTestSOCKS struct {
	l          net.Listener
	user, pass string
	resolve    func(string) string
	tr         proxyTestTracker

	mu      sync.Mutex
	targets []string // requested destinations as the client named them
	authed  []bool
}

func proxyTestStartSOCKS(t *testing.T, user, pass string, resolve func(string) string) *proxyTestSOCKS {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxyTestSOCKS{l: l, user: user, pass: pass, resolve: resolve}
	p.tr.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if !p.tr.add(c) {
				return
			}
			p.tr.wg.Go(func() { p.serve(c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		p.tr.closeAll()
	})
	return p
}

func (p *proxyTestSOCKS) url(user *url.Userinfo) *url.URL {
	return &url.URL{Scheme: "socks5h", Host: p.l.Addr().String(), User: user}
}

func (p *proxyTestSOCKS) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	readN := func(n int) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		return b, err
	}
	hdr, err := readN(2)
	if err != nil || hdr[0] != 5 {
		return
	}
	methods, err := readN(int(hdr[1]))
	if err != nil {
		return
	}
	want := byte(0x00)
	if p.user != "" {
		want = 0x02
	}
	if !bytes.Contains(methods, []byte{want}) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if want == 0x02 {
		v, err := readN(2)
		if err != nil || v[0] != 1 {
			return
		}
		u, err := readN(int(v[1]))
		if err != nil {
			return
		}
		pl, err := readN(1)
		if err != nil {
			return
		}
		pw, err := readN(int(pl[0]))
		if err != nil {
			return
		}
		ok := string(u) == p.user && string(pw) == p.pass
		p.mu.Lock()
		p.authed = append(p.authed, ok)
		p.mu.Unlock()
		if !ok {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	req, err := readN(4)
	if err != nil || req[0] != 5 {
		return
	}
	var host string
	switch req[3] {
	case 1:
		b, err := readN(4)
		if err != nil {
			return
		}
		host = net.IP(b).String()
	case 3:
		l, err := readN(1)
		if err != nil {
			return
		}
		b, err := readN(int(l[0]))
		if err != nil {
			return
		}
		host = string(b)
	case 4:
		b, err := readN(16)
		if err != nil {
			return
		}
		host = net.IP(b).String()
	default:
		c.Write([]byte{5, 8, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	pb, err := readN(2)
	if err != nil {
		return
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(pb))))
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	if req[1] != 1 { // CONNECT only
		c.Write([]byte{5, 7, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	addr := target
	if p.resolve != nil {
		addr = p.resolve(addr)
	}
	up, err := net.Dial("tcp", addr)
	if err != nil {
		c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return
	}
	if !p.tr.add(up) {
		return
	}
	c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	c.SetDeadline(time.Time{})
	proxyTestSplice(c, br, up)
}

// proxyTestResolver maps the fake chat host to the target's real address.
func proxyTestResolver(target *dialTestTarget) func(string) string {
	return func(hostport string) string {
		if hostport == "chat.example:5222" {
			return target.l.Addr().String()
		}
		return hostport
	}
}

func proxyTestFixed(u *url.URL) func(string) (*url.URL, error) {
	return func(string) (*url.URL, error) { return u, nil }
}

func TestProxyHTTPConnect(t *testing.T) {
	target := dialTestStartTarget(t)
	p := proxyTestStartHTTP(t, false, "waent", "pa:ss w/rd", proxyTestResolver(target))
	d := &conn.Dialer{
		Hosts:   []string{"chat.example"},
		Ports:   []int{5222},
		Timeout: 5 * time.Second,
		Proxy:   proxyTestFixed(p.url(url.UserPassword("waent", "pa:ss w/rd"))),
	}
	c, addr, err := d.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if addr != "chat.example:5222" {
		t.Fatalf("reached %q, want the target (not the proxy)", addr)
	}
	dialTestRoundTrip(t, c, "through the tunnel")
	if got := target.lines(); len(got) != 1 || got[0] != "through the tunnel" {
		t.Fatalf("target received %q", got)
	}
	if got := p.log(); len(got) != 1 || got[0] != "CONNECT chat.example:5222 auth=true" {
		t.Fatalf("proxy saw %q, want one authenticated CONNECT for the chat host", got)
	}
}

func TestProxyHTTPConnectRejectsCredentials(t *testing.T) {
	target := dialTestStartTarget(t)
	p := proxyTestStartHTTP(t, false, "waent", "secret", proxyTestResolver(target))
	for _, user := range []*url.Userinfo{url.UserPassword("waent", "wrong"), nil} {
		d := &conn.Dialer{
			Hosts:   []string{"chat.example"},
			Ports:   []int{5222},
			Timeout: 5 * time.Second,
			Proxy:   proxyTestFixed(p.url(user)),
		}
		_, _, err := d.DialContext(t.Context())
		var pe *conn.ProxyConnectError
		if !errors.As(err, &pe) || pe.StatusCode != http.StatusProxyAuthRequired {
			t.Fatalf("user %v: err = %v, want a 407 ProxyConnectError", user, err)
		}
		if pe.Target != "chat.example:5222" {
			t.Errorf("ProxyConnectError.Target = %q", pe.Target)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error %q leaks the proxy password", err)
		}
	}
	if got := p.log(); len(got) != 2 || got[0] != "CONNECT chat.example:5222 auth=false" {
		t.Fatalf("proxy saw %q, want two unauthenticated CONNECTs", got)
	}
	if len(target.lines()) != 0 {
		t.Fatal("bytes reached the target without authentication")
	}
}

func TestProxyHTTPSConnect(t *testing.T) {
	target := dialTestStartTarget(t)
	p := proxyTestStartHTTP(t, true, "", "", proxyTestResolver(target))
	roots := x509.NewCertPool()
	roots.AddCert(p.srv.Certificate())
	d := &conn.Dialer{
		Hosts:    []string{"chat.example"},
		Ports:    []int{5222},
		Timeout:  5 * time.Second,
		Proxy:    proxyTestFixed(p.url(nil)),
		ProxyTLS: &tls.Config{RootCAs: roots},
	}
	c, _, err := d.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dialTestRoundTrip(t, c, "tls to the proxy")

	// Without trusting the proxy's certificate the dial must fail.
	d.ProxyTLS = nil
	if _, _, err := d.DialContext(t.Context()); err == nil {
		t.Fatal("dialled through an untrusted TLS proxy")
	}
}

// TestProxyHTTPConnectKeepsEarlyBytes checks that bytes arriving in the
// same read as the proxy's 200 are handed to the caller. A net.Pipe as
// the NetDialer makes "the same read" deterministic; it also lets the
// test see the exact request bytes.
func TestProxyHTTPConnectKeepsEarlyBytes(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	nd := proxyTestPipeDialer{client}
	reqc := make(chan string, 1)
	go func() {
		br := bufio.NewReader(server)
		var req strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				reqc <- "error: " + err.Error()
				return
			}
			req.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		reqc <- req.String()
		server.Write([]byte("HTTP/1.1 200 OK\r\nVia: test\r\n\r\nfirst bytes from the target"))
	}()
	d := &conn.Dialer{
		Hosts:     []string{"g.example"},
		Ports:     []int{443},
		Timeout:   5 * time.Second,
		NetDialer: nd,
		Proxy:     proxyTestFixed(&url.URL{Scheme: "http", Host: "proxy.example:3128", User: url.UserPassword("u", "p")}),
	}
	c, _, err := d.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := "CONNECT g.example:443 HTTP/1.1\r\nHost: g.example:443\r\nProxy-Authorization: Basic dTpw\r\n\r\n"
	if got := <-reqc; got != want {
		t.Fatalf("request = %q, want %q", got, want)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(c, buf, len("first bytes from the target"))
	if err != nil || string(buf[:n]) != "first bytes from the target" {
		t.Fatalf("read %q, %v; want the target's early bytes", buf[:n], err)
	}
}

type proxyTestPipeDialer struct{ c net.Conn }

func (p proxyTestPipeDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if addr != "proxy.example:3128" {
		return nil, errors.New("dialled " + addr + ", want the proxy")
	}
	return p.c, nil
}

func TestProxyHTTPConnectResponseBounded(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		br := bufio.NewReader(server)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		server.Write([]byte("HTTP/1.1 200 OK\r\n"))
		junk := []byte("X-Junk: " + strings.Repeat("a", 1000) + "\r\n")
		for range 100 {
			if _, err := server.Write(junk); err != nil {
				return
			}
		}
	}()
	d := &conn.Dialer{
		Hosts:     []string{"g.example"},
		Ports:     []int{443},
		Timeout:   5 * time.Second,
		NetDialer: proxyTestPipeDialer{client},
		Proxy:     proxyTestFixed(&url.URL{Scheme: "http", Host: "proxy.example:3128"}),
	}
	_, _, err := d.DialContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v, want the response-size bound", err)
	}
}

// proxyTestSilent accepts connections and never answers, like a proxy
// that has hung.
func proxyTestSilent(t *testing.T) *url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var tr proxyTestTracker
	tr.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if !tr.add(c) {
				return
			}
			tr.wg.Go(func() { io.Copy(io.Discard, c) })
		}
	})
	t.Cleanup(func() {
		l.Close()
		tr.closeAll()
	})
	return &url.URL{Scheme: "http", Host: l.Addr().String()}
}

func TestProxyHTTPConnectHonoursTimeout(t *testing.T) {
	d := &conn.Dialer{
		Hosts:   []string{"chat.example"},
		Ports:   []int{5222},
		Timeout: 100 * time.Millisecond,
		Proxy:   proxyTestFixed(proxyTestSilent(t)),
	}
	start := time.Now()
	_, _, err := d.DialContext(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline exceeded", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v with a 100ms timeout", el)
	}

	// Cancelling ctx aborts a CONNECT in progress, not only the connect.
	d.Timeout = time.Minute
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, _, err = d.DialContext(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("cancel took %v to take effect", el)
	}
}

func TestProxySOCKS5(t *testing.T) {
	target := dialTestStartTarget(t)
	for _, tc := range []struct {
		name       string
		user, pass string
		creds      *url.Userinfo
		wantErr    bool
	}{
		{"no auth", "", "", nil, false},
		{"username/password", "waent", "secret", url.UserPassword("waent", "secret"), false},
		{"wrong password", "waent", "secret", url.UserPassword("waent", "nope"), true},
		{"missing credentials", "waent", "secret", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := proxyTestStartSOCKS(t, tc.user, tc.pass, proxyTestResolver(target))
			d := &conn.Dialer{
				Hosts:   []string{"chat.example"},
				Ports:   []int{5222},
				Timeout: 5 * time.Second,
				Proxy:   proxyTestFixed(p.url(tc.creds)),
			}
			c, addr, err := d.DialContext(t.Context())
			if tc.wantErr {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				if tc.creds != nil && strings.Contains(err.Error(), "nope") {
					t.Errorf("error %q leaks the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if addr != "chat.example:5222" {
				t.Fatalf("reached %q", addr)
			}
			dialTestRoundTrip(t, c, "socks "+tc.name)
			p.mu.Lock()
			defer p.mu.Unlock()
			// socks5h: the name, not an address, goes to the proxy.
			if len(p.targets) != 1 || p.targets[0] != "chat.example:5222" {
				t.Fatalf("proxy was asked for %q", p.targets)
			}
			if tc.user != "" && (len(p.authed) != 1 || !p.authed[0]) {
				t.Fatalf("authentication results %v", p.authed)
			}
		})
	}
}

func TestProxySOCKS5HonoursTimeout(t *testing.T) {
	silent := proxyTestSilent(t)
	silent.Scheme = "socks5"
	d := &conn.Dialer{
		Hosts:   []string{"chat.example"},
		Ports:   []int{5222},
		Timeout: 100 * time.Millisecond,
		Proxy:   proxyTestFixed(silent),
	}
	start := time.Now()
	_, _, err := d.DialContext(t.Context())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline exceeded", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("took %v with a 100ms timeout", el)
	}
}

func TestProxyUnsupportedScheme(t *testing.T) {
	rec := &dialTestRecorder{}
	d := &conn.Dialer{
		Hosts:     []string{"chat.example"},
		Ports:     []int{5222},
		NetDialer: rec,
		Proxy:     proxyTestFixed(&url.URL{Scheme: "socks4", Host: "127.0.0.1:1080"}),
	}
	_, _, err := d.DialContext(t.Context())
	if err == nil || !strings.Contains(err.Error(), "socks4") {
		t.Fatalf("err = %v, want the unsupported scheme named", err)
	}
	if len(rec.addrs) != 0 {
		t.Fatalf("dialled %v", rec.addrs)
	}
}

func TestProxyFromEnv(t *testing.T) {
	const target = "g.whatsapp.net:5222"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		target  string // default target
		want    string // proxy URL, "" for direct
		wantErr string
	}{
		{name: "nothing set", env: nil, want: ""},
		{name: "https_proxy", env: map[string]string{"https_proxy": "http://a:1"}, want: "http://a:1"},
		{name: "HTTPS_PROXY", env: map[string]string{"HTTPS_PROXY": "http://a:1"}, want: "http://a:1"},
		{name: "lower case beats upper case", env: map[string]string{"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"}, want: "http://lower:1"},
		{name: "https_proxy beats http_proxy", env: map[string]string{"http_proxy": "http://b:2", "https_proxy": "http://a:1"}, want: "http://a:1"},
		{name: "HTTPS_PROXY beats http_proxy", env: map[string]string{"http_proxy": "http://b:2", "HTTPS_PROXY": "http://a:1"}, want: "http://a:1"},
		{name: "http_proxy alone", env: map[string]string{"http_proxy": "http://b:2"}, want: "http://b:2"},
		{name: "HTTP_PROXY alone", env: map[string]string{"HTTP_PROXY": "http://b:2"}, want: "http://b:2"},
		{name: "bare host:port is http", env: map[string]string{"https_proxy": "proxy.corp:3128"}, want: "http://proxy.corp:3128"},
		{name: "bare IP:port is http", env: map[string]string{"https_proxy": "10.0.0.1:3128"}, want: "http://10.0.0.1:3128"},
		{name: "credentials kept", env: map[string]string{"https_proxy": "http://u:p%40ss@proxy.corp:3128"}, want: "http://u:p%40ss@proxy.corp:3128"},
		{name: "https scheme proxy", env: map[string]string{"https_proxy": "https://proxy.corp"}, want: "https://proxy.corp"},
		{name: "socks5h in https_proxy", env: map[string]string{"https_proxy": "socks5h://s:1080"}, want: "socks5h://s:1080"},
		{name: "socks5 in http_proxy", env: map[string]string{"http_proxy": "socks5://s:1080"}, want: "socks5://s:1080"},
		{name: "ALL_PROXY when others unset", env: map[string]string{"ALL_PROXY": "socks5://s:1080"}, want: "socks5://s:1080"},
		{name: "all_proxy when others unset", env: map[string]string{"all_proxy": "socks5h://s:1080"}, want: "socks5h://s:1080"},
		{name: "ALL_PROXY beats all_proxy", env: map[string]string{"ALL_PROXY": "socks5://upper:1", "all_proxy": "socks5://lower:1"}, want: "socks5://upper:1"},
		{name: "http_proxy beats ALL_PROXY", env: map[string]string{"http_proxy": "http://b:2", "ALL_PROXY": "socks5://s:1080"}, want: "http://b:2"},
		{name: "NO_PROXY exact host", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "g.whatsapp.net"}, want: ""},
		{name: "no_proxy exact host", env: map[string]string{"https_proxy": "http://a:1", "no_proxy": "other.example, g.whatsapp.net"}, want: ""},
		{name: "no_proxy beats NO_PROXY", env: map[string]string{"https_proxy": "http://a:1", "no_proxy": "other.example", "NO_PROXY": "g.whatsapp.net"}, want: "http://a:1"},
		{name: "NO_PROXY domain suffix", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "whatsapp.net"}, want: ""},
		{name: "NO_PROXY dotted suffix matches subdomain", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": ".whatsapp.net"}, want: ""},
		{name: "NO_PROXY dotted suffix skips the apex", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": ".whatsapp.net"}, target: "whatsapp.net:5222", want: "http://a:1"},
		{name: "NO_PROXY suffix is not a substring", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "app.net"}, want: "http://a:1"},
		{name: "NO_PROXY host:port matches", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "g.whatsapp.net:5222"}, want: ""},
		{name: "NO_PROXY host:port other port", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "g.whatsapp.net:443"}, want: "http://a:1"},
		{name: "NO_PROXY star", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "*"}, want: ""},
		{name: "NO_PROXY CIDR", env: map[string]string{"https_proxy": "http://a:1", "NO_PROXY": "10.0.0.0/8"}, target: "10.1.2.3:5222", want: ""},
		{name: "NO_PROXY applies to ALL_PROXY", env: map[string]string{"ALL_PROXY": "socks5://s:1080", "NO_PROXY": "whatsapp.net"}, want: ""},
		{name: "loopback is never proxied", env: map[string]string{"https_proxy": "http://a:1"}, target: "127.0.0.1:5222", want: ""},
		{name: "unsupported scheme", env: map[string]string{"https_proxy": "socks4://s:1080"}, wantErr: "https_proxy"},
		{name: "garbage", env: map[string]string{"HTTP_PROXY": "http://[bad"}, wantErr: "HTTP_PROXY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			getenv := func(k string) string { calls++; return tc.env[k] }
			tg := tc.target
			if tg == "" {
				tg = target
			}
			f := conn.ProxyFromEnv(getenv)
			u, err := f(tg)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if u != nil {
				got = u.String()
			}
			if got != tc.want {
				t.Fatalf("proxy for %s = %q, want %q", tg, got, tc.want)
			}
			// The environment is read per call, not captured once.
			before := calls
			f(tg)
			if calls == before {
				t.Fatal("second call did not read the environment")
			}
		})
	}
}

func TestProxyFromEnvironmentDialsThroughProxy(t *testing.T) {
	for _, k := range []string{"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY"} {
		t.Setenv(k, "")
	}
	target := dialTestStartTarget(t)
	p := proxyTestStartHTTP(t, false, "", "", proxyTestResolver(target))
	t.Setenv("https_proxy", p.srv.URL)
	d := &conn.Dialer{Hosts: []string{"chat.example"}, Ports: []int{5222}, Timeout: 5 * time.Second} // Proxy nil: the environment
	c, _, err := d.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dialTestRoundTrip(t, c, "via the environment")
	c.Close()
	if got := p.log(); len(got) != 1 {
		t.Fatalf("proxy saw %q, want the dial to use https_proxy", got)
	}

	// NO_PROXY set afterwards takes effect on the next dial.
	t.Setenv("NO_PROXY", "chat.example")
	u, err := conn.ProxyFromEnvironment("chat.example:5222")
	if err != nil || u != nil {
		t.Fatalf("after NO_PROXY: %v, %v; want direct", u, err)
	}
}
