package conn_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/conn"
)

// dialTestTarget is a loopback TCP server standing in for a chat server:
// it answers each line it reads with "echo:" and the line, so a test can
// see its bytes arrive and come back through whatever path it dialled.
type dialTestTarget struct {
	l    net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	seen []string // lines received, in order
}

func dialTestStartTarget(t *testing.T) *dialTestTarget {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &dialTestTarget{l: l}
	var conns sync.Map
	s.wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			s.wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					s.mu.Lock()
					s.seen = append(s.seen, strings.TrimSuffix(line, "\n"))
					s.mu.Unlock()
					if _, err := io.WriteString(c, "echo:"+line); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		s.wg.Wait()
	})
	return s
}

func (s *dialTestTarget) port() int { return s.l.Addr().(*net.TCPAddr).Port }

func (s *dialTestTarget) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// dialTestClosedPort returns a loopback port nothing listens on (it was
// just released), so connecting to it is refused.
func dialTestClosedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// dialTestRoundTrip writes a line on c and expects the target's echo.
func dialTestRoundTrip(t *testing.T, c net.Conn, line string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if want := "echo:" + line + "\n"; got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func dialTestNoProxy(string) (*url.URL, error) { return nil, nil }

func TestDialFallsBackToNextPort(t *testing.T) {
	target := dialTestStartTarget(t)
	closed := dialTestClosedPort(t)
	d := &conn.Dialer{
		Hosts:   []string{"127.0.0.1"},
		Ports:   []int{closed, target.port()},
		Timeout: 5 * time.Second,
		Proxy:   dialTestNoProxy,
	}
	c, addr, err := d.DialContext(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if want := "127.0.0.1:" + strconv.Itoa(target.port()); addr != want {
		t.Fatalf("reached %s, want the fallback %s", addr, want)
	}
	dialTestRoundTrip(t, c, "hello")
}

func TestDialAllRefusedNamesEveryAttempt(t *testing.T) {
	p1, p2 := dialTestClosedPort(t), dialTestClosedPort(t)
	d := &conn.Dialer{
		Hosts:   []string{"127.0.0.1", "[::1]"},
		Ports:   []int{p1, p2},
		Timeout: 5 * time.Second,
		Proxy:   dialTestNoProxy,
	}
	_, _, err := d.DialContext(t.Context())
	var de *conn.DialError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v, want a *DialError", err)
	}
	want := []string{
		"127.0.0.1:" + strconv.Itoa(p1), "127.0.0.1:" + strconv.Itoa(p2),
		"[::1]:" + strconv.Itoa(p1), "[::1]:" + strconv.Itoa(p2),
	}
	if len(de.Attempts) != len(want) {
		t.Fatalf("%d attempts, want %d: %v", len(de.Attempts), len(want), err)
	}
	for i, a := range de.Attempts {
		if a.Addr != want[i] || a.Err == nil {
			t.Errorf("attempt %d = %s (%v), want %s with an error", i, a.Addr, a.Err, want[i])
		}
		if !strings.Contains(err.Error(), want[i]) {
			t.Errorf("error %q does not name %s", err, want[i])
		}
	}
}

// dialTestRecorder is a NetDialer that records what it was asked to dial
// and fails, or blocks until the context ends when block is set: the
// injection point stands in for a black-holed network, which loopback
// cannot produce reliably.
type dialTestRecorder struct {
	block bool
	mu    sync.Mutex
	addrs []string
	waits []time.Duration // the deadline each attempt was given
}

func (r *dialTestRecorder) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.addrs = append(r.addrs, addr)
	if dl, ok := ctx.Deadline(); ok {
		r.waits = append(r.waits, time.Until(dl))
	}
	r.mu.Unlock()
	if network != "tcp" {
		return nil, errors.New("unexpected network " + network)
	}
	if !r.block {
		return nil, errors.New("refused")
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestDialOrderHostThenPorts(t *testing.T) {
	rec := &dialTestRecorder{}
	d := &conn.Dialer{Hosts: []string{"a.example", "b.example"}, NetDialer: rec, Proxy: dialTestNoProxy}
	if _, _, err := d.DialContext(t.Context()); err == nil {
		t.Fatal("dial succeeded")
	}
	want := []string{"a.example:5222", "a.example:443", "b.example:5222", "b.example:443"}
	if strings.Join(rec.addrs, " ") != strings.Join(want, " ") {
		t.Fatalf("dialled %v, want %v (default ports, host by host)", rec.addrs, want)
	}
	for _, w := range rec.waits {
		if w > conn.DialDefaultTimeout || w < conn.DialDefaultTimeout-time.Second {
			t.Errorf("attempt deadline %v away, want the default %v", w, conn.DialDefaultTimeout)
		}
	}
}

func TestDialTimeoutPerAttempt(t *testing.T) {
	rec := &dialTestRecorder{block: true}
	d := &conn.Dialer{Hosts: []string{"blackhole.example"}, Ports: []int{5222, 443}, Timeout: 50 * time.Millisecond, NetDialer: rec, Proxy: dialTestNoProxy}
	start := time.Now()
	_, _, err := d.DialContext(t.Context())
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline exceeded", err)
	}
	if len(rec.addrs) != 2 {
		t.Fatalf("made %d attempts, want 2: each attempt times out alone", len(rec.addrs))
	}
	if elapsed < 100*time.Millisecond || elapsed > 3*time.Second {
		t.Fatalf("took %v, want about 2 × 50ms", elapsed)
	}
}

func TestDialStopsWhenContextEnds(t *testing.T) {
	rec := &dialTestRecorder{block: true}
	d := &conn.Dialer{Hosts: []string{"h1.example", "h2.example"}, Timeout: time.Minute, NetDialer: rec, Proxy: dialTestNoProxy}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, _, err := d.DialContext(ctx)
	var de *conn.DialError
	if !errors.As(err, &de) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a *DialError with the context's deadline", err)
	}
	if len(rec.addrs) != 1 || len(de.Attempts) != 1 {
		t.Fatalf("made %d attempts, want 1: nothing after ctx ends", len(rec.addrs))
	}

	cancelled, cancel2 := context.WithCancel(t.Context())
	cancel2()
	_, _, err = d.DialContext(cancelled)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled ctx: err = %v, want context.Canceled", err)
	}
}

func TestDialProxyFuncError(t *testing.T) {
	boom := errors.New("bad proxy config")
	rec := &dialTestRecorder{}
	d := &conn.Dialer{
		Hosts:     []string{"g.example"},
		Ports:     []int{5222},
		NetDialer: rec,
		Proxy:     func(string) (*url.URL, error) { return nil, boom },
	}
	_, _, err := d.DialContext(t.Context())
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the Proxy func's error", err)
	}
	if len(rec.addrs) != 0 {
		t.Fatalf("dialled %v despite the proxy error", rec.addrs)
	}
}

func TestDialRejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    conn.Dialer
	}{
		{"no hosts", conn.Dialer{}},
		{"empty host", conn.Dialer{Hosts: []string{""}}},
		{"host with port", conn.Dialer{Hosts: []string{"g.example:5222"}}},
		{"host with CRLF", conn.Dialer{Hosts: []string{"g.example\r\nX-Evil: 1"}}},
		{"host with space", conn.Dialer{Hosts: []string{"g example"}}},
		{"port zero", conn.Dialer{Hosts: []string{"g.example"}, Ports: []int{0}}},
		{"port too big", conn.Dialer{Hosts: []string{"g.example"}, Ports: []int{65536}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &dialTestRecorder{}
			tc.d.NetDialer = rec
			tc.d.Proxy = dialTestNoProxy
			if _, _, err := tc.d.DialContext(t.Context()); err == nil {
				t.Fatal("dial succeeded")
			}
			if len(rec.addrs) != 0 {
				t.Fatalf("dialled %v with a bad config", rec.addrs)
			}
		})
	}
}
