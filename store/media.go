package store

import (
	"context"
	"io"
	"time"
)

// MediaOrigin says how a media file came to be stored.
type MediaOrigin string

// Media origins.
const (
	MediaUploaded MediaOrigin = "upload"  // POST /v1/media or a link send
	MediaInbound  MediaOrigin = "inbound" // downloaded from a received message
)

// Media is the metadata of one stored media file; the bytes live in a
// MediaStore under the same id.
type Media struct {
	ID       string
	Origin   MediaOrigin
	MimeType string
	Size     int64
	SHA256   []byte
	Filename string
	// CreatedAt is when the file was stored; LastUsedAt is refreshed on
	// every send that references it (media GC removes files unused for 30
	// days).
	CreatedAt  time.Time
	LastUsedAt time.Time
	// The latest upload to the media CDN, re-used while fresh: the servers
	// keep an upload for 14 days. Zero UploadedAt means never uploaded.
	MediaKey      []byte
	FileEncSHA256 []byte
	DirectPath    string
	UploadedAt    time.Time
}

// Validate reports whether m can be stored.
func (m Media) Validate() error {
	if m.ID == "" || len(m.ID) > MaxIDLen {
		return Invalidf("media: id must be 1..%d bytes", MaxIDLen)
	}
	if m.Origin != MediaUploaded && m.Origin != MediaInbound {
		return Invalidf("media %s: unknown origin %q", m.ID, m.Origin)
	}
	if m.MimeType == "" || len(m.MimeType) > 255 {
		return Invalidf("media %s: mime type must be 1..255 bytes", m.ID)
	}
	if m.Size < 0 {
		return Invalidf("media %s: negative size", m.ID)
	}
	if m.SHA256 != nil && len(m.SHA256) != HashLen {
		return Invalidf("media %s: sha256 must be %d bytes", m.ID, HashLen)
	}
	if m.MediaKey != nil && len(m.MediaKey) != KeyLen {
		return Invalidf("media %s: media key must be %d bytes", m.ID, KeyLen)
	}
	if m.FileEncSHA256 != nil && len(m.FileEncSHA256) != HashLen {
		return Invalidf("media %s: enc sha256 must be %d bytes", m.ID, HashLen)
	}
	return nil
}

// MediaMetaStore keeps media metadata.
type MediaMetaStore interface {
	// CreateMedia inserts m; ErrConflict if the id exists.
	CreateMedia(ctx context.Context, m Media) error
	GetMedia(ctx context.Context, id string) (Media, error)
	// UpdateMedia replaces every field of an existing record but CreatedAt.
	UpdateMedia(ctx context.Context, m Media) error
	DeleteMedia(ctx context.Context, id string) error
	// UnusedMedia returns up to limit records last used before the given
	// time, least recently used first.
	UnusedMedia(ctx context.Context, usedBefore time.Time, limit int) ([]Media, error)
}

// MediaStore keeps media bytes by id. Implementations stream: a 100 MB file
// is never held in memory whole.
type MediaStore interface {
	// Put stores everything r yields under id, replacing nothing: an existing
	// id is ErrConflict. A failed or cancelled Put leaves no partial file.
	Put(ctx context.Context, id string, r io.Reader) (size int64, err error)
	// Open returns the bytes of id for reading; ErrNotFound if absent.
	Open(ctx context.Context, id string) (io.ReadCloser, error)
	// Delete removes id; ErrNotFound if absent.
	Delete(ctx context.Context, id string) error
}
