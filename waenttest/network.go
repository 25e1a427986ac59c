package waenttest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/waenttest/regserver"
)

// Options tune a Network. The zero value is ready to use.
type Options struct {
	// Now is the network's clock (server timestamps, certificate
	// validity, registration). Default time.Now.
	Now func() time.Time
	// Logger receives the server's logs. Default: discard.
	Logger *slog.Logger
}

// Network is a simulated WhatsApp network on loopback: a chat server
// listening on two ports (standing in for 5222 and 443), a registration
// service and a contact directory. Close stops it all.
type Network struct {
	opts Options
	log  *slog.Logger

	root   noise.KeyPair
	static noise.KeyPair
	chain  []byte

	reg    *regserver.Server
	regWeb *httptest.Server

	chat *chatServer
	// templates is the template catalogue (templates.go).
	templates *Templates
	// media is the media CDN (media.go).
	media *mediaCDN
}

// New starts a Network for a test and closes it when the test ends.
func New(t testing.TB) *Network {
	t.Helper()
	n, err := NewNetwork(Options{})
	if err != nil {
		t.Fatalf("waenttest: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// NewNetwork starts a Network on 127.0.0.1.
func NewNetwork(opts Options) (*Network, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Network{opts: opts, log: log}
	var err error
	if n.root, err = noise.GenerateKeyPair(); err != nil {
		return nil, err
	}
	intermediate, err := noise.GenerateKeyPair()
	if err != nil {
		return nil, err
	}
	if n.static, err = noise.GenerateKeyPair(); err != nil {
		return nil, err
	}
	now := opts.Now()
	n.chain, err = noise.NewCertChain(n.root, intermediate, n.static.Public, now.Add(-time.Hour), now.Add(10*365*24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("waenttest: certificate chain: %w", err)
	}
	n.reg = regserver.New(regserver.Options{Now: opts.Now})
	n.regWeb = httptest.NewServer(http.Handler(n.reg))
	n.chat = newChatServer(n)
	n.templates = newTemplates(n.chat)
	n.media = newMediaCDN(n) // media.go
	if err := n.chat.listen(0, 0); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Close stops every server and waits for their goroutines.
func (n *Network) Close() error {
	if n.chat != nil {
		n.chat.shutdown()
	}
	if n.regWeb != nil {
		n.regWeb.Close()
	}
	if n.media != nil {
		n.media.close() // media.go
	}
	return nil
}

// RootKey is the public key clients must trust for the chat server's
// certificate chain.
func (n *Network) RootKey() [32]byte { return n.root.Public }

// ChatAddr is "127.0.0.1" and the two chat ports, primary first.
func (n *Network) ChatAddr() (host string, primary, fallback int) {
	p := n.chat.ports()
	return "127.0.0.1", p[0], p[1]
}

// Dialer returns a conn.Dialer aimed at this network, without proxies.
func (n *Network) Dialer() conn.Dialer {
	host, p1, p2 := n.ChatAddr()
	return conn.Dialer{
		Hosts:   []string{host},
		Ports:   []int{p1, p2},
		Timeout: 5 * time.Second,
		Proxy:   func(string) (*url.URL, error) { return nil, nil },
	}
}

// RegistrationURL is the base URL of the registration service.
func (n *Network) RegistrationURL() string { return n.regWeb.URL }

// Registration is the registration service, whose issued codes tests can
// read.
func (n *Network) Registration() *regserver.Server { return n.reg }

// RegisterAccount registers phone (digits, with country code) with the
// given noise static public key, as if it had completed registration.
func (n *Network) RegisterAccount(phone string, noisePub [32]byte) {
	n.reg.Register(phone, noisePub)
}

// ClientConfig returns a conn.Config that logs in to this network as
// phone with key, with test-friendly timings.
func (n *Network) ClientConfig(phone string, key noise.KeyPair) conn.Config {
	return conn.Config{
		Dialer:       n.Dialer(),
		NoiseKey:     key,
		RootKey:      n.RootKey(),
		Username:     phone,
		ReconnectMin: 20 * time.Millisecond,
		ReconnectMax: 500 * time.Millisecond,
		Logger:       n.log,
	}
}

// AddContact puts numbers in the directory as WhatsApp users without a
// simulated device, so contact lookups find them.
func (n *Network) AddContact(phones ...string) {
	n.chat.addContacts(phones)
}

// Online reports whether phone has a logged-in connection.
func (n *Network) Online(phone string) bool { return n.chat.online(phone) }

// PreKeyCount is how many one-time prekeys the server holds for phone:
// what a prekey upload added and bundle fetches have not yet consumed.
func (n *Network) PreKeyCount(phone string) int { return n.chat.accountPreKeys(phone) }

// Logins counts the successful logins of phone since the network started.
func (n *Network) Logins(phone string) int { return n.chat.logins(phone) }

// DropConnection cuts phone's connection without a stream error, like a
// network failure. It reports whether there was one.
func (n *Network) DropConnection(phone string) bool { return n.chat.drop(phone) }

// RefusePort stops listening on one of the chat ports, so connections to
// it are refused; AcceptPort listens on it again.
func (n *Network) RefusePort(port int) error { return n.chat.refuse(port) }

// AcceptPort reopens a port closed by RefusePort.
func (n *Network) AcceptPort(port int) error { return n.chat.accept(port) }

// SetFrameDelay delays every frame the server sends by d (0 to stop), to
// simulate a slow or stalled path; keepalives then time out.
func (n *Network) SetFrameDelay(d time.Duration) { n.chat.setDelay(d) }

// Restart stops the chat server, dropping every connection, and starts it
// again on the same ports with all its state (accounts, queued stanzas,
// prekeys) kept.
func (n *Network) Restart(ctx context.Context) error {
	ports := n.chat.ports()
	n.chat.stopListening()
	var err error
	for ctx.Err() == nil {
		if err = n.chat.listen(ports[0], ports[1]); err == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond) // the old sockets may linger a moment
	}
	return errors.Join(err, ctx.Err())
}

// SendStreamError sends phone a <stream:error code=...> and closes its
// connection, as the server does to make a client restart (515) or go
// away. It reports whether phone was online.
func (n *Network) SendStreamError(phone, code string) bool { return n.chat.streamError(phone, code) }
