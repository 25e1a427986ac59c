package wmcheck

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/socket"
	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/waproto"
)

type pki struct {
	root, server noise.KeyPair
	chain        []byte
}

func newPKI(t *testing.T) pki {
	t.Helper()
	root, _ := noise.GenerateKeyPair()
	inter, _ := noise.GenerateKeyPair()
	server, _ := noise.GenerateKeyPair()
	chain, err := noise.NewCertChain(root, inter, server.Public, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return pki{root, server, chain}
}

func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func writeFrame(t *testing.T, c net.Conn, prefix []byte, m *waproto.HandshakeMessage) {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b)
	out := append(bytes.Clone(prefix), byte(n>>16), byte(n>>8), byte(n))
	if _, err := c.Write(append(out, b...)); err != nil {
		t.Fatal(err)
	}
}

func readFrame(t *testing.T, c net.Conn) *waproto.HandshakeMessage {
	t.Helper()
	var h [3]byte
	if _, err := io.ReadFull(c, h[:]); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, int(h[0])<<16|int(h[1])<<8|int(h[2]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	var m waproto.HandshakeMessage
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

// whatsmeow's client steps (its handshake.go), with its NoiseHandshake,
// against our Server.
func TestWhatsmeowClientOurServer(t *testing.T) {
	p := newPKI(t)
	cli, _ := noise.GenerateKeyPair()
	eph, _ := noise.GenerateKeyPair()
	cc, sc := tcpPair(t)
	type outcome struct {
		s   *noise.Socket
		res noise.ServerResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		s, res, err := noise.Server(context.Background(), sc, noise.ServerConfig{Static: p.server, CertChain: p.chain})
		done <- outcome{s, res, err}
	}()

	nh := socket.NewNoiseHandshake()
	nh.Start(socket.NoiseStartPattern, socket.WAConnHeader)
	nh.Authenticate(eph.Public[:])
	writeFrame(t, cc, socket.WAConnHeader, &waproto.HandshakeMessage{ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: eph.Public[:]}})

	sh := readFrame(t, cc).GetServerHello()
	se := [32]byte(sh.GetEphemeral())
	nh.Authenticate(se[:])
	if err := nh.MixSharedSecretIntoKey(eph.Private, se); err != nil {
		t.Fatal(err)
	}
	static, err := nh.Decrypt(sh.GetStatic())
	if err != nil {
		t.Fatalf("whatsmeow decrypting our server static: %v", err)
	}
	if err := nh.MixSharedSecretIntoKey(eph.Private, [32]byte(static)); err != nil {
		t.Fatal(err)
	}
	chain, err := nh.Decrypt(sh.GetPayload())
	if err != nil {
		t.Fatalf("whatsmeow decrypting our certificate: %v", err)
	}
	if err := noise.VerifyCertChain(chain, p.root.Public, [32]byte(static), time.Now()); err != nil {
		t.Fatal(err)
	}
	encStatic := nh.Encrypt(cli.Public[:])
	if err := nh.MixSharedSecretIntoKey(cli.Private, se); err != nil {
		t.Fatal(err)
	}
	encPayload := nh.Encrypt([]byte("whatsmeow payload"))
	writeFrame(t, cc, nil, &waproto.HandshakeMessage{ClientFinish: &waproto.HandshakeMessage_ClientFinish{Static: encStatic, Payload: encPayload}})

	o := <-done
	if o.err != nil {
		t.Fatalf("our server: %v", o.err)
	}
	defer o.s.Close()
	if o.res.ClientStatic != cli.Public || string(o.res.Payload) != "whatsmeow payload" {
		t.Fatal("our server decrypted a different client static or payload")
	}
}

// whatsmeow's primitives playing the server's part against our Client:
// the same symmetric state, driven in the responder's order.
func TestOurClientWhatsmeowServer(t *testing.T) {
	p := newPKI(t)
	cli, _ := noise.GenerateKeyPair()
	eph, _ := noise.GenerateKeyPair()
	cc, sc := tcpPair(t)
	type outcome struct {
		s   *noise.Socket
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		s, err := noise.Client(context.Background(), cc, noise.ClientConfig{Static: cli, Payload: []byte("our payload"), RootKey: p.root.Public})
		done <- outcome{s, err}
	}()

	var hdr [4]byte
	if _, err := io.ReadFull(sc, hdr[:]); err != nil || !bytes.Equal(hdr[:], socket.WAConnHeader) {
		t.Fatalf("header % x, %v", hdr, err)
	}
	ce := [32]byte(readFrame(t, sc).GetClientHello().GetEphemeral())
	nh := socket.NewNoiseHandshake()
	nh.Start(socket.NoiseStartPattern, socket.WAConnHeader)
	nh.Authenticate(ce[:])
	nh.Authenticate(eph.Public[:])
	if err := nh.MixSharedSecretIntoKey(eph.Private, ce); err != nil {
		t.Fatal(err)
	}
	encStatic := nh.Encrypt(p.server.Public[:])
	if err := nh.MixSharedSecretIntoKey(p.server.Private, ce); err != nil {
		t.Fatal(err)
	}
	encChain := nh.Encrypt(p.chain)
	writeFrame(t, sc, nil, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: eph.Public[:], Static: encStatic, Payload: encChain}})

	o := <-done
	if o.err != nil {
		t.Fatalf("our client: %v", o.err)
	}
	defer o.s.Close()
	cf := readFrame(t, sc).GetClientFinish()
	static, err := nh.Decrypt(cf.GetStatic())
	if err != nil || !bytes.Equal(static, cli.Public[:]) {
		t.Fatalf("whatsmeow decrypting our client static: %v", err)
	}
	if err := nh.MixSharedSecretIntoKey(eph.Private, [32]byte(static)); err != nil {
		t.Fatal(err)
	}
	payload, err := nh.Decrypt(cf.GetPayload())
	if err != nil || string(payload) != "our payload" {
		t.Fatalf("whatsmeow decrypting our payload: %q, %v", payload, err)
	}
}
