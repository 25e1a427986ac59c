package noise

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"sync"
	"time"
)

// Socket is the Noise transport over a net.Conn after the handshake: one
// AES-256-GCM message per frame, a uint32 nonce counter per direction,
// empty associated data.
//
// ReadFrame may be called from one goroutine at a time; WriteFrame is safe
// for concurrent use. Any authentication failure, counter exhaustion or
// I/O error other than a read timeout is fatal: the socket closes the
// connection and every later call returns the same error.
type Socket struct {
	conn net.Conn
	hash [hashLen]byte

	// rmu makes concurrent ReadFrame calls safe rather than corrupting:
	// the API promises only one reader, but a misbehaving caller should
	// get serialised reads, not a garbled nonce sequence.
	rmu      sync.Mutex
	fr       *frameReader
	maxFrame int
	readKey  cipher.AEAD
	readN    uint64
	readIV   [12]byte

	wmu      sync.Mutex
	writeKey cipher.AEAD
	writeN   uint64
	writeIV  [12]byte
	wbuf     []byte

	errMu     sync.Mutex
	err       error // the first fatal error; sticky
	closeOnce sync.Once
	closeErr  error
}

func newSocket(c net.Conn, fr *frameReader, maxFrame int, write, read cipher.AEAD, hash [hashLen]byte) *Socket {
	return &Socket{conn: c, fr: fr, maxFrame: maxFrame, writeKey: write, readKey: read, hash: hash}
}

// ReadFrame reads and decrypts one frame and returns its plaintext, which
// the caller owns. A read deadline that expires is returned as is and is
// not fatal: the next call resumes the same frame.
func (s *Socket) ReadFrame() ([]byte, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if err := s.failed(); err != nil {
		return nil, err
	}
	ct, err := s.fr.next(s.maxFrame)
	if err != nil {
		if isTimeout(err) {
			if ferr := s.failed(); ferr != nil {
				return nil, ferr
			}
			return nil, err
		}
		return nil, s.fail(err)
	}
	if s.readN > math.MaxUint32 {
		return nil, s.fail(fmt.Errorf("%w: reading", ErrCounterExhausted))
	}
	binary.BigEndian.PutUint32(s.readIV[8:], uint32(s.readN))
	pt, err := s.readKey.Open(nil, s.readIV[:], ct, nil)
	if err != nil {
		return nil, s.fail(fmt.Errorf("%w: frame %d (%d bytes)", ErrDecrypt, s.readN, len(ct)))
	}
	s.readN++
	return pt, nil
}

// WriteFrame encrypts plaintext and writes it as one frame. A plaintext
// too large for a frame fails with ErrFrameTooLarge without harming the
// socket.
func (s *Socket) WriteFrame(plaintext []byte) error {
	if len(plaintext) > MaxFrameSize-tagLen {
		return fmt.Errorf("%w: %d bytes of plaintext", ErrFrameTooLarge, len(plaintext))
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.failed(); err != nil {
		return err
	}
	if cap(s.wbuf) > keepBuffer {
		s.wbuf = nil
	}
	var err error
	if s.wbuf, err = s.sealFrame(s.wbuf[:0], plaintext); err != nil {
		return s.fail(err)
	}
	// A failed or partial write leaves the peer mid-frame, so the stream
	// cannot continue whatever the cause, timeouts included.
	if _, err := s.conn.Write(s.wbuf); err != nil {
		return s.fail(err)
	}
	return nil
}

// sealFrame appends plaintext's frame to dst and advances the write
// counter. The caller holds wmu.
func (s *Socket) sealFrame(dst, plaintext []byte) ([]byte, error) {
	if s.writeN > math.MaxUint32 {
		return dst, fmt.Errorf("%w: writing", ErrCounterExhausted)
	}
	n := len(plaintext) + tagLen
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n))
	binary.BigEndian.PutUint32(s.writeIV[8:], uint32(s.writeN))
	s.writeN++
	return s.writeKey.Seal(dst, s.writeIV[:], plaintext, nil), nil
}

// Close closes the connection. Later calls return ErrClosed, or the fatal
// error that came first.
func (s *Socket) Close() error {
	s.setErr(ErrClosed)
	return s.closeConn()
}

// HandshakeHash is the final handshake hash h, equal on both ends of a
// successful handshake; it can bind higher-level protocols to this
// session.
func (s *Socket) HandshakeHash() [32]byte { return s.hash }

// SetReadDeadline sets the deadline for ReadFrame; see net.Conn.
func (s *Socket) SetReadDeadline(t time.Time) error { return s.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for WriteFrame; see net.Conn. A
// write that times out is fatal.
func (s *Socket) SetWriteDeadline(t time.Time) error { return s.conn.SetWriteDeadline(t) }

// LocalAddr returns the connection's local address.
func (s *Socket) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// RemoteAddr returns the connection's remote address.
func (s *Socket) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

func (s *Socket) failed() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// setErr records err unless an error came first, and returns the one
// that stands.
func (s *Socket) setErr(err error) error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	if s.err == nil {
		s.err = err
	}
	return s.err
}

// fail makes err fatal and closes the connection, which also unblocks a
// ReadFrame or WriteFrame in progress on another goroutine.
func (s *Socket) fail(err error) error {
	err = s.setErr(err)
	s.closeConn()
	return err
}

func (s *Socket) closeConn() error {
	s.closeOnce.Do(func() { s.closeErr = s.conn.Close() })
	return s.closeErr
}
