package noise

import (
	"context"
	"net"
	"testing"
	"time"
)

// pki is a root, an intermediate and a server static key with a chain
// binding them, valid for a day around now.
type pki struct {
	root, inter, server KeyPair
	chain               []byte
}

func newPKI(t testing.TB) pki {
	t.Helper()
	var p pki
	for _, k := range []*KeyPair{&p.root, &p.inter, &p.server} {
		var err error
		if *k, err = GenerateKeyPair(); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	var err error
	if p.chain, err = NewCertChain(p.root, p.inter, p.server.Public, now.Add(-time.Hour), now.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p pki) serverConfig() ServerConfig {
	return ServerConfig{Static: p.server, CertChain: p.chain}
}

func (p pki) clientConfig(t testing.TB) ClientConfig {
	t.Helper()
	static, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return ClientConfig{Static: static, Payload: []byte("client payload"), RootKey: p.root.Public}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		client.Close()
		t.Fatal(a.err)
	}
	t.Cleanup(func() { client.Close(); a.c.Close() })
	return client, a.c
}

type serverOutcome struct {
	sock *Socket
	res  ServerResult
	err  error
}

// handshake runs both sides over loopback TCP with the given options and
// waits for both.
func handshake(t testing.TB, ccfg ClientConfig, scfg ServerConfig) (*Socket, error, serverOutcome) {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan serverOutcome, 1)
	go func() {
		s, res, err := Server(ctx, sc, scfg)
		done <- serverOutcome{s, res, err}
	}()
	cs, cerr := Client(ctx, cc, ccfg)
	so := <-done
	if cs != nil {
		t.Cleanup(func() { cs.Close() })
	}
	if so.sock != nil {
		t.Cleanup(func() { so.sock.Close() })
	}
	return cs, cerr, so
}

// mustHandshake is handshake that fails the test unless both sides
// succeed.
func mustHandshake(t testing.TB, ccfg ClientConfig, scfg ServerConfig) (client, server *Socket, res ServerResult) {
	t.Helper()
	cs, cerr, so := handshake(t, ccfg, scfg)
	if cerr != nil || so.err != nil {
		t.Fatalf("handshake: client %v, server %v", cerr, so.err)
	}
	return cs, so.sock, so.res
}
