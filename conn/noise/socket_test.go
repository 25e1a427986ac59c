package noise

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

func TestFrameSizes(t *testing.T) {
	p := newPKI(t)
	cs, ss, _ := mustHandshake(t, p.clientConfig(t), p.serverConfig())
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 15, 16, 17, 1000, 4096, 32<<10 - 1, 32 << 10, 64<<10 + 3, 1 << 20, 3<<20 + 7, MaxFrameSize - tagLen}
	for _, pair := range []struct {
		name string
		w, r *Socket
	}{{"client to server", cs, ss}, {"server to client", ss, cs}} {
		t.Run(pair.name, func(t *testing.T) {
			errc := make(chan error, 1)
			msgs := make([][]byte, len(sizes))
			for i, n := range sizes {
				msgs[i] = make([]byte, n)
				for j := range msgs[i] {
					msgs[i][j] = byte(rng.Uint32())
				}
			}
			go func() {
				for _, m := range msgs {
					if err := pair.w.WriteFrame(m); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i, want := range msgs {
				got, err := pair.r.ReadFrame()
				if err != nil {
					t.Fatalf("frame %d (%d bytes): %v", i, len(want), err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("frame %d (%d bytes) came back as %d different bytes", i, len(want), len(got))
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		})
	}
	// One byte more than fits is refused without harming the socket.
	if err := cs.WriteFrame(make([]byte, MaxFrameSize-tagLen+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversize write: %v", err)
	}
	if err := cs.WriteFrame([]byte("still fine")); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.ReadFrame(); err != nil || string(got) != "still fine" {
		t.Fatalf("after a refused write: %q, %v", got, err)
	}
}

// A flipped bit in a transport frame is fatal: ErrDecrypt, the connection
// closed, and every later call failing the same way.
func TestTamperedFrame(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	ctx := t.Context()
	done := make(chan serverOutcome, 1)
	go func() {
		s, res, err := Server(ctx, sc, p.serverConfig())
		done <- serverOutcome{s, res, err}
	}()
	cs, err := Client(ctx, cc, p.clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	so := <-done
	if so.err != nil {
		t.Fatal(so.err)
	}
	ss := so.sock
	defer ss.Close()

	// Encrypt a real frame with the client's keys, then corrupt it on the
	// raw connection.
	if err := cs.WriteFrame([]byte("genuine")); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.ReadFrame(); err != nil || string(got) != "genuine" {
		t.Fatalf("%q, %v", got, err)
	}
	frame := sealRaw(t, cs, []byte("tampered"))
	frame[5] ^= 0x01
	if _, err := cc.Write(frame); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.ReadFrame(); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("tampered frame: %v, want ErrDecrypt", err)
	}
	if _, err := ss.ReadFrame(); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("read after a decrypt failure: %v, want ErrDecrypt again", err)
	}
	if err := ss.WriteFrame([]byte("x")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("write after a decrypt failure: %v, want ErrDecrypt", err)
	}
	// The server closed the connection; the client sees it end.
	cs.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cs.ReadFrame(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("client after the server's failure: %v, want EOF", err)
	}
}

// A frame whose announced length is over the reader's limit is refused
// before its body is read, and the socket is dead afterwards.
func TestOversizeFrameRejected(t *testing.T) {
	p := newPKI(t)
	scfg := p.serverConfig()
	scfg.MaxFrame = 1000
	cs, ss, _ := mustHandshake(t, p.clientConfig(t), scfg)
	if err := cs.WriteFrame(make([]byte, 1000-tagLen)); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.ReadFrame(); err != nil {
		t.Fatalf("frame at the limit: %v", err)
	}
	if err := cs.WriteFrame(make([]byte, 1001-tagLen)); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("frame over the limit: %v, want ErrFrameTooLarge", err)
	}
	if _, err := ss.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("after: %v, want the same error", err)
	}
}

// A peer that announces a maximal frame and sends little of it makes the
// reader commit memory in proportion to what arrived, not to the claim.
func TestFrameReaderBoundedAllocation(t *testing.T) {
	cc, sc := tcpPair(t)
	fr := newFrameReader(sc)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		cc.Write([]byte{0xff, 0xff, 0xff})
		cc.Write(make([]byte, 1000))
		cc.Close()
	}()
	defer func() { <-wrote }()
	if _, err := fr.next(MaxFrameSize); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v", err)
	}
	if c := cap(fr.buf); c > growStep {
		t.Fatalf("reader committed %d bytes for 1000 received", c)
	}
}

func TestConcurrentWrites(t *testing.T) {
	p := newPKI(t)
	cs, ss, _ := mustHandshake(t, p.clientConfig(t), p.serverConfig())
	const writers, each = 8, 200
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Appendf(nil, "%d:%d:%s", w, i, bytes.Repeat([]byte{'x'}, (w*each+i)%3000))
				if err := cs.WriteFrame(msg); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	next := make([]int, writers)
	for range writers * each {
		got, err := ss.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		var w, i int
		if _, err := fmt.Sscanf(string(got), "%d:%d:", &w, &i); err != nil {
			t.Fatalf("garbled frame %q: %v", got[:min(len(got), 40)], err)
		}
		// Frames interleave across writers but each writer's stay in order.
		if i != next[w] {
			t.Fatalf("writer %d: frame %d arrived when %d was due", w, i, next[w])
		}
		next[w]++
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

// A read deadline that expires mid-frame is not fatal: the next read
// resumes the same frame.
func TestReadDeadlineResumes(t *testing.T) {
	p := newPKI(t)
	cc, sc := tcpPair(t)
	done := make(chan serverOutcome, 1)
	go func() {
		s, res, err := Server(t.Context(), sc, p.serverConfig())
		done <- serverOutcome{s, res, err}
	}()
	cs, err := Client(t.Context(), cc, p.clientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	so := <-done
	if so.err != nil {
		t.Fatal(so.err)
	}
	ss := so.sock
	defer ss.Close()
	defer cs.Close()

	// Nothing to read: a plain timeout.
	ss.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := ss.ReadFrame(); !isTimeout(err) {
		t.Fatalf("idle read: %v, want a timeout", err)
	}
	// Half a frame, then a timeout, then the rest.
	frame := sealRaw(t, cs, bytes.Repeat([]byte{'z'}, 100))
	if _, err := cc.Write(frame[:50]); err != nil {
		t.Fatal(err)
	}
	ss.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := ss.ReadFrame(); !isTimeout(err) {
		t.Fatalf("half frame: %v, want a timeout", err)
	}
	if _, err := cc.Write(frame[50:]); err != nil {
		t.Fatal(err)
	}
	ss.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := ss.ReadFrame()
	if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{'z'}, 100)) {
		t.Fatalf("resumed frame: %q, %v", got, err)
	}
	// And the stream is still in step.
	if err := cs.WriteFrame([]byte("next")); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.ReadFrame(); err != nil || string(got) != "next" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestCounterExhausted(t *testing.T) {
	p := newPKI(t)
	cs, ss, _ := mustHandshake(t, p.clientConfig(t), p.serverConfig())
	// Jump both ends to the last nonce: it is still usable, the next is
	// not.
	cs.writeN, ss.readN = math.MaxUint32, math.MaxUint32
	if err := cs.WriteFrame([]byte("last")); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.ReadFrame(); err != nil || string(got) != "last" {
		t.Fatalf("frame on the last nonce: %q, %v", got, err)
	}
	if err := cs.WriteFrame([]byte("one too many")); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("write past the last nonce: %v", err)
	}
	if err := cs.WriteFrame(nil); !errors.Is(err, ErrCounterExhausted) {
		t.Fatalf("the failure is sticky: %v", err)
	}
}

func TestClose(t *testing.T) {
	p := newPKI(t)
	cs, ss, _ := mustHandshake(t, p.clientConfig(t), p.serverConfig())

	// Close unblocks a reader waiting on another goroutine.
	readErr := make(chan error, 1)
	go func() {
		_, err := ss.ReadFrame()
		readErr <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := ss.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-readErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("blocked read after Close: %v, want ErrClosed", err)
	}
	if err := ss.WriteFrame([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if err := ss.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The peer sees a clean end of stream.
	if _, err := cs.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("peer after Close: %v, want EOF", err)
	}
	if _, err := cs.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("EOF is sticky: %v", err)
	}
}

// sealRaw makes the frame s would write for plaintext, for a test to put
// on the raw connection itself.
func sealRaw(t *testing.T, s *Socket, plaintext []byte) []byte {
	t.Helper()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	frame, err := s.sealFrame(nil, plaintext)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}
