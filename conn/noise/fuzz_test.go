package noise

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The fuzz targets feed arbitrary bytes to one side of the handshake as
// the peer's stream and require an error or a success, never a panic or
// an allocation out of proportion to the input. Everything random is made
// deterministic (ephemeral keys from a seeded ChaCha8, a fixed clock, a
// stored certificate chain, since XEdDSA signing is randomised) so that a
// recorded genuine transcript stays valid in every fuzz worker and the
// fuzzer starts from inputs that reach the end of the handshake and the
// transport.

// fuzzChain was issued once by NewCertChain for fuzzKeys' root,
// intermediate and server keys, valid from 2020 to 2100.
const fuzzChain = "0a760a32080210011a20fd22fe3d94a480a819252e65e3bc3e1e743eca6d98501b186b8517118e3139522080c2aff0052880ae99a40f1240223b49d16be89b80c8ee653362dc04fb5964f03dddeab9ba1123d18a0ac4da38764ba8a71f907b714a0237c7a241a93a0d5427b6df8144a4e08b39434205258912760a32080110001a20400bebf09fc762dae42f76633aa842055f057a4920347caaacc9735fb14157052080c2aff0052880ae99a40f124065bb7e40bab3879844ec30b6328f4022d22de95f6d983c8aebebce0fb39d298706ccc38b1f7b9712d763b10adfabcc1ce06f0775dbfb20a02244dcba0cadc889"

type fuzzFixture struct {
	root, server, client KeyPair
	chain                []byte
}

func fuzzKeys(t testing.TB) fuzzFixture {
	chain, err := hex.DecodeString(fuzzChain)
	if err != nil {
		t.Fatal(err)
	}
	return fuzzFixture{
		root:   KeyPairFromPrivate([32]byte{'r', 'o', 'o', 't'}),
		server: KeyPairFromPrivate([32]byte{'s', 'e', 'r', 'v', 'e', 'r'}),
		client: KeyPairFromPrivate([32]byte{'c', 'l', 'i', 'e', 'n', 't'}),
		chain:  chain,
	}
}

func (f fuzzFixture) serverConfig() ServerConfig {
	return ServerConfig{Static: f.server, CertChain: f.chain, MaxFrame: 1 << 16}
}

func (f fuzzFixture) clientConfig() ClientConfig {
	return ClientConfig{
		Static: f.client, Payload: []byte("fuzz payload"), RootKey: f.root.Public, MaxFrame: 1 << 16,
		Now: func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
}

func clientRand() options { return options{rand: rand.NewChaCha8([32]byte{'c'})} }
func serverRand() options { return options{rand: rand.NewChaCha8([32]byte{'s'})} }

// streamConn is a net.Conn whose peer is a fixed byte stream; writes go
// nowhere. Fuzzing over real sockets would spend its time in the kernel.
type streamConn struct{ r io.Reader }

func (c streamConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c streamConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c streamConn) Close() error                     { return nil }
func (c streamConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c streamConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c streamConn) SetDeadline(time.Time) error      { return nil }
func (c streamConn) SetReadDeadline(time.Time) error  { return nil }
func (c streamConn) SetWriteDeadline(time.Time) error { return nil }

// drain reads frames until the stream fails, as a session would.
func drain(s *Socket) error {
	for {
		if _, err := s.ReadFrame(); err != nil {
			return err
		}
	}
}

func FuzzServerHandshake(f *testing.F) {
	fx := fuzzKeys(f)
	toServer, _ := recordTranscript(f)
	f.Add(toServer)
	f.Add([]byte("WA\x06\x03"))
	f.Add([]byte("ED\x00\x01\x00\x00\x02hiWA\x06\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, res, err := server(context.Background(), streamConn{bytes.NewReader(data)}, fx.serverConfig(), serverRand())
		if err != nil {
			return
		}
		if res.ClientStatic != fx.client.Public {
			// Only our client's key can complete a handshake with a
			// transcript the fuzzer derived from ours; any other would
			// mean the server accepted an unauthenticated static.
			t.Fatalf("handshake completed with client static %x", res.ClientStatic)
		}
		if err := drain(s); err == nil {
			t.Fatal("drain ended without an error")
		}
	})
}

func FuzzClientHandshake(f *testing.F) {
	fx := fuzzKeys(f)
	_, toClient := recordTranscript(f)
	f.Add(toClient)
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := client(context.Background(), streamConn{bytes.NewReader(data)}, fx.clientConfig(), clientRand())
		if err != nil {
			return
		}
		if err := drain(s); err == nil {
			t.Fatal("drain ended without an error")
		}
	})
}

// FuzzFrameReader checks the framing against a direct parse: every frame
// the reader returns is the next length-prefixed chunk of the input, and
// it stops with an error exactly where the input stops making sense.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 1, 'x', 0, 0, 2, 'y'}, uint32(16))
	f.Add([]byte{0xff, 0xff, 0xff, 1, 2, 3}, uint32(MaxFrameSize))
	f.Add([]byte{0, 0, 5, 1, 2}, uint32(4))
	f.Fuzz(func(t *testing.T, data []byte, limit uint32) {
		limit %= MaxFrameSize + 1
		fr := &frameReader{r: bufioReader(data), want: -1}
		rest := data
		for {
			got, err := fr.next(int(limit))
			if len(rest) == 0 {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("at the end of input: %v, want EOF", err)
				}
				return
			}
			if len(rest) < 3 {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("partial header: %v", err)
				}
				return
			}
			n := int(rest[0])<<16 | int(rest[1])<<8 | int(rest[2])
			switch {
			case n > int(limit):
				if !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("%d-byte frame over limit %d: %v", n, limit, err)
				}
				return
			case len(rest)-3 < n:
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("truncated frame: %v", err)
				}
				if cap(fr.buf) > max(2*(len(rest)-3), growStep) {
					t.Fatalf("committed %d bytes for %d received", cap(fr.buf), len(rest)-3)
				}
				return
			}
			if err != nil || !bytes.Equal(got, rest[3:3+n]) {
				t.Fatalf("frame of %d bytes: got %d bytes, %v", n, len(got), err)
			}
			rest = rest[3+n:]
		}
	})
}

// recordTranscript runs a genuine handshake between the deterministic
// client and server over loopback TCP, followed by a few transport frames
// each way, and returns what each side received.
func recordTranscript(t testing.TB) (toServer, toClient []byte) {
	t.Helper()
	fx := fuzzKeys(t)
	cc, sc := tcpPair(t)
	rc, rs := &recordingConn{Conn: cc}, &recordingConn{Conn: sc}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan serverOutcome, 1)
	go func() {
		s, res, err := server(ctx, rs, fx.serverConfig(), serverRand())
		done <- serverOutcome{s, res, err}
	}()
	cs, err := client(ctx, rc, fx.clientConfig(), clientRand())
	so := <-done
	if err != nil || so.err != nil {
		t.Fatalf("recording handshake: client %v, server %v", err, so.err)
	}
	defer cs.Close()
	defer so.sock.Close()
	for i, size := range []int{0, 1, 100, 5000} {
		msg := bytes.Repeat([]byte{byte(i)}, size)
		if err := cs.WriteFrame(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := so.sock.ReadFrame(); err != nil {
			t.Fatal(err)
		}
		if err := so.sock.WriteFrame(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	return rc.written(), rs.written()
}

type recordingConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out = append(c.out, p...)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *recordingConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out)
}

// TestFuzzTranscriptsComplete makes sure the fuzz seeds are what they
// claim: the recorded streams take each side through the handshake and
// every transport frame, deterministically.
func TestFuzzTranscriptsComplete(t *testing.T) {
	fx := fuzzKeys(t)
	toServer, toClient := recordTranscript(t)
	again, _ := recordTranscript(t)
	if !bytes.Equal(toServer, again) {
		t.Fatal("the handshake transcript is not deterministic")
	}
	s, _, err := server(context.Background(), streamConn{bytes.NewReader(toServer)}, fx.serverConfig(), serverRand())
	if err != nil {
		t.Fatalf("server on the recorded stream: %v", err)
	}
	for i := range 4 {
		if _, err := s.ReadFrame(); err != nil {
			t.Fatalf("server frame %d: %v", i, err)
		}
	}
	c, err := client(context.Background(), streamConn{bytes.NewReader(toClient)}, fx.clientConfig(), clientRand())
	if err != nil {
		t.Fatalf("client on the recorded stream: %v", err)
	}
	for i := range 4 {
		if _, err := c.ReadFrame(); err != nil {
			t.Fatalf("client frame %d: %v", i, err)
		}
	}
	if _, err := c.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last frame: %v", err)
	}

	// With WAENT_WRITE_FUZZ_SEEDS=1 the recorded streams are (re)written
	// to the committed seed corpus.
	if os.Getenv("WAENT_WRITE_FUZZ_SEEDS") != "" {
		writeSeed(t, "FuzzServerHandshake", "transcript", fmt.Sprintf("[]byte(%s)", strconv.QuoteToASCII(string(toServer))))
		writeSeed(t, "FuzzClientHandshake", "transcript", fmt.Sprintf("[]byte(%s)", strconv.QuoteToASCII(string(toClient))))
	}
}

func writeSeed(t *testing.T, target, name string, values ...string) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := "go test fuzz v1\n"
	for _, v := range values {
		body += v + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReaderSize(bytes.NewReader(b), 16) }

// FuzzVerifyCertChain reaches the certificate parser directly, which the
// handshake targets cannot: there it sits behind an AEAD the fuzzer
// cannot forge. Only the genuine chain may verify.
func FuzzVerifyCertChain(f *testing.F) {
	fx := fuzzKeys(f)
	f.Add(fx.chain)
	f.Add([]byte{})
	at := fx.clientConfig().Now()
	f.Fuzz(func(t *testing.T, chain []byte) {
		err := VerifyCertChain(chain, fx.root.Public, fx.server.Public, at)
		if err == nil {
			leaf, _, perr := ParseCertChain(chain)
			if perr != nil || leaf.Key != fx.server.Public {
				t.Fatalf("verified a chain that does not parse to the server key: %v", perr)
			}
		} else if !errors.Is(err, ErrCertificate) {
			t.Fatalf("failure not wrapping ErrCertificate: %v", err)
		}
	})
}
