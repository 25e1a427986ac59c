package noise

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/waproto"
)

// DefaultHeader is the connection header WhatsApp web sends: 'W' 'A', the
// protocol magic 6 and the binary-node dictionary version 3. It is sent
// once before the first frame and is the Noise prologue.
func DefaultHeader() [4]byte { return [4]byte{'W', 'A', 6, 3} }

// edgeRoutingMagic starts the optional edge routing block that precedes
// the header.
var edgeRoutingMagic = [4]byte{'E', 'D', 0, 1}

// ClientConfig configures the initiator.
type ClientConfig struct {
	// Static is the account's Noise static key, the one registered for it.
	Static KeyPair
	// Payload is the marshaled waproto.ClientPayload, sent encrypted in
	// ClientFinish.
	Payload []byte
	// RootKey is the trusted root of the server's certificate chain
	// (XEdDSA over Curve25519). It is required.
	RootKey [32]byte
	// Header is the connection header; the zero value means
	// DefaultHeader().
	Header [4]byte
	// Now is the clock for certificate validity; nil means time.Now.
	Now func() time.Time
	// EdgeRouting, when set, is sent as 'E' 'D' 0 1, a 3-byte length and
	// these bytes before the header. It is not part of the prologue.
	EdgeRouting []byte
	// MaxFrame bounds the frames the Socket accepts from the server; 0
	// means MaxFrameSize.
	MaxFrame int
}

// ServerConfig configures the responder.
type ServerConfig struct {
	// Static is the server's Noise static key.
	Static KeyPair
	// CertChain is a marshaled waproto.CertChain whose leaf key is
	// Static.Public (see NewCertChain).
	CertChain []byte
	// Authenticate, if not nil, is called with the client's static key
	// and ClientPayload bytes once ClientFinish has decrypted; an error
	// aborts the handshake and closes the connection. The client learns
	// of it only as a closed connection, since the protocol has no
	// message for it: servers that want to say why (a <failure> stanza)
	// accept here and refuse after the handshake.
	Authenticate func(clientStatic [32]byte, payload []byte) error
	// Header, if not zero, is the only connection header accepted; the
	// zero value accepts any header starting with "WA".
	Header [4]byte
	// MaxFrame bounds the frames the Socket accepts from the client; 0
	// means MaxFrameSize.
	MaxFrame int
}

// ServerResult is what the responder learned about the client.
type ServerResult struct {
	// ClientStatic is the client's Noise static public key: the account's
	// credential.
	ClientStatic [32]byte
	// Payload is the decrypted ClientPayload bytes.
	Payload []byte
	// EdgeRouting is the routing block the client sent, if any.
	EdgeRouting []byte
	// Header is the connection header the client sent.
	Header [4]byte
}

// options are the knobs tests turn; production callers get the zero
// value plus crypto/rand.
type options struct {
	rand io.Reader
	// standard makes the client MixHash the empty first payload as
	// standard Noise does, so the machinery can be checked against
	// flynn/noise; WhatsApp peers then fail to decrypt.
	standard bool
}

// Client runs the initiator handshake on c, an established connection,
// and returns the transport. The handshake ends when ClientFinish is
// sent: whether the server accepted the account shows in the first frame
// it sends (or in it closing the connection). If ctx ends first, c is
// closed and ctx's error returned; on any failure c is closed.
func Client(ctx context.Context, c net.Conn, cfg ClientConfig) (*Socket, error) {
	return client(ctx, c, cfg, options{rand: rand.Reader})
}

// Server runs the responder handshake on an accepted connection: it reads
// the optional edge routing block and the header, then the XX messages.
// If ctx ends first, c is closed and ctx's error returned; on any failure
// c is closed.
func Server(ctx context.Context, c net.Conn, cfg ServerConfig) (*Socket, ServerResult, error) {
	return server(ctx, c, cfg, options{rand: rand.Reader})
}

func client(ctx context.Context, c net.Conn, cfg ClientConfig, o options) (*Socket, error) {
	var s *Socket
	err := guard(ctx, c, func() (err error) {
		s, err = clientHandshake(c, &cfg, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func server(ctx context.Context, c net.Conn, cfg ServerConfig, o options) (*Socket, ServerResult, error) {
	var (
		s   *Socket
		res ServerResult
	)
	err := guard(ctx, c, func() (err error) {
		s, res, err = serverHandshake(c, &cfg, o)
		return err
	})
	if err != nil {
		return nil, ServerResult{}, err
	}
	return s, res, nil
}

// guard runs a handshake so that ctx can interrupt it (by closing c,
// which unblocks any read or write) and so that c is closed on failure.
// The caller's own deadlines on c are left alone.
func guard(ctx context.Context, c net.Conn, run func() error) error {
	if err := ctx.Err(); err != nil {
		c.Close()
		return fmt.Errorf("noise: handshake: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := run()
	if !stop() {
		// ctx ended while we ran: c is (being) closed, so even a
		// handshake that completed in the same instant cannot be used.
		err = fmt.Errorf("noise: handshake: %w", ctx.Err())
	}
	if err != nil {
		c.Close()
		return err
	}
	return nil
}

func clientHandshake(c net.Conn, cfg *ClientConfig, o options) (*Socket, error) {
	if cfg.Static == (KeyPair{}) {
		return nil, errors.New("noise: ClientConfig.Static is required")
	}
	if cfg.RootKey == ([32]byte{}) {
		return nil, errors.New("noise: ClientConfig.RootKey is required")
	}
	if len(cfg.EdgeRouting) > MaxFrameSize {
		return nil, fmt.Errorf("%w: edge routing is %d bytes", ErrFrameTooLarge, len(cfg.EdgeRouting))
	}
	header := cfg.Header
	if header == ([4]byte{}) {
		header = DefaultHeader()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}

	sym := newSymmetric(header[:])
	e, err := generateKeyPair(o.rand)
	if err != nil {
		return nil, err
	}
	sym.mixHash(e.Public[:])
	if o.standard {
		sym.mixHash(nil)
	}
	hello, err := proto.Marshal(&waproto.HandshakeMessage{
		ClientHello: &waproto.HandshakeMessage_ClientHello{Ephemeral: e.Public[:]},
	})
	if err != nil {
		return nil, fmt.Errorf("noise: marshal ClientHello: %w", err)
	}

	// The intro and the first frame go out in one write, as one TCP
	// segment in the usual case.
	out := make([]byte, 0, 4+3+len(cfg.EdgeRouting)+len(header)+3+len(hello))
	if len(cfg.EdgeRouting) > 0 {
		out = append(out, edgeRoutingMagic[:]...)
		if out, err = appendFrame(out, cfg.EdgeRouting); err != nil {
			return nil, err
		}
	}
	out = append(out, header[:]...)
	if out, err = appendFrame(out, hello); err != nil {
		return nil, err
	}
	if _, err := c.Write(out); err != nil {
		return nil, fmt.Errorf("noise: sending ClientHello: %w", err)
	}

	fr := newFrameReader(c)
	msg, err := readHandshake(fr, "ServerHello")
	if err != nil {
		return nil, err
	}
	sh := msg.GetServerHello()
	if sh == nil {
		return nil, fmt.Errorf("%w: expected ServerHello", ErrHandshake)
	}
	serverE, err := key32(sh.GetEphemeral(), "server ephemeral")
	if err != nil {
		return nil, err
	}
	if len(sh.GetStatic()) != keyLen+tagLen {
		return nil, fmt.Errorf("%w: encrypted server static is %d bytes, want %d", ErrHandshake, len(sh.GetStatic()), keyLen+tagLen)
	}
	if len(sh.GetPayload()) < tagLen {
		return nil, fmt.Errorf("%w: encrypted certificate is %d bytes", ErrHandshake, len(sh.GetPayload()))
	}

	sym.mixHash(serverE[:])
	if err := mixDH(sym, e.Private, serverE); err != nil {
		return nil, err
	}
	plain, err := sym.decrypt(sh.GetStatic())
	if err != nil {
		return nil, fmt.Errorf("noise: server static: %w", err)
	}
	serverS := [32]byte(plain)
	if err := mixDH(sym, e.Private, serverS); err != nil {
		return nil, err
	}
	chain, err := sym.decrypt(sh.GetPayload())
	if err != nil {
		return nil, fmt.Errorf("noise: server certificate: %w", err)
	}
	if err := VerifyCertChain(chain, cfg.RootKey, serverS, now()); err != nil {
		return nil, err
	}

	staticCT, err := sym.encrypt(cfg.Static.Public[:])
	if err != nil {
		return nil, err
	}
	if err := mixDH(sym, cfg.Static.Private, serverE); err != nil {
		return nil, err
	}
	payloadCT, err := sym.encrypt(cfg.Payload)
	if err != nil {
		return nil, err
	}
	finish, err := proto.Marshal(&waproto.HandshakeMessage{
		ClientFinish: &waproto.HandshakeMessage_ClientFinish{Static: staticCT, Payload: payloadCT},
	})
	if err != nil {
		return nil, fmt.Errorf("noise: marshal ClientFinish: %w", err)
	}
	if out, err = appendFrame(out[:0], finish); err != nil {
		return nil, err
	}
	if _, err := c.Write(out); err != nil {
		return nil, fmt.Errorf("noise: sending ClientFinish: %w", err)
	}

	c2s, s2c, err := sym.split()
	if err != nil {
		return nil, err
	}
	return newSocket(c, fr, frameLimit(cfg.MaxFrame), c2s, s2c, sym.h), nil
}

func serverHandshake(c net.Conn, cfg *ServerConfig, o options) (*Socket, ServerResult, error) {
	var res ServerResult
	if cfg.Static == (KeyPair{}) {
		return nil, res, errors.New("noise: ServerConfig.Static is required")
	}
	fr := newFrameReader(c)
	if err := readIntro(fr, cfg, &res); err != nil {
		return nil, res, err
	}

	sym := newSymmetric(res.Header[:])
	msg, err := readHandshake(fr, "ClientHello")
	if err != nil {
		return nil, res, err
	}
	ch := msg.GetClientHello()
	if ch == nil {
		return nil, res, fmt.Errorf("%w: expected ClientHello", ErrHandshake)
	}
	if ch.Static != nil || ch.Payload != nil {
		// A client that already knows our static key tries IK; we only
		// speak XX, and the fallback is not worth it for a simulator.
		return nil, res, fmt.Errorf("%w: ClientHello carries a static key or payload (IK), only XX is supported", ErrHandshake)
	}
	clientE, err := key32(ch.GetEphemeral(), "client ephemeral")
	if err != nil {
		return nil, res, err
	}
	sym.mixHash(clientE[:])
	if o.standard {
		sym.mixHash(nil)
	}

	e, err := generateKeyPair(o.rand)
	if err != nil {
		return nil, res, err
	}
	sym.mixHash(e.Public[:])
	if err := mixDH(sym, e.Private, clientE); err != nil {
		return nil, res, err
	}
	staticCT, err := sym.encrypt(cfg.Static.Public[:])
	if err != nil {
		return nil, res, err
	}
	if err := mixDH(sym, cfg.Static.Private, clientE); err != nil {
		return nil, res, err
	}
	certCT, err := sym.encrypt(cfg.CertChain)
	if err != nil {
		return nil, res, err
	}
	hello, err := proto.Marshal(&waproto.HandshakeMessage{
		ServerHello: &waproto.HandshakeMessage_ServerHello{Ephemeral: e.Public[:], Static: staticCT, Payload: certCT},
	})
	if err != nil {
		return nil, res, fmt.Errorf("noise: marshal ServerHello: %w", err)
	}
	out, err := appendFrame(nil, hello)
	if err != nil {
		return nil, res, err
	}
	if _, err := c.Write(out); err != nil {
		return nil, res, fmt.Errorf("noise: sending ServerHello: %w", err)
	}

	msg, err = readHandshake(fr, "ClientFinish")
	if err != nil {
		return nil, res, err
	}
	cf := msg.GetClientFinish()
	if cf == nil {
		return nil, res, fmt.Errorf("%w: expected ClientFinish", ErrHandshake)
	}
	if len(cf.GetStatic()) != keyLen+tagLen {
		return nil, res, fmt.Errorf("%w: encrypted client static is %d bytes, want %d", ErrHandshake, len(cf.GetStatic()), keyLen+tagLen)
	}
	if len(cf.GetPayload()) < tagLen {
		return nil, res, fmt.Errorf("%w: encrypted client payload is %d bytes", ErrHandshake, len(cf.GetPayload()))
	}
	plain, err := sym.decrypt(cf.GetStatic())
	if err != nil {
		return nil, res, fmt.Errorf("noise: client static: %w", err)
	}
	res.ClientStatic = [32]byte(plain)
	if err := mixDH(sym, e.Private, res.ClientStatic); err != nil {
		return nil, res, err
	}
	if res.Payload, err = sym.decrypt(cf.GetPayload()); err != nil {
		return nil, res, fmt.Errorf("noise: client payload: %w", err)
	}
	if cfg.Authenticate != nil {
		if err := cfg.Authenticate(res.ClientStatic, res.Payload); err != nil {
			return nil, res, fmt.Errorf("%w: %w", ErrRejected, err)
		}
	}

	c2s, s2c, err := sym.split()
	if err != nil {
		return nil, res, err
	}
	return newSocket(c, fr, frameLimit(cfg.MaxFrame), s2c, c2s, sym.h), res, nil
}

// readIntro reads what precedes the first frame: the optional edge
// routing block and the 4-byte header.
func readIntro(fr *frameReader, cfg *ServerConfig, res *ServerResult) error {
	var intro [4]byte
	if err := fr.readFull(intro[:]); err != nil {
		return fmt.Errorf("noise: reading connection header: %w", err)
	}
	if intro == edgeRoutingMagic {
		routing, err := fr.next(maxHandshakeFrame)
		if err != nil {
			return fmt.Errorf("noise: reading edge routing: %w", err)
		}
		res.EdgeRouting = append([]byte(nil), routing...)
		if err := fr.readFull(intro[:]); err != nil {
			return fmt.Errorf("noise: reading connection header: %w", err)
		}
	}
	if intro[0] != 'W' || intro[1] != 'A' || (cfg.Header != [4]byte{} && intro != cfg.Header) {
		return fmt.Errorf("%w: connection header % x", ErrHandshake, intro)
	}
	res.Header = intro
	return nil
}

func readHandshake(fr *frameReader, what string) (*waproto.HandshakeMessage, error) {
	b, err := fr.next(maxHandshakeFrame)
	if err != nil {
		return nil, fmt.Errorf("noise: reading %s: %w", what, err)
	}
	var msg waproto.HandshakeMessage
	if err := proto.Unmarshal(b, &msg); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrHandshake, what, err)
	}
	return &msg, nil
}

func mixDH(sym *symmetric, priv, pub [32]byte) error {
	secret, err := dh(priv, pub)
	if err != nil {
		return err
	}
	return sym.mixKey(secret)
}

func key32(b []byte, what string) ([32]byte, error) {
	if len(b) != 32 {
		return [32]byte{}, fmt.Errorf("%w: %s is %d bytes, want 32", ErrHandshake, what, len(b))
	}
	return [32]byte(b), nil
}

func frameLimit(n int) int {
	if n <= 0 || n > MaxFrameSize {
		return MaxFrameSize
	}
	return n
}
