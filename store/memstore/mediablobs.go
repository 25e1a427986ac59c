package memstore

import (
	"bytes"
	"context"
	"io"
	"sync"

	"github.com/waent/waent/store"
)

// MediaBlobs is an in-memory store.MediaStore for tests, and the Client's
// default when no media store is configured. It holds every file whole, so
// it does not suit production media sizes; filemedia does.
type MediaBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

var _ store.MediaStore = (*MediaBlobs)(nil)

// NewMedia returns an empty MediaBlobs.
func NewMedia() *MediaBlobs { return &MediaBlobs{blobs: map[string][]byte{}} }

func checkMediaID(id string) error {
	if id == "" || len(id) > store.MaxIDLen {
		return store.Invalidf("media: id must be 1..%d bytes", store.MaxIDLen)
	}
	return nil
}

// Put copies everything r yields under id. A clash is found before
// reading, so it costs no copy, and again when storing, so two concurrent
// Puts of one id cannot both win.
func (b *MediaBlobs) Put(ctx context.Context, id string, r io.Reader) (int64, error) {
	if err := checkMediaID(id); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	_, exists := b.blobs[id]
	b.mu.Unlock()
	if exists {
		return 0, store.Conflictf("media %s exists", id)
	}
	var buf bytes.Buffer
	chunk := make([]byte, 32<<10)
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.blobs[id]; ok {
		return 0, store.Conflictf("media %s exists", id)
	}
	// The buffer is ours alone; it is never written again.
	b.blobs[id] = buf.Bytes()
	return int64(buf.Len()), nil
}

// Open returns a reader over the bytes of id. It also implements
// io.Seeker, as a file would, so HTTP serving can answer ranges.
func (b *MediaBlobs) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	if err := checkMediaID(id); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	data, ok := b.blobs[id]
	b.mu.Unlock()
	if !ok {
		return nil, store.NotFoundf("media %s", id)
	}
	// Stored slices are never modified, so readers can share them.
	return blobReader{bytes.NewReader(data)}, nil
}

// Delete removes id.
func (b *MediaBlobs) Delete(ctx context.Context, id string) error {
	if err := checkMediaID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.blobs[id]; !ok {
		return store.NotFoundf("media %s", id)
	}
	delete(b.blobs, id)
	return nil
}

// Len is the number of files stored, for tests that check what was left
// behind.
func (b *MediaBlobs) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.blobs)
}

type blobReader struct{ *bytes.Reader }

func (blobReader) Close() error { return nil }
