package filemedia_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/filemedia"
	"github.com/waent/waent/store/storetest"
)

func newStore(t testing.TB, dir string) *filemedia.Store {
	t.Helper()
	s, err := filemedia.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunMediaStore(t, func(t *testing.T) store.MediaStore {
		return newStore(t, filepath.Join(t.TempDir(), "media"))
	})
}

// files lists every regular file under root, relative to it.
func files(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIDsStayInside stores hostile ids and checks every file landed inside
// the store's directory, nothing beside it.
func TestIDsStayInside(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "media")
	s := newStore(t, dir)
	ids := []string{"../escape", "../../outside", "a/b", "/abs", "..", ".", `..\win`, "x/../../y"}
	for _, id := range ids {
		if _, err := s.Put(t.Context(), id, strings.NewReader(id)); err != nil {
			t.Fatalf("Put %q: %v", id, err)
		}
	}
	if got := files(t, parent); len(got) != len(ids) {
		t.Fatalf("files under the parent: %q, want %d", got, len(ids))
	}
	for _, f := range files(t, parent) {
		if !strings.HasPrefix(f, "media"+string(filepath.Separator)) {
			t.Errorf("file %q outside the media directory", f)
		}
		// shard/name: exactly one level below the store's directory.
		if strings.Count(f, string(filepath.Separator)) != 2 {
			t.Errorf("file %q is not shard/name", f)
		}
	}
}

// TestPlainNames keeps UUIDs readable on disk and sharded.
func TestPlainNames(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	id := "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68"
	if _, err := s.Put(t.Context(), id, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	got := files(t, dir)
	if len(got) != 1 || filepath.Base(got[0]) != id || len(filepath.Dir(got[0])) != 2 {
		t.Fatalf("files %q, want <2-hex shard>/%s", got, id)
	}
}

// TestNoTempLeftovers checks the directory, not only the id, after the
// failed and cancelled Puts the conformance suite checks by id.
func TestNoTempLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	boom := errors.New("boom")
	if _, err := s.Put(t.Context(), "a", io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("Put: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "b", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put: %v", err)
	}
	if _, err := s.Put(t.Context(), "c", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "c", strings.NewReader("y")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Put existing: %v", err)
	}
	if got := files(t, dir); len(got) != 1 || filepath.Base(got[0]) != "c" {
		t.Fatalf("files %q, want only c", got)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestOpenIsFile(t *testing.T) {
	s := newStore(t, t.TempDir())
	if _, err := s.Put(t.Context(), "f", strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(t.Context(), "f")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, ok := rc.(*os.File); !ok {
		t.Fatalf("Open returned %T, want *os.File", rc)
	}
}

// TestStaleTemps: New removes what a crashed Put left a day ago, and
// leaves a fresh temporary file (another process's Put in progress).
func TestStaleTemps(t *testing.T) {
	dir := t.TempDir()
	s := newStore(t, dir)
	if _, err := s.Put(t.Context(), "keep", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Dir(filepath.Join(dir, files(t, dir)[0]))
	old := filepath.Join(shard, ".put-old")
	fresh := filepath.Join(shard, ".put-fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	newStore(t, dir)
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file: %v, want removed", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temp file: %v, want kept", err)
	}
	if _, err := os.Stat(filepath.Join(shard, "keep")); err != nil {
		t.Errorf("stored file: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := filemedia.New(""); err == nil {
		t.Error("New(\"\") succeeded")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := filemedia.New(f); err == nil {
		t.Error("New over a regular file succeeded")
	}
}

// BenchmarkFileMediaPut measures streaming throughput of Put (8 MB
// files, fsync included).
func BenchmarkFileMediaPut(b *testing.B) {
	s := newStore(b, b.TempDir())
	data := make([]byte, 8<<20)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("bench-%d", i)
		if _, err := s.Put(context.Background(), id, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}
