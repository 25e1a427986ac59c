package noise

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	flynn "github.com/flynn/noise"
	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/waproto"
)

// These tests check our handshake against github.com/flynn/noise, an
// independent implementation of standard Noise. WhatsApp's variant differs
// from the standard in one step only (the client does not MixHash the
// empty first payload), so with that step switched back on everything
// else must interoperate byte for byte: hashes, key derivation, nonces,
// associated data, Split order and the transport. With the step switched
// off (as on the wire), flynn must fail, which shows the quirk is really
// there.

var flynnSuite = flynn.NewCipherSuite(flynn.DH25519, flynn.CipherAESGCM, flynn.HashSHA256)

func flynnKey(kp KeyPair) flynn.DHKey {
	return flynn.DHKey{Private: bytes.Clone(kp.Private[:]), Public: bytes.Clone(kp.Public[:])}
}

func writeFrameRaw(t *testing.T, c net.Conn, prefix, payload []byte) {
	t.Helper()
	out, err := appendFrame(bytes.Clone(prefix), payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
}

func readHandshakeRaw(t *testing.T, fr *frameReader) *waproto.HandshakeMessage {
	t.Helper()
	msg, err := readHandshake(fr, "message")
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runFlynnInitiator drives a flynn/noise initiator against our server,
// translating between flynn's raw messages and the protobuf framing.
func runFlynnInitiator(t *testing.T, standard bool) {
	p := newPKI(t)
	clientStatic, _ := GenerateKeyPair()
	header := DefaultHeader()
	hs, err := flynn.NewHandshakeState(flynn.Config{
		CipherSuite: flynnSuite, Random: rand.Reader, Pattern: flynn.HandshakeXX,
		Initiator: true, Prologue: header[:], StaticKeypair: flynnKey(clientStatic),
	})
	if err != nil {
		t.Fatal(err)
	}
	cc, sc := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan serverOutcome, 1)
	go func() {
		s, res, err := server(ctx, sc, p.serverConfig(), options{rand: rand.Reader, standard: standard})
		done <- serverOutcome{s, res, err}
	}()
	defer func() {
		cc.Close()
		if so := <-done; so.sock != nil {
			so.sock.Close()
		}
	}()

	msg1, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil || len(msg1) != 32 {
		t.Fatalf("flynn msg1: %d bytes, %v", len(msg1), err)
	}
	writeFrameRaw(t, cc, header[:], marshal(t, &waproto.HandshakeMessage{ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: msg1}}))

	fr := newFrameReader(cc)
	sh := readHandshakeRaw(t, fr).GetServerHello()
	msg2 := bytes.Join([][]byte{sh.GetEphemeral(), sh.GetStatic(), sh.GetPayload()}, nil)
	chain, _, _, err := hs.ReadMessage(nil, msg2)
	if !standard {
		if err == nil {
			t.Fatal("flynn/noise decrypted a WhatsApp-variant ServerHello; the first-message quirk is missing")
		}
		return
	}
	if err != nil {
		t.Fatalf("flynn reading our ServerHello: %v", err)
	}
	if !bytes.Equal(chain, p.chain) || !bytes.Equal(hs.PeerStatic(), p.server.Public[:]) {
		t.Fatal("flynn decrypted a different certificate chain or server static")
	}

	payload := []byte("payload via flynn")
	msg3, c2s, s2c, err := hs.WriteMessage(nil, payload)
	if err != nil || c2s == nil {
		t.Fatalf("flynn msg3: %v", err)
	}
	if len(msg3) != 48+len(payload)+16 {
		t.Fatalf("flynn msg3 is %d bytes", len(msg3))
	}
	writeFrameRaw(t, cc, nil, marshal(t, &waproto.HandshakeMessage{ClientFinish: &waproto.HandshakeMessage_ClientFinish{Static: msg3[:48], Payload: msg3[48:]}}))

	so := <-done
	done <- so // for the deferred cleanup
	if so.err != nil {
		t.Fatalf("our server: %v", so.err)
	}
	if so.res.ClientStatic != clientStatic.Public || !bytes.Equal(so.res.Payload, payload) {
		t.Fatal("our server decrypted a different client static or payload")
	}
	if h := so.sock.HandshakeHash(); !bytes.Equal(h[:], hs.ChannelBinding()) {
		t.Fatalf("handshake hash %x, flynn %x", h, hs.ChannelBinding())
	}

	// Transport both ways.
	for i := range 3 {
		ct, err := c2s.Encrypt(nil, nil, []byte{byte(i), 'u', 'p'})
		if err != nil {
			t.Fatal(err)
		}
		writeFrameRaw(t, cc, nil, ct)
		if got, err := so.sock.ReadFrame(); err != nil || !bytes.Equal(got, []byte{byte(i), 'u', 'p'}) {
			t.Fatalf("our server read %q, %v", got, err)
		}
		if err := so.sock.WriteFrame([]byte{byte(i), 'd', 'n'}); err != nil {
			t.Fatal(err)
		}
		ct, err = fr.next(MaxFrameSize)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s2c.Decrypt(nil, nil, ct); err != nil || !bytes.Equal(got, []byte{byte(i), 'd', 'n'}) {
			t.Fatalf("flynn read %q, %v", got, err)
		}
	}
}

func TestInteropFlynnInitiator(t *testing.T) { runFlynnInitiator(t, true) }

func TestFlynnInitiatorRejectsWhatsAppVariant(t *testing.T) { runFlynnInitiator(t, false) }

// runFlynnResponder drives a flynn/noise responder against our client.
func runFlynnResponder(t *testing.T, standard bool) {
	p := newPKI(t)
	header := DefaultHeader()
	hs, err := flynn.NewHandshakeState(flynn.Config{
		CipherSuite: flynnSuite, Random: rand.Reader, Pattern: flynn.HandshakeXX,
		Initiator: false, Prologue: header[:], StaticKeypair: flynnKey(p.server),
	})
	if err != nil {
		t.Fatal(err)
	}
	ccfg := p.clientConfig(t)
	cc, sc := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type outcome struct {
		s   *Socket
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		s, err := client(ctx, cc, ccfg, options{rand: rand.Reader, standard: standard})
		done <- outcome{s, err}
	}()
	var co outcome
	received := false
	defer func() {
		sc.Close()
		if !received {
			co = <-done
		}
		if co.s != nil {
			co.s.Close()
		}
	}()

	var intro [4]byte
	if _, err := io.ReadFull(sc, intro[:]); err != nil || intro != header {
		t.Fatalf("intro % x, %v", intro, err)
	}
	fr := newFrameReader(sc)
	ch := readHandshakeRaw(t, fr).GetClientHello()
	if _, _, _, err := hs.ReadMessage(nil, ch.GetEphemeral()); err != nil {
		t.Fatal(err)
	}
	msg2, _, _, err := hs.WriteMessage(nil, p.chain)
	if err != nil {
		t.Fatal(err)
	}
	writeFrameRaw(t, sc, nil, marshal(t, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{
		Ephemeral: msg2[:32], Static: msg2[32:80], Payload: msg2[80:],
	}}))

	co, received = <-done, true
	if !standard {
		if !errors.Is(co.err, ErrDecrypt) {
			t.Fatalf("our WhatsApp-variant client against a standard responder: %v, want ErrDecrypt", co.err)
		}
		return
	}
	if co.err != nil {
		t.Fatalf("our client: %v", co.err)
	}
	cf := readHandshakeRaw(t, fr).GetClientFinish()
	payload, c2s, s2c, err := hs.ReadMessage(nil, append(bytes.Clone(cf.GetStatic()), cf.GetPayload()...))
	if err != nil || c2s == nil {
		t.Fatalf("flynn reading our ClientFinish: %v", err)
	}
	if !bytes.Equal(payload, ccfg.Payload) || !bytes.Equal(hs.PeerStatic(), ccfg.Static.Public[:]) {
		t.Fatal("flynn decrypted a different client static or payload")
	}
	if h := co.s.HandshakeHash(); !bytes.Equal(h[:], hs.ChannelBinding()) {
		t.Fatalf("handshake hash %x, flynn %x", h, hs.ChannelBinding())
	}
	if err := co.s.WriteFrame([]byte("up")); err != nil {
		t.Fatal(err)
	}
	ct, err := fr.next(MaxFrameSize)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c2s.Decrypt(nil, nil, ct); err != nil || string(got) != "up" {
		t.Fatalf("flynn read %q, %v", got, err)
	}
	ct, err = s2c.Encrypt(nil, nil, []byte("down"))
	if err != nil {
		t.Fatal(err)
	}
	writeFrameRaw(t, sc, nil, ct)
	if got, err := co.s.ReadFrame(); err != nil || string(got) != "down" {
		t.Fatalf("our client read %q, %v", got, err)
	}
}

func TestInteropFlynnResponder(t *testing.T) { runFlynnResponder(t, true) }

func TestFlynnResponderRejectsWhatsAppVariant(t *testing.T) { runFlynnResponder(t, false) }
