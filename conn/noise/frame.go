package noise

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// MaxFrameSize is the largest frame payload: the length prefix has three
// bytes.
const MaxFrameSize = 1<<24 - 1

// maxHandshakeFrame bounds the handshake messages and the edge routing
// prefix. They are a few hundred bytes; the bound keeps an unauthenticated
// peer from making us buffer megabytes before it has proved anything.
const maxHandshakeFrame = 64 << 10

// growStep is how much frame buffer is committed ahead of the bytes that
// have actually arrived, so a peer that announces a 16 MiB frame and then
// stalls costs us 64 KiB, not 16 MiB. keepBuffer is the largest buffer
// kept between frames.
const (
	growStep   = 64 << 10
	keepBuffer = 1 << 20
)

// frameReader reads length-prefixed frames. It keeps its progress across
// calls, so a read deadline that expires in the middle of a frame leaves
// the stream in step and the next call resumes where this one stopped.
type frameReader struct {
	r    *bufio.Reader
	hdr  [3]byte
	hdrN int
	want int // body length, or -1 while the header is incomplete
	buf  []byte
}

func newFrameReader(c net.Conn) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(c, 32<<10), want: -1}
}

// next returns the next frame's payload. The slice is valid until the
// next call. Frames longer than limit fail with ErrFrameTooLarge, which
// leaves the stream unusable: the body was not consumed.
func (fr *frameReader) next(limit int) ([]byte, error) {
	for fr.hdrN < len(fr.hdr) {
		m, err := fr.r.Read(fr.hdr[fr.hdrN:])
		fr.hdrN += m
		if fr.hdrN < len(fr.hdr) && err != nil {
			return nil, eofInFrame(err, fr.hdrN > 0)
		}
	}
	if fr.want < 0 {
		n := int(fr.hdr[0])<<16 | int(fr.hdr[1])<<8 | int(fr.hdr[2])
		if n > limit {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrFrameTooLarge, n, limit)
		}
		fr.want = n
		if cap(fr.buf) > keepBuffer {
			fr.buf = nil
		}
		fr.buf = fr.buf[:0]
	}
	for len(fr.buf) < fr.want {
		if len(fr.buf) == cap(fr.buf) {
			fr.grow()
		}
		m, err := fr.r.Read(fr.buf[len(fr.buf):min(cap(fr.buf), fr.want)])
		fr.buf = fr.buf[:len(fr.buf)+m]
		if len(fr.buf) < fr.want && err != nil {
			return nil, eofInFrame(err, true)
		}
	}
	fr.hdrN, fr.want = 0, -1
	return fr.buf, nil
}

func (fr *frameReader) grow() {
	size := min(fr.want, max(2*cap(fr.buf), growStep))
	b := make([]byte, len(fr.buf), size)
	copy(b, fr.buf)
	fr.buf = b
}

// readFull reads exactly len(p) bytes of the unframed connection intro.
func (fr *frameReader) readFull(p []byte) error {
	_, err := io.ReadFull(fr.r, p)
	return err
}

func eofInFrame(err error, partial bool) error {
	if partial && errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// appendFrame appends the 3-byte length of payload and payload to dst.
func appendFrame(dst, payload []byte) ([]byte, error) {
	n := len(payload)
	if n > MaxFrameSize {
		return dst, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	dst = append(dst, byte(n>>16), byte(n>>8), byte(n))
	return append(dst, payload...), nil
}
