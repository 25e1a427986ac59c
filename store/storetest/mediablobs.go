package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/waent/waent/store"
)

// RunMediaStore is the conformance suite for store.MediaStore
// implementations. newStore must return a fresh, empty store and register
// its own cleanup; it is called once per case.
func RunMediaStore(t *testing.T, newStore func(t *testing.T) store.MediaStore) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s store.MediaStore)
	}{
		{"RoundTrip", testBlobRoundTrip},
		{"Conflict", testBlobConflict},
		{"NotFound", testBlobNotFound},
		{"InvalidIDs", testBlobInvalidIDs},
		{"PathLikeIDs", testBlobPathLikeIDs},
		{"CancelledPut", testBlobCancelledPut},
		{"FailingReader", testBlobFailingReader},
		{"ConcurrentPuts", testBlobConcurrentPuts},
		{"Large", testBlobLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

// readBlob returns the bytes of id, failing the test if it cannot.
func readBlob(t *testing.T, s store.MediaStore, id string) []byte {
	t.Helper()
	rc, err := s.Open(t.Context(), id)
	if err != nil {
		t.Fatalf("Open %q: %v", id, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", id, err)
	}
	return b
}

// putBlob stores b under id, failing the test if it cannot.
func putBlob(t *testing.T, s store.MediaStore, id string, b []byte) {
	t.Helper()
	n, err := s.Put(t.Context(), id, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("Put %q: %v", id, err)
	}
	if n != int64(len(b)) {
		t.Fatalf("Put %q: size %d, want %d", id, n, len(b))
	}
}

// wantAbsent fails the test unless id is not stored.
func wantAbsent(t *testing.T, s store.MediaStore, what, id string) {
	t.Helper()
	rc, err := s.Open(t.Context(), id)
	if err == nil {
		rc.Close()
		t.Fatalf("%s: Open %q succeeded, want ErrNotFound", what, id)
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: Open %q: %v, want ErrNotFound", what, id, err)
	}
}

func testBlobRoundTrip(t *testing.T, s store.MediaStore) {
	a := bytesOf(1, 100_000)
	putBlob(t, s, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68", a)
	putBlob(t, s, "empty", nil)
	if got := readBlob(t, s, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68"); !bytes.Equal(got, a) {
		t.Fatalf("round trip: got %d bytes, want the %d put", len(got), len(a))
	}
	if got := readBlob(t, s, "empty"); len(got) != 0 {
		t.Fatalf("empty file reads %d bytes", len(got))
	}
	// The store keeps its own copy: changing the caller's slice after Put
	// changes nothing stored.
	b := bytesOf(2, 1000)
	putBlob(t, s, "copied", b)
	want := bytes.Clone(b)
	b[0]++
	if got := readBlob(t, s, "copied"); !bytes.Equal(got, want) {
		t.Fatal("stored bytes changed with the caller's slice")
	}
	// Two readers of one file do not disturb each other.
	r1, err := s.Open(t.Context(), "copied")
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	half := make([]byte, 500)
	if _, err := io.ReadFull(r1, half); err != nil {
		t.Fatal(err)
	}
	if got := readBlob(t, s, "copied"); !bytes.Equal(got, want) {
		t.Fatal("a second reader saw different bytes")
	}
	rest, err := io.ReadAll(r1)
	if err != nil || !bytes.Equal(append(half, rest...), want) {
		t.Fatalf("first reader after the second: %v", err)
	}
	if err := s.Delete(t.Context(), "copied"); err != nil {
		t.Fatal(err)
	}
	wantAbsent(t, s, "after Delete", "copied")
	// Deleting one file leaves the others.
	if got := readBlob(t, s, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68"); !bytes.Equal(got, a) {
		t.Fatal("Delete of another id changed a file")
	}
}

func testBlobConflict(t *testing.T, s store.MediaStore) {
	first := bytesOf(3, 4096)
	putBlob(t, s, "dup", first)
	n, err := s.Put(t.Context(), "dup", bytes.NewReader(bytesOf(4, 10)))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second Put: %d, %v; want ErrConflict", n, err)
	}
	if got := readBlob(t, s, "dup"); !bytes.Equal(got, first) {
		t.Fatal("a refused Put replaced the file")
	}
	// Once deleted, the id is free again.
	if err := s.Delete(t.Context(), "dup"); err != nil {
		t.Fatal(err)
	}
	putBlob(t, s, "dup", bytesOf(5, 10))
}

func testBlobNotFound(t *testing.T, s store.MediaStore) {
	wantAbsent(t, s, "empty store", "nope")
	if err := s.Delete(t.Context(), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Delete unknown: %v, want ErrNotFound", err)
	}
	putBlob(t, s, "once", []byte("x"))
	if err := s.Delete(t.Context(), "once"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "once"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Delete: %v, want ErrNotFound", err)
	}
}

func testBlobInvalidIDs(t *testing.T, s store.MediaStore) {
	long := string(bytes.Repeat([]byte("a"), store.MaxIDLen+1))
	for _, id := range []string{"", long} {
		if _, err := s.Put(t.Context(), id, bytes.NewReader([]byte("x"))); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put id of %d bytes: %v, want ErrInvalid", len(id), err)
		}
	}
	// The longest valid id works.
	putBlob(t, s, long[:store.MaxIDLen], []byte("max"))
	if got := readBlob(t, s, long[:store.MaxIDLen]); string(got) != "max" {
		t.Fatalf("longest id reads %q", got)
	}
}

// testBlobPathLikeIDs stores ids that a naive filesystem store would turn
// into paths. Each must be refused as invalid or kept as a file of its
// own, distinct from every other id.
func testBlobPathLikeIDs(t *testing.T, s store.MediaStore) {
	ids := []string{
		"../escape", "../../etc/passwd", "a/b", "a\\b", "/abs", ".", "..", ".hidden",
		"ABC", "abc", "Abc", "a:b", "nul\x00byte", "con", "spaces here", "ünïcode", "~7c",
		"a/../b", "b",
	}
	stored := map[string][]byte{}
	for i, id := range ids {
		content := fmt.Appendf(nil, "content %d of %q", i, id)
		_, err := s.Put(t.Context(), id, bytes.NewReader(content))
		if errors.Is(err, store.ErrInvalid) {
			continue
		}
		if err != nil {
			t.Fatalf("Put %q: %v", id, err)
		}
		stored[id] = content
	}
	for id, want := range stored {
		if got := readBlob(t, s, id); !bytes.Equal(got, want) {
			t.Errorf("id %q reads %q, want %q", id, got, want)
		}
	}
	for id := range stored {
		if err := s.Delete(t.Context(), id); err != nil {
			t.Errorf("Delete %q: %v", id, err)
		}
	}
	for id := range stored {
		wantAbsent(t, s, "after deleting all", id)
	}
}

// cancellingReader yields n bytes, cancelling its context after the
// first chunk, then keeps yielding as if nothing happened.
type cancellingReader struct {
	cancel context.CancelFunc
	left   int
	reads  int
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	r.reads++
	if r.reads == 2 {
		r.cancel()
	}
	n := min(len(p), r.left, 1024)
	for i := range n {
		p[i] = byte(i)
	}
	r.left -= n
	return n, nil
}

func testBlobCancelledPut(t *testing.T, s store.MediaStore) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	n, err := s.Put(ctx, "cancelled", &cancellingReader{cancel: cancel, left: 1 << 20})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put cancelled midway: %d, %v; want context.Canceled", n, err)
	}
	wantAbsent(t, s, "after a cancelled Put", "cancelled")
	// Nothing half-written blocks the id.
	putBlob(t, s, "cancelled", []byte("second try"))

	// A context cancelled before the call stores nothing either.
	done, stop := context.WithCancel(t.Context())
	stop()
	if _, err := s.Put(done, "never", bytes.NewReader([]byte("x"))); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a cancelled context: %v", err)
	}
	wantAbsent(t, s, "after a Put with a cancelled context", "never")
}

// failingReader yields n bytes and then an error.
type failingReader struct {
	left int
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, r.err
	}
	n := min(len(p), r.left)
	clear(p[:n])
	r.left -= n
	return n, nil
}

func testBlobFailingReader(t *testing.T, s store.MediaStore) {
	boom := errors.New("connection reset by the uploader")
	_, err := s.Put(t.Context(), "broken", &failingReader{left: 300_000, err: boom})
	if !errors.Is(err, boom) {
		t.Fatalf("Put from a failing reader: %v, want it to wrap the reader's error", err)
	}
	wantAbsent(t, s, "after a failed Put", "broken")
	putBlob(t, s, "broken", []byte("retried"))
	if got := readBlob(t, s, "broken"); string(got) != "retried" {
		t.Fatalf("retry reads %q", got)
	}
}

func testBlobConcurrentPuts(t *testing.T, s store.MediaStore) {
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = s.Put(context.Background(), "race", bytes.NewReader(bytesOf(byte(i), 200_000)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("writers %d and %d both stored the same id", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrConflict):
			t.Fatalf("writer %d: %v, want nil or ErrConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer stored the id")
	}
	if got := readBlob(t, s, "race"); !bytes.Equal(got, bytesOf(byte(winner), 200_000)) {
		t.Fatal("the stored file is not the winner's")
	}
}

// patternReader yields n deterministic bytes without holding them: a
// block of prime length repeated, so chunk boundaries of any power-of-two
// buffer fall at different places in the pattern.
type patternReader struct {
	off, n int64
	block  []byte
}

func newPatternReader(n int64) *patternReader {
	return &patternReader{n: n, block: bytesOf(9, 65521)}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n-r.off)]
	k := 0
	for k < len(p) {
		k += copy(p[k:], r.block[(r.off+int64(k))%int64(len(r.block)):])
	}
	r.off += int64(k)
	return k, nil
}

func testBlobLarge(t *testing.T, s store.MediaStore) {
	const size = 8 << 20 // hundreds of chunks of any sensible buffer
	want := sha256.New()
	_, _ = io.Copy(want, newPatternReader(size))
	n, err := s.Put(t.Context(), "large", newPatternReader(size))
	if err != nil || n != size {
		t.Fatalf("Put large: %d, %v", n, err)
	}
	rc, err := s.Open(t.Context(), "large")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.New()
	m, err := io.Copy(got, rc)
	if err != nil || m != size {
		t.Fatalf("read large: %d, %v", m, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("large file changed on the way")
	}
}
