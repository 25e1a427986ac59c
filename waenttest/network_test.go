package waenttest_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/waenttest"
)

// client is a conn.Conn logged in to a test network, with its events and
// stanzas recorded.
type client struct {
	*conn.Conn
	phone  string
	events chan conn.Event

	mu       sync.Mutex
	stanzas  []wabin.Node
	received chan wabin.Node
}

func newClient(t *testing.T, n *waenttest.Network, phone string, register bool, tweak func(*conn.Config)) *client {
	t.Helper()
	key, err := noise.GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if register {
		n.RegisterAccount(phone, key.Public)
	}
	c := &client{phone: phone, events: make(chan conn.Event, 64), received: make(chan wabin.Node, 256)}
	cfg := n.ClientConfig(phone, key)
	cfg.OnEvent = func(e conn.Event) {
		select {
		case c.events <- e:
		default:
		}
	}
	if tweak != nil {
		tweak(&cfg)
	}
	c.Conn, err = conn.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	record := func(ctx context.Context, node wabin.Node) {
		c.received <- node
	}
	for _, tag := range []string{"message", "receipt", "notification", "ib"} {
		c.Handle(tag, record)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitEvent returns the first event of type E within d.
func waitEvent[E conn.Event](t *testing.T, c *client, d time.Duration) E {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-c.events:
			if want, ok := e.(E); ok {
				return want
			}
		case <-deadline:
			var zero E
			t.Fatalf("%s: no %T event within %v (state %s)", c.phone, zero, d, c.State())
			return zero
		}
	}
}

func waitStanza(t *testing.T, c *client, tag string, d time.Duration) wabin.Node {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case n := <-c.received:
			if n.Tag == tag {
				return n
			}
		case <-deadline:
			t.Fatalf("%s: no <%s> within %v", c.phone, tag, d)
			return wabin.Node{}
		}
	}
}

func TestLogin(t *testing.T) {
	n := waenttest.New(t)
	c := newClient(t, n, "16315550001", true, nil)
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	if got := c.State(); got != conn.StateConnected {
		t.Fatalf("state %s, want connected", got)
	}
	if !n.Online("16315550001") {
		t.Fatal("server does not see the account online")
	}
	// The server answers our pings.
	if _, err := c.SendIQ(context.Background(), wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:p", "type": "get", "to": wabin.ServerJID}}); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// And pushes the offline count after login.
	ib := waitStanza(t, c, "ib", 2*time.Second)
	if off, ok := ib.Child("offline"); !ok || off.AttrString("count") != "0" {
		t.Fatalf("after login got %s, want <ib><offline count=0>", ib)
	}
}

func TestLoginWithWrongKeyFails(t *testing.T) {
	n := waenttest.New(t)
	other, _ := noise.GenerateKeyPair()
	n.RegisterAccount("16315550002", other.Public)
	c := newClient(t, n, "16315550002", false, nil)
	c.Start()
	out := waitEvent[conn.LoggedOut](t, c, 5*time.Second)
	var le *conn.LoginError
	if !errors.As(out.Err, &le) || le.Reason != 401 {
		t.Fatalf("logged out with %v, want a 401 LoginError", out.Err)
	}
	if got := c.State(); got != conn.StateUnregistered {
		t.Fatalf("state %s, want unregistered", got)
	}
}

func TestPortFallback(t *testing.T) {
	n := waenttest.New(t)
	_, primary, fallback := n.ChatAddr()
	if err := n.RefusePort(primary); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, n, "16315550003", true, nil)
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	if got := c.RemoteAddr().(*net.TCPAddr).Port; got != fallback {
		t.Fatalf("connected to port %d, want the fallback %d", got, fallback)
	}
}

func TestKeepAliveFailureReconnects(t *testing.T) {
	n := waenttest.New(t)
	c := newClient(t, n, "16315550004", true, func(cfg *conn.Config) {
		cfg.KeepAliveMin, cfg.KeepAliveMax, cfg.KeepAliveTimeout = 50*time.Millisecond, 80*time.Millisecond, 100*time.Millisecond
	})
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	n.SetFrameDelay(time.Second) // pings go unanswered past the deadline
	waitEvent[conn.Disconnected](t, c, 5*time.Second)
	n.SetFrameDelay(0)
	waitEvent[conn.Connected](t, c, 5*time.Second)
	if got := n.Logins("16315550004"); got < 2 {
		t.Fatalf("%d logins, want a reconnect", got)
	}
}

func TestServerRestartReconnectsWithinBackoff(t *testing.T) {
	n := waenttest.New(t)
	c := newClient(t, n, "16315550005", true, nil) // ReconnectMax 500ms
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	start := time.Now()
	if err := n.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitEvent[conn.Disconnected](t, c, 5*time.Second)
	waitEvent[conn.Connected](t, c, 5*time.Second)
	// The bound is the backoff cap plus the login round trip; the margin
	// absorbs a loaded CI machine, not a missing cap.
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("back after %v, want within the 500ms backoff cap (+ margin)", took)
	}
}

func TestReplacedLogin(t *testing.T) {
	n := waenttest.New(t)
	key, _ := noise.GenerateKeyPair()
	n.RegisterAccount("16315550006", key.Public)
	first := newClient(t, n, "16315550006", false, func(cfg *conn.Config) { cfg.NoiseKey = key })
	first.Start()
	waitEvent[conn.Connected](t, first, 5*time.Second)
	second := newClient(t, n, "16315550006", false, func(cfg *conn.Config) { cfg.NoiseKey = key })
	second.Start()
	waitEvent[conn.Connected](t, second, 5*time.Second)
	waitEvent[conn.StreamReplaced](t, first, 5*time.Second)
	time.Sleep(200 * time.Millisecond) // longer than the first's backoff: it must not come back
	if got := n.Logins("16315550006"); got != 2 {
		t.Fatalf("%d logins, want exactly 2 (the replaced side must not reconnect)", got)
	}
	if first.State() == conn.StateConnected || second.State() != conn.StateConnected {
		t.Fatalf("states first=%s second=%s", first.State(), second.State())
	}
}

func TestStoreAndForward(t *testing.T) {
	n := waenttest.New(t)
	alice := newClient(t, n, "16315550007", true, nil)
	alice.Start()
	waitEvent[conn.Connected](t, alice, 5*time.Second)
	bob := newClient(t, n, "16315550008", true, nil) // registered, not connected yet

	msg := wabin.Node{Tag: "message", Attrs: wabin.Attrs{"id": "3EB0000000000000000001", "to": wabin.NewJID("16315550008", wabin.DefaultUserServer), "type": "text"},
		Content: []wabin.Node{{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": "pkmsg"}, Content: []byte{1, 2, 3}}}}
	ack, err := alice.SendAwaitAck(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if ack.AttrString("class") != "message" || ack.AttrString("t") == "" || ack.AttrString("error") != "" {
		t.Fatalf("server ack %s", ack)
	}

	bob.Start()
	got := waitStanza(t, bob, "message", 5*time.Second)
	if from, _ := got.AttrJID("from"); from.User != "16315550007" || got.AttrString("id") != "3EB0000000000000000001" {
		t.Fatalf("bob got %s", got)
	}
	if enc, ok := got.Child("enc"); !ok || string(enc.Bytes()) != "\x01\x02\x03" {
		t.Fatalf("bob got %s, want the enc payload", got)
	}
	ib := waitStanza(t, bob, "ib", 2*time.Second)
	if off, _ := ib.Child("offline"); off.AttrString("count") != "1" {
		t.Fatalf("offline notice %s, want count 1", ib)
	}

	// Until bob acks, the message comes again on every login.
	n.DropConnection("16315550008")
	waitEvent[conn.Connected](t, bob, 5*time.Second)
	if again := waitStanza(t, bob, "message", 5*time.Second); again.AttrString("id") != "3EB0000000000000000001" {
		t.Fatalf("redelivery %s", again)
	}
	if ib := waitStanza(t, bob, "ib", 5*time.Second); ib.Children()[0].AttrString("count") != "1" {
		t.Fatalf("offline notice on redelivery %s, want count 1", ib)
	}
	// A delivery receipt acknowledges it and reaches alice.
	if err := bob.Send(context.Background(), wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": "3EB0000000000000000001", "to": wabin.NewJID("16315550007", wabin.DefaultUserServer)}}); err != nil {
		t.Fatal(err)
	}
	rcpt := waitStanza(t, alice, "receipt", 5*time.Second)
	if rcpt.AttrString("id") != "3EB0000000000000000001" {
		t.Fatalf("alice got receipt %s", rcpt)
	}
	n.DropConnection("16315550008")
	waitEvent[conn.Connected](t, bob, 5*time.Second)
	ib = waitStanza(t, bob, "ib", 5*time.Second)
	if off, _ := ib.Child("offline"); off.AttrString("count") != "0" {
		t.Fatalf("after the receipt, offline notice %s, want count 0", ib)
	}
}

func TestMessageToUnknownNumberIsRefused(t *testing.T) {
	n := waenttest.New(t)
	alice := newClient(t, n, "16315550009", true, nil)
	alice.Start()
	waitEvent[conn.Connected](t, alice, 5*time.Second)
	ack, err := alice.SendAwaitAck(context.Background(), wabin.Node{Tag: "message", Attrs: wabin.Attrs{"id": "X1", "to": wabin.NewJID("19999999999", wabin.DefaultUserServer), "type": "text"}})
	if err != nil {
		t.Fatal(err)
	}
	if ack.AttrString("error") != "404" {
		t.Fatalf("ack %s, want error 404", ack)
	}
}

func TestLoginThroughProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(user, pass string) (*waenttest.Proxy, error)
	}{
		{"http-connect", waenttest.NewHTTPProxy},
		{"socks5", waenttest.NewSOCKS5Proxy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := waenttest.New(t)
			p, err := tc.start("proxyuser", "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			c := newClient(t, n, "16315550020", true, func(cfg *conn.Config) {
				cfg.Dialer.Proxy = func(string) (*url.URL, error) { return p.URL(), nil }
			})
			c.Start()
			waitEvent[conn.Connected](t, c, 5*time.Second)
			if p.Tunnels() != 1 {
				t.Fatalf("proxy opened %d tunnels, want the chat connection through it", p.Tunnels())
			}
			if _, err := c.SendIQ(context.Background(), wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:p", "type": "get", "to": wabin.ServerJID}}); err != nil {
				t.Fatalf("ping through the proxy: %v", err)
			}
		})
	}
}

func TestProxyRejectsBadCredentials(t *testing.T) {
	n := waenttest.New(t)
	p, err := waenttest.NewHTTPProxy("proxyuser", "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	bad := p.URL()
	bad.User = url.UserPassword("proxyuser", "wrong")
	c := newClient(t, n, "16315550021", true, func(cfg *conn.Config) {
		cfg.Dialer.Proxy = func(string) (*url.URL, error) { return bad, nil }
	})
	c.Start()
	d := waitEvent[conn.Disconnected](t, c, 5*time.Second)
	if d.Err == nil || !strings.Contains(d.Err.Error(), "407") {
		t.Fatalf("disconnected with %v, want the proxy's 407", d.Err)
	}
	if p.Tunnels() != 0 || n.Online("16315550021") {
		t.Fatal("a tunnel was opened with wrong credentials")
	}
}

// A 515 stream error means "reconnect now": no backoff, even when the
// backoff is long.
func TestStreamError515ReconnectsAtOnce(t *testing.T) {
	n := waenttest.New(t)
	c := newClient(t, n, "16315550030", true, func(cfg *conn.Config) {
		cfg.ReconnectMin, cfg.ReconnectMax = time.Minute, time.Minute
	})
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	if !n.SendStreamError("16315550030", "515") {
		t.Fatal("account not online")
	}
	waitEvent[conn.Disconnected](t, c, 5*time.Second)
	waitEvent[conn.Connected](t, c, 5*time.Second) // a backoff would take up to a minute
	if got := n.Logins("16315550030"); got != 2 {
		t.Fatalf("%d logins, want 2", got)
	}
}

// Any other stream error is a lost connection: reconnect with backoff.
func TestStreamError503ReconnectsWithBackoff(t *testing.T) {
	n := waenttest.New(t)
	c := newClient(t, n, "16315550031", true, nil)
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	n.SendStreamError("16315550031", "503")
	d := waitEvent[conn.Disconnected](t, c, 5*time.Second)
	if d.Err == nil || !strings.Contains(d.Err.Error(), "503") {
		t.Fatalf("disconnected with %v, want the 503 stream error", d.Err)
	}
	waitEvent[conn.Connected](t, c, 5*time.Second)
}

func TestIQErrorsAndTimeouts(t *testing.T) {
	n := waenttest.New(t)
	c := newClient(t, n, "16315550032", true, func(cfg *conn.Config) { cfg.IQTimeout = 200 * time.Millisecond })
	ctx := context.Background()
	if _, err := c.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:p", "type": "get"}}); !errors.Is(err, conn.ErrNotConnected) {
		t.Fatalf("before Start: %v, want ErrNotConnected", err)
	}
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)

	_, err := c.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "no:such:service", "type": "get", "to": wabin.ServerJID}})
	var iqErr *conn.IQError
	if !errors.As(err, &iqErr) || iqErr.Code != 501 {
		t.Fatalf("unknown service: %v, want IQError 501", err)
	}

	n.SetFrameDelay(time.Second)
	_, err = c.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:p", "type": "get", "to": wabin.ServerJID}})
	if !errors.Is(err, conn.ErrTimeout) {
		t.Fatalf("delayed reply: %v, want ErrTimeout", err)
	}
	n.SetFrameDelay(0)
}
