// Package filemedia is a store.MediaStore over a directory of the local
// filesystem: the default home of media bytes, under the data directory.
//
// Each id is one file. Files are spread over 256 subdirectories named by
// the first byte of the SHA-256 of the id, so that no directory grows to
// hundreds of thousands of entries on a busy number. Ids made only of
// lower-case letters, digits, '-', '_' and non-leading '.' (the UUIDs
// Client.UploadMedia hands out, for one) are used as file names as they
// are, which keeps the directory readable for an operator; any other id
// is encoded (base32, behind a '~' that no plain name contains), so an id
// can never name a path outside the directory, and two ids that differ
// only in case stay two files on a case-insensitive filesystem.
//
// Put streams into a temporary file in the target's own directory, syncs
// it and then links it into place, so a reader never sees a partial file,
// a crash or a cancelled Put leaves no file under the id, and an existing
// id is never replaced. Temporary files a crash left behind are removed
// by New once they are a day old.
package filemedia

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/waent/waent/store"
)

// tempPrefix starts the name of every file still being written; no stored
// id maps to a name starting with '.'.
const tempPrefix = ".put-"

// staleTemp is how old a temporary file must be before New deletes it:
// far longer than any Put takes, so a Put of another process sharing the
// directory is never pulled from under it.
const staleTemp = 24 * time.Hour

// copyBuffer is the size of the chunks Put writes: large enough that a
// 100 MB upload costs few system calls, small enough to be irrelevant to
// memory.
const copyBuffer = 256 << 10

// Store keeps media bytes in a directory. It is safe for concurrent use,
// also by several processes sharing the directory.
type Store struct {
	dir string
}

var _ store.MediaStore = (*Store)(nil)

// New returns a Store over dir, creating it (mode 0700: media is private
// to the business) if needed.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("filemedia: empty directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("filemedia: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("filemedia: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("filemedia: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("filemedia: %s is not a directory", abs)
	}
	s := &Store{dir: abs}
	s.removeStaleTemps(time.Now().Add(-staleTemp))
	return s, nil
}

// Dir is the directory the Store keeps its files in.
func (s *Store) Dir() string { return s.dir }

// removeStaleTemps deletes the temporary files of Puts that a crash
// interrupted. It is best effort: a file it cannot remove costs only
// disk space.
func (s *Store) removeStaleTemps(before time.Time) {
	shards, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, sh := range shards {
		if !sh.IsDir() || len(sh.Name()) != 2 {
			continue
		}
		dir := filepath.Join(s.dir, sh.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, f := range files {
			if !strings.HasPrefix(f.Name(), tempPrefix) {
				continue
			}
			if info, err := f.Info(); err == nil && info.ModTime().Before(before) {
				_ = os.Remove(filepath.Join(dir, f.Name()))
			}
		}
	}
}

// fileName is the name id is kept under, and the shard directory it is
// in. It rejects only ids no store accepts.
func fileName(id string) (shard, name string, err error) {
	if id == "" || len(id) > store.MaxIDLen {
		return "", "", store.Invalidf("media: id must be 1..%d bytes", store.MaxIDLen)
	}
	sum := sha256.Sum256([]byte(id))
	shard = hex.EncodeToString(sum[:1])
	if plainName(id) {
		return shard, id, nil
	}
	// 128 bytes encode to 205 characters: within every filesystem's
	// 255-byte name limit.
	enc := strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(id)))
	return shard, "~" + enc, nil
}

// plainName reports whether id can be a file name as it is on every
// filesystem: no separators, no case to fold, nothing hidden or special
// ("." and "..").
func plainName(id string) bool {
	if id[0] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// path is where id is kept.
func (s *Store) path(id string) (dir, file string, err error) {
	shard, name, err := fileName(id)
	if err != nil {
		return "", "", err
	}
	dir = filepath.Join(s.dir, shard)
	return dir, filepath.Join(dir, name), nil
}

// Put stores everything r yields under id. An existing id is
// store.ErrConflict, checked before reading (so a clash costs no copy)
// and again, atomically, when the file is linked into place. An error of
// r or of ctx is returned wrapped, and nothing is left behind.
func (s *Store) Put(ctx context.Context, id string, r io.Reader) (int64, error) {
	dir, final, err := s.path(id)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if _, err := os.Lstat(final); err == nil {
		return 0, store.Conflictf("media %s exists", id)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("filemedia: %w", err)
	}
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return 0, fmt.Errorf("filemedia: %w", err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	// Hiding the file's ReadFrom makes io.CopyBuffer use our buffer and
	// our ctx-checking reader rather than a 32 KB generic loop.
	n, err := io.CopyBuffer(struct{ io.Writer }{tmp}, &ctxReader{ctx: ctx, r: r}, make([]byte, copyBuffer))
	if err != nil {
		return 0, fmt.Errorf("filemedia: put %s: %w", id, err)
	}
	// A cancellation that arrived while the last chunk was written still
	// counts: the caller has stopped waiting for this file.
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("filemedia: put %s: %w", id, err)
	}
	if err := tmp.Sync(); err != nil {
		return 0, fmt.Errorf("filemedia: put %s: %w", id, err)
	}
	if err := tmp.Close(); err != nil {
		return 0, fmt.Errorf("filemedia: put %s: %w", id, err)
	}
	if err := publish(tmp.Name(), final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, store.Conflictf("media %s exists", id)
		}
		return 0, fmt.Errorf("filemedia: put %s: %w", id, err)
	}
	done = true
	_ = os.Remove(tmp.Name())
	syncDir(dir)
	return n, nil
}

// publish gives the finished temporary file its final name without ever
// replacing an existing file: a hard link fails on an existing name
// atomically, where a rename would silently overwrite. Filesystems
// without hard links fall back to a check and a rename, which two
// concurrent Puts of one id could race; ids are random, so that is a
// theoretical loss.
func publish(tmp, final string) error {
	err := os.Link(tmp, final)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(final); serr == nil {
		return fs.ErrExist
	}
	return os.Rename(tmp, final)
}

// syncDir makes the new directory entry durable. It is best effort:
// some platforms cannot sync a directory, and the data itself is already
// synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// Open returns the file of id (an *os.File, so that serving it over HTTP
// can use sendfile and ranges). It is store.ErrNotFound if absent.
func (s *Store) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	_, file, err := s.path(id)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, store.NotFoundf("media %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("filemedia: %w", err)
	}
	return f, nil
}

// Delete removes id; store.ErrNotFound if absent. Readers that opened the
// file before keep reading it (on Unix; Windows refuses the delete).
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, file, err := s.path(id)
	if err != nil {
		return err
	}
	err = os.Remove(file)
	if errors.Is(err, fs.ErrNotExist) {
		return store.NotFoundf("media %s", id)
	}
	if err != nil {
		return fmt.Errorf("filemedia: %w", err)
	}
	return nil
}

// ctxReader stops a copy when ctx ends, between chunks.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
