package waent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

var mediaNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// mediaClient is a Client (never started: media needs no connection)
// over st and blobs (nil: the Client's default).
func mediaClient(t *testing.T, st store.Store, blobs store.MediaStore) *waent.Client {
	t.Helper()
	c, err := waent.New(waent.Config{Store: st, Media: blobs, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return mediaNow }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantMediaError fails unless err is a *waent.Error with code whose
// details contain details.
func wantMediaError(t *testing.T, what string, err error, code int, details string) *waent.Error {
	t.Helper()
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != code || !strings.Contains(we.Details, details) {
		t.Fatalf("%s: got %v, want code %d with %q", what, err, code, details)
	}
	return we
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUploadMediaRoundTrip(t *testing.T) {
	st := memstore.New()
	c := mediaClient(t, st, nil) // the default in-memory media store
	ctx := t.Context()
	data := bytes.Repeat([]byte("\xff\xd8jpeg"), 10_000)
	id, err := c.UploadMedia(ctx, "Image/JPEG", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV4.MatchString(id) {
		t.Errorf("id %q is not a UUID", id)
	}
	sum := sha256.Sum256(data)
	want := store.Media{ID: id, Origin: store.MediaUploaded, MimeType: "image/jpeg", Size: int64(len(data)),
		SHA256: sum[:], CreatedAt: mediaNow, LastUsedAt: mediaNow}
	got, err := st.GetMedia(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Origin != want.Origin || got.MimeType != want.MimeType || got.Size != want.Size ||
		!bytes.Equal(got.SHA256, want.SHA256) || !got.CreatedAt.Equal(mediaNow) || !got.LastUsedAt.Equal(mediaNow) {
		t.Fatalf("metadata %+v, want %+v", got, want)
	}
	m, rc, err := c.OpenMedia(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(back, data) || m.MimeType != "image/jpeg" || m.Size != int64(len(data)) {
		t.Fatalf("OpenMedia: %+v, %d bytes, %v", m, len(back), err)
	}
	// Parameters survive, canonically written.
	id2, err := c.UploadMedia(ctx, "audio/ogg;  Codecs=opus", strings.NewReader("OggS"))
	if err != nil {
		t.Fatal(err)
	}
	if id2 == id {
		t.Fatal("two uploads got one id")
	}
	if m, _ := st.GetMedia(ctx, id2); m.MimeType != "audio/ogg; codecs=opus" {
		t.Errorf("stored MIME type %q", m.MimeType)
	}
}

// zeros yields zero bytes forever.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// sinkMedia is a MediaStore that reads everything and keeps nothing, so
// the 100 MB limit can be tested without holding 100 MB; err, when set,
// is what Put fails with after reading.
type sinkMedia struct {
	err  error
	puts int
}

func (s *sinkMedia) Put(ctx context.Context, id string, r io.Reader) (int64, error) {
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return 0, err
	}
	if s.err != nil {
		return 0, s.err
	}
	s.puts++
	return n, nil
}

func (s *sinkMedia) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	return nil, store.NotFoundf("sink")
}

func (s *sinkMedia) Delete(ctx context.Context, id string) error { return nil }

func TestUploadMediaLimit(t *testing.T) {
	sink := &sinkMedia{}
	c := mediaClient(t, memstore.New(), sink)
	id, err := c.UploadMedia(t.Context(), "application/pdf", io.LimitReader(zeros{}, waent.MaxMediaBytes))
	if err != nil || id == "" {
		t.Fatalf("upload of exactly 100 MB: %q, %v", id, err)
	}
	_, err = c.UploadMedia(t.Context(), "application/pdf", io.LimitReader(zeros{}, waent.MaxMediaBytes+1))
	we := wantMediaError(t, "101st MB", err, waent.CodeInvalidParameter, "Request content exceeds size of 100 MB")
	if we.HTTPStatus() != 400 {
		t.Errorf("status %d", we.HTTPStatus())
	}
	if sink.puts != 1 {
		t.Errorf("%d puts succeeded, want 1", sink.puts)
	}
}

// failingMeta is a Store whose CreateMedia fails.
type failingMeta struct{ store.Store }

func (failingMeta) CreateMedia(context.Context, store.Media) error { return errors.New("disk full") }

func TestUploadMediaErrors(t *testing.T) {
	boom := errors.New("connection reset")
	for _, tc := range []struct {
		name     string
		mime     string
		body     io.Reader
		storeErr error
		code     int
		details  string
		cause    error
	}{
		{name: "no content type", mime: " ", body: strings.NewReader("x"), code: 1008, details: "Content-Type missing"},
		{name: "malformed content type", mime: "image/", body: strings.NewReader("x"), code: 1009, details: "Invalid Content-Type"},
		{name: "content type without subtype", mime: "image", body: strings.NewReader("x"), code: 1009, details: "Invalid Content-Type"},
		{name: "overlong content type", mime: "application/" + strings.Repeat("x", 300), body: strings.NewReader("x"), code: 1009, details: "Invalid Content-Type"},
		{name: "empty body", mime: "image/png", body: strings.NewReader(""), code: 1008, details: "Request had no (empty) content"},
		{name: "reader fails at once", mime: "image/png", body: iotestErr{boom}, code: 1025, details: "Unable to read the media", cause: boom},
		{name: "reader fails midway", mime: "image/png", body: io.MultiReader(bytes.NewReader(make([]byte, 100_000)), iotestErr{boom}),
			code: 1025, details: "Unable to read the media", cause: boom},
		{name: "id clash", mime: "image/png", body: strings.NewReader("x"), storeErr: store.Conflictf("exists"), code: 1004, details: "already exists"},
		{name: "not writable", mime: "image/png", body: strings.NewReader("x"), storeErr: fs.ErrPermission, code: 1005, details: "not writable"},
		{name: "store broken", mime: "image/png", body: strings.NewReader("x"), storeErr: errors.New("io error"), code: 1014},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var blobs store.MediaStore = memstore.NewMedia()
			if tc.storeErr != nil {
				blobs = &sinkMedia{err: tc.storeErr}
			}
			c := mediaClient(t, memstore.New(), blobs)
			_, err := c.UploadMedia(t.Context(), tc.mime, tc.body)
			wantMediaError(t, "upload", err, tc.code, tc.details)
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Errorf("error %v does not wrap the reader's", err)
			}
			if b, ok := blobs.(*memstore.MediaBlobs); ok && b.Len() != 0 {
				t.Errorf("%d files left behind", b.Len())
			}
		})
	}

	t.Run("metadata fails", func(t *testing.T) {
		blobs := memstore.NewMedia()
		c := mediaClient(t, failingMeta{memstore.New()}, blobs)
		_, err := c.UploadMedia(t.Context(), "image/png", strings.NewReader("png"))
		wantMediaError(t, "upload", err, waent.CodeDatabase, "")
		if blobs.Len() != 0 {
			t.Errorf("bytes kept without metadata")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		blobs := memstore.NewMedia()
		c := mediaClient(t, memstore.New(), blobs)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := c.UploadMedia(ctx, "image/png", strings.NewReader("png")); !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if blobs.Len() != 0 {
			t.Errorf("bytes kept")
		}
	})
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

func TestOpenDeleteMedia(t *testing.T) {
	st := memstore.New()
	blobs := memstore.NewMedia()
	c := mediaClient(t, st, blobs)
	ctx := t.Context()
	_, _, err := c.OpenMedia(ctx, "nope")
	if we := wantMediaError(t, "open unknown", err, 1006, "File with id nope not found"); we.HTTPStatus() != 404 {
		t.Errorf("status %d", we.HTTPStatus())
	}
	wantMediaError(t, "delete unknown", c.DeleteMedia(ctx, "nope"), 1006, "File with id nope not found")

	id, err := c.UploadMedia(ctx, "video/mp4", strings.NewReader("mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMedia(ctx, id); err != nil {
		t.Fatal(err)
	}
	if blobs.Len() != 0 {
		t.Error("bytes kept after delete")
	}
	if _, err := st.GetMedia(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("metadata after delete: %v", err)
	}
	_, _, err = c.OpenMedia(ctx, id)
	wantMediaError(t, "open deleted", err, 1006, id)
	wantMediaError(t, "delete twice", c.DeleteMedia(ctx, id), 1006, id)

	// Bytes removed behind the Client's back: the record alone is not a
	// file, and deleting it still works.
	id, err = c.UploadMedia(ctx, "video/mp4", strings.NewReader("mp4"))
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.OpenMedia(ctx, id)
	wantMediaError(t, "open without bytes", err, 1006, id)
	if err := c.DeleteMedia(ctx, id); err != nil {
		t.Fatalf("delete without bytes: %v", err)
	}
	if _, err := st.GetMedia(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("metadata after delete: %v", err)
	}
}

func TestCheckMediaForType(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		kind, mime string
		size       int64
		details    string // "" when accepted
	}{
		{"image", "image/jpeg", 5 * mb, ""},
		{"image", "image/png", 1, ""},
		{"image", "image/jpeg", 5*mb + 1, "image messages take at most 5 MB"},
		{"image", "image/gif", 10, "Media type image/gif is not supported for image messages"},
		{"image", "image/webp", 10, "not supported for image"},
		{"audio", "audio/aac", 16 * mb, ""},
		{"audio", "audio/mp4", 1, ""},
		{"audio", "audio/amr", 1, ""},
		{"audio", "audio/mpeg", 1, ""},
		{"audio", "audio/ogg; codecs=opus", 1, ""},
		{"audio", "audio/ogg; codecs=OPUS", 1, ""},
		{"audio", "audio/ogg", 1, "Media type audio/ogg is not supported for audio messages"},
		{"audio", "audio/ogg; codecs=vorbis", 1, "not supported for audio"},
		{"audio", "audio/aac", 16*mb + 1, "audio messages take at most 16 MB"},
		{"audio", "video/mp4", 1, "not supported for audio"},
		{"video", "video/mp4", 16 * mb, ""},
		{"video", "video/3gpp", 1, ""},
		{"video", "video/mp4", 16*mb + 1, "video messages take at most 16 MB"},
		{"video", "video/quicktime", 1, "not supported for video"},
		{"sticker", "image/webp", 100 << 10, ""},
		{"sticker", "image/webp", 100<<10 + 1, "sticker messages take at most 100 KB"},
		{"sticker", "image/png", 1, "not supported for sticker"},
		{"document", "application/pdf", 100 * mb, ""},
		{"document", "application/x-anything", 1, ""},
		{"document", "image/jpeg", 1, ""},
		{"document", "application/pdf", 100*mb + 1, "document messages take at most 100 MB"},
		{"document", "not a mime/", 1, "invalid MIME type"},
		{"text", "text/plain", 1, "not a media type"},
	} {
		err := waent.CheckMediaForType(tc.kind, store.Media{ID: "m1", MimeType: tc.mime, Size: tc.size})
		if tc.details == "" {
			if err != nil {
				t.Errorf("%s %s %d: %v, want accepted", tc.kind, tc.mime, tc.size, err)
			}
			continue
		}
		var we *waent.Error
		if !errors.As(err, &we) || we.Code != 1009 || !strings.Contains(we.Details, tc.details) {
			t.Errorf("%s %s %d: %v, want 1009 with %q", tc.kind, tc.mime, tc.size, err, tc.details)
		}
	}
	// The table is a copy: changing it changes nothing.
	l := waent.MediaLimits()
	l[0].MaxBytes = 0
	if waent.MediaLimits()[0].MaxBytes == 0 {
		t.Error("MediaLimits shares its table")
	}
}
