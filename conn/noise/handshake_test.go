package noise

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/waproto"
)

func TestHandshake(t *testing.T) {
	p := newPKI(t)
	ccfg := p.clientConfig(t)
	var gotStatic [32]byte
	var gotPayload []byte
	scfg := p.serverConfig()
	scfg.Authenticate = func(static [32]byte, payload []byte) error {
		gotStatic, gotPayload = static, payload
		return nil
	}
	cs, ss, res := mustHandshake(t, ccfg, scfg)

	if res.ClientStatic != ccfg.Static.Public || gotStatic != ccfg.Static.Public {
		t.Errorf("server saw client static %x (Authenticate %x), want %x", res.ClientStatic, gotStatic, ccfg.Static.Public)
	}
	if !bytes.Equal(res.Payload, ccfg.Payload) || !bytes.Equal(gotPayload, ccfg.Payload) {
		t.Errorf("server saw payload %q (Authenticate %q), want %q", res.Payload, gotPayload, ccfg.Payload)
	}
	if res.Header != DefaultHeader() {
		t.Errorf("header % x, want % x", res.Header, DefaultHeader())
	}
	if res.EdgeRouting != nil {
		t.Errorf("edge routing %q without one sent", res.EdgeRouting)
	}
	// Every MixHash and MixKey happened in the same order on both sides.
	if cs.HandshakeHash() != ss.HandshakeHash() {
		t.Errorf("handshake hashes differ: client %x, server %x", cs.HandshakeHash(), ss.HandshakeHash())
	}
	if cs.LocalAddr().String() != ss.RemoteAddr().String() {
		t.Errorf("client local %v, server remote %v", cs.LocalAddr(), ss.RemoteAddr())
	}

	// The first transport frames, both ways, including the server talking
	// first (as it does with <success>).
	if err := ss.WriteFrame([]byte("\x00success")); err != nil {
		t.Fatal(err)
	}
	if got, err := cs.ReadFrame(); err != nil || string(got) != "\x00success" {
		t.Fatalf("client read %q, %v", got, err)
	}
	if err := cs.WriteFrame([]byte("\x00hello")); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.ReadFrame(); err != nil || string(got) != "\x00hello" {
		t.Fatalf("server read %q, %v", got, err)
	}
}

// The client's first write is the header, then a 36-byte frame holding
// HandshakeMessage{clientHello{ephemeral}} (protocol.md §1.2).
func TestFirstClientWrite(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Client(ctx, cc, p.clientConfig(t))
		done <- err
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("client after cancel: %v, want context.Canceled", err)
		}
	}()

	got := make([]byte, 4+3+4+32)
	sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(sc, got); err != nil {
		t.Fatal(err)
	}
	want := []byte{0x57, 0x41, 0x06, 0x03, 0x00, 0x00, 0x24, 0x12, 0x22, 0x0a, 0x20}
	if !bytes.Equal(got[:len(want)], want) {
		t.Fatalf("first bytes % x, want % x then the ephemeral", got[:len(want)], want)
	}
	var msg waproto.HandshakeMessage
	if err := proto.Unmarshal(got[7:], &msg); err != nil || !bytes.Equal(msg.GetClientHello().GetEphemeral(), got[len(want):]) {
		t.Fatalf("frame does not decode as a ClientHello: %v", err)
	}
	// Nothing else: the client now waits for the ServerHello.
	sc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := sc.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Fatalf("client sent more than the ClientHello: %d bytes, %v", n, err)
	}
}

func TestEdgeRouting(t *testing.T) {
	p := newPKI(t)
	ccfg := p.clientConfig(t)
	ccfg.EdgeRouting = []byte("routing info \x00\x01\x02")
	cs, ss, res := mustHandshake(t, ccfg, p.serverConfig())
	if !bytes.Equal(res.EdgeRouting, ccfg.EdgeRouting) {
		t.Fatalf("server got edge routing %q, want %q", res.EdgeRouting, ccfg.EdgeRouting)
	}
	// The block is not in the prologue, so the keys agree.
	if cs.HandshakeHash() != ss.HandshakeHash() {
		t.Fatal("handshake hashes differ")
	}
}

// The edge routing block precedes the header on the wire, exactly as
// protocol.md §1.2 lays it out.
func TestEdgeRoutingWire(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	ccfg := p.clientConfig(t)
	ccfg.EdgeRouting = []byte{0xaa, 0xbb}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Client(ctx, cc, ccfg)
		done <- err
	}()
	defer func() { cancel(); <-done }()
	got := make([]byte, 4+3+2+4)
	sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(sc, got); err != nil {
		t.Fatal(err)
	}
	want := []byte{'E', 'D', 0, 1, 0, 0, 2, 0xaa, 0xbb, 'W', 'A', 6, 3}
	if !bytes.Equal(got, want) {
		t.Fatalf("intro % x, want % x", got, want)
	}
}

func TestCustomHeader(t *testing.T) {
	p := newPKI(t)
	ccfg := p.clientConfig(t)
	ccfg.Header = [4]byte{'W', 'A', 4, 0}
	_, _, res := mustHandshake(t, ccfg, p.serverConfig())
	if res.Header != ccfg.Header {
		t.Fatalf("server saw header % x", res.Header)
	}

	// A server pinned to a header refuses another.
	scfg := p.serverConfig()
	scfg.Header = DefaultHeader()
	_, _, so := handshake(t, ccfg, scfg)
	if !errors.Is(so.err, ErrHandshake) {
		t.Fatalf("server with pinned header: %v, want ErrHandshake", so.err)
	}
}

func TestAuthenticateRejects(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	refusal := errors.New("unknown account")
	scfg.Authenticate = func([32]byte, []byte) error { return refusal }
	cs, cerr, so := handshake(t, p.clientConfig(t), scfg)
	if !errors.Is(so.err, ErrRejected) || !errors.Is(so.err, refusal) {
		t.Fatalf("server: %v, want ErrRejected wrapping the refusal", so.err)
	}
	if so.sock != nil {
		t.Fatal("server returned a socket for a rejected client")
	}
	// The client's handshake ends with its ClientFinish; the refusal
	// reaches it as the server closing the connection.
	if cerr != nil {
		t.Fatalf("client handshake: %v", cerr)
	}
	cs.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cs.ReadFrame(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("client read after rejection: %v, want EOF", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func TestCertificateFailures(t *testing.T) {
	p := newPKI(t)
	other, _ := GenerateKeyPair()
	now := time.Now()

	t.Run("wrong root", func(t *testing.T) {
		ccfg := p.clientConfig(t)
		ccfg.RootKey = other.Public
		_, cerr, so := handshake(t, ccfg, p.serverConfig())
		if !errors.Is(cerr, ErrCertificate) || !strings.Contains(cerr.Error(), "root") {
			t.Fatalf("client: %v, want ErrCertificate about the root", cerr)
		}
		if so.err == nil {
			t.Fatal("server completed a handshake the client abandoned")
		}
	})
	t.Run("expired", func(t *testing.T) {
		ccfg := p.clientConfig(t)
		ccfg.Now = func() time.Time { return now.Add(25 * time.Hour) }
		_, cerr, _ := handshake(t, ccfg, p.serverConfig())
		if !errors.Is(cerr, ErrCertificate) || !strings.Contains(cerr.Error(), "valid from") {
			t.Fatalf("client: %v, want ErrCertificate about validity", cerr)
		}
	})
	t.Run("not yet valid", func(t *testing.T) {
		ccfg := p.clientConfig(t)
		ccfg.Now = func() time.Time { return now.Add(-2 * time.Hour) }
		_, cerr, _ := handshake(t, ccfg, p.serverConfig())
		if !errors.Is(cerr, ErrCertificate) {
			t.Fatalf("client: %v, want ErrCertificate", cerr)
		}
	})
	t.Run("leaf is not the server static", func(t *testing.T) {
		scfg := p.serverConfig()
		scfg.Static = other // the chain still names p.server
		_, cerr, _ := handshake(t, p.clientConfig(t), scfg)
		if !errors.Is(cerr, ErrCertificate) || !strings.Contains(cerr.Error(), "static") {
			t.Fatalf("client: %v, want ErrCertificate about the static key", cerr)
		}
	})
	t.Run("garbage chain", func(t *testing.T) {
		scfg := p.serverConfig()
		scfg.CertChain = []byte{0xff, 0xff}
		_, cerr, _ := handshake(t, p.clientConfig(t), scfg)
		if !errors.Is(cerr, ErrCertificate) {
			t.Fatalf("client: %v, want ErrCertificate", cerr)
		}
	})
}

func TestConfigRequired(t *testing.T) {
	p := newPKI(t)
	ccfg := p.clientConfig(t)
	ccfg.RootKey = [32]byte{}
	cc, _ := tcpPair(t)
	if _, err := Client(context.Background(), cc, ccfg); err == nil || !strings.Contains(err.Error(), "RootKey") {
		t.Fatalf("client without RootKey: %v", err)
	}
	ccfg = p.clientConfig(t)
	ccfg.Static = KeyPair{}
	cc, _ = tcpPair(t)
	if _, err := Client(context.Background(), cc, ccfg); err == nil || !strings.Contains(err.Error(), "Static") {
		t.Fatalf("client without Static: %v", err)
	}
	_, sc := tcpPair(t)
	if _, _, err := Server(context.Background(), sc, ServerConfig{}); err == nil || !strings.Contains(err.Error(), "Static") {
		t.Fatalf("server without Static: %v", err)
	}
}

// A context that ends mid-handshake aborts it and closes the connection,
// even while the peer stays silent.
func TestHandshakeContext(t *testing.T) {
	p := newPKI(t)
	t.Run("client deadline", func(t *testing.T) {
		cc, _ := tcpPair(t) // the server side never answers
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Client(ctx, cc, p.clientConfig(t))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("client: %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("client took %v to notice its deadline", d)
		}
		if _, err := cc.Write([]byte{0}); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("conn after a failed handshake: %v, want it closed", err)
		}
	})
	t.Run("server cancel", func(t *testing.T) {
		_, sc := tcpPair(t) // the client side never speaks
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, _, err := Server(ctx, sc, p.serverConfig())
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("server: %v, want Canceled", err)
		}
	})
	t.Run("already done", func(t *testing.T) {
		cc, _ := tcpPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Client(ctx, cc, p.clientConfig(t)); !errors.Is(err, context.Canceled) {
			t.Fatalf("client: %v, want Canceled", err)
		}
	})
}

// rawServer plays the first half of a server by hand: it reads the intro
// and the ClientHello, then writes reply.
func rawServerReply(t *testing.T, reply []byte) error {
	t.Helper()
	p := newPKI(t)
	cc, sc := tcpPair(t)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		_, err := Client(ctx, cc, p.clientConfig(t))
		done <- err
	}()
	if _, err := io.ReadFull(sc, make([]byte, 4+3+36)); err != nil {
		t.Fatal(err)
	}
	sc.Write(reply)
	return <-done
}

func frameOf(t *testing.T, m *waproto.HandshakeMessage) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out, err := appendFrame(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A malformed ServerHello fails the client with ErrHandshake (or
// ErrDecrypt once the shapes are right but the contents are not).
func TestMalformedServerHello(t *testing.T) {
	e, _ := GenerateKeyPair()
	for _, tc := range []struct {
		name  string
		reply []byte
		want  error
	}{
		{"not a protobuf", []byte{0, 0, 2, 0xff, 0xff}, ErrHandshake},
		{"client hello instead", frameOf(t, &waproto.HandshakeMessage{ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: e.Public[:]}}), ErrHandshake},
		{"short ephemeral", frameOf(t, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: e.Public[:31], Static: make([]byte, 48), Payload: make([]byte, 16)}}), ErrHandshake},
		{"short static", frameOf(t, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: e.Public[:], Static: make([]byte, 47), Payload: make([]byte, 16)}}), ErrHandshake},
		{"short payload", frameOf(t, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: e.Public[:], Static: make([]byte, 48), Payload: make([]byte, 15)}}), ErrHandshake},
		{"low-order ephemeral", frameOf(t, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: make([]byte, 32), Static: make([]byte, 48), Payload: make([]byte, 16)}}), ErrHandshake},
		{"forged static", frameOf(t, &waproto.HandshakeMessage{ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: e.Public[:], Static: make([]byte, 48), Payload: make([]byte, 16)}}), ErrDecrypt},
		{"oversize frame", []byte{0x01, 0x00, 0x01}, ErrFrameTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rawServerReply(t, tc.reply); !errors.Is(err, tc.want) {
				t.Fatalf("client: %v, want %v", err, tc.want)
			}
		})
	}
}

// rawClient sends intro by hand to a real server and returns its error.
func rawClient(t *testing.T, intro []byte) error {
	t.Helper()
	p := newPKI(t)
	cc, sc := tcpPair(t)
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		_, _, err := Server(ctx, sc, p.serverConfig())
		done <- err
	}()
	go io.Copy(io.Discard, cc) // drains the ServerHello; ends when the server closes
	cc.Write(intro)
	cc.(*net.TCPConn).CloseWrite() // so a short intro ends in EOF, not a wait
	err := <-done
	cc.Close()
	return err
}

func TestMalformedClientMessages(t *testing.T) {
	e, _ := GenerateKeyPair()
	hdr := []byte("WA\x06\x03")
	hello := frameOf(t, &waproto.HandshakeMessage{ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: e.Public[:]}})
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"not WA", cat([]byte("HTTP"), hello), ErrHandshake},
		{"short ephemeral", cat(hdr, frameOf(t, &waproto.HandshakeMessage{ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: e.Public[:16]}})), ErrHandshake},
		{"IK hello", cat(hdr, frameOf(t, &waproto.HandshakeMessage{ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: e.Public[:], Static: make([]byte, 48)}})), ErrHandshake},
		{"no hello", cat(hdr, frameOf(t, &waproto.HandshakeMessage{})), ErrHandshake},
		{"oversize hello", cat(hdr, []byte{0xff, 0xff, 0xff}), ErrFrameTooLarge},
		{"oversize edge routing", []byte{'E', 'D', 0, 1, 0x10, 0, 0}, ErrFrameTooLarge},
		{"short finish", cat(hdr, hello, frameOf(t, &waproto.HandshakeMessage{ClientFinish: &waproto.HandshakeMessage_ClientFinish{Static: make([]byte, 32), Payload: make([]byte, 16)}})), ErrHandshake},
		{"forged finish", cat(hdr, hello, frameOf(t, &waproto.HandshakeMessage{ClientFinish: &waproto.HandshakeMessage_ClientFinish{Static: make([]byte, 48), Payload: make([]byte, 16)}})), ErrDecrypt},
		{"eof after header", hdr, io.EOF},
		{"eof in frame", cat(hdr, hello[:10]), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := rawClient(t, tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("server: %v, want %v", err, tc.want)
			}
		})
	}
}
