package waent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"mime"
	"slices"
	"strings"

	"github.com/waent/waent/store"
)

// MaxMediaBytes is the largest media upload On-Premises accepted (later
// releases; early ones said 64 MB).
const MaxMediaBytes = 100 << 20

// MediaLimit is what one message type accepts as media (onprem-api.md
// §3.5): the MIME types (nil: any valid one) and the size after
// processing.
type MediaLimit struct {
	Kind      string
	MimeTypes []string
	MaxBytes  int64
}

// MediaLimits returns the per-type limits that sends are checked against,
// a fresh copy on each call.
func MediaLimits() []MediaLimit {
	return []MediaLimit{
		{Kind: "audio", MimeTypes: []string{"audio/aac", "audio/mp4", "audio/amr", "audio/mpeg", "audio/ogg; codecs=opus"}, MaxBytes: 16 << 20},
		{Kind: "document", MaxBytes: 100 << 20},
		{Kind: "image", MimeTypes: []string{"image/jpeg", "image/png"}, MaxBytes: 5 << 20},
		{Kind: "sticker", MimeTypes: []string{"image/webp"}, MaxBytes: 100 << 10},
		{Kind: "video", MimeTypes: []string{"video/mp4", "video/3gpp"}, MaxBytes: 16 << 20},
	}
}

// sizeText renders a byte limit the way On-Premises worded them.
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// CheckMediaForType reports, as a 1009 error, whether the stored media m
// may be sent as a message of type kind: its MIME type must be one the
// type supports and its size within the type's limit. Uploads accept any
// MIME type up to MaxMediaBytes, so this is checked at send time, when
// the type is known.
func CheckMediaForType(kind string, m store.Media) error {
	i := slices.IndexFunc(MediaLimits(), func(l MediaLimit) bool { return l.Kind == kind })
	if i < 0 {
		return NewError(CodeInvalidParameter, fmt.Sprintf("Parameter 'type' is not a media type: %q", kind))
	}
	l := MediaLimits()[i]
	mt, params, err := mime.ParseMediaType(m.MimeType)
	if err != nil {
		return NewError(CodeInvalidParameter, fmt.Sprintf("Media %s has an invalid MIME type %q", m.ID, m.MimeType))
	}
	if l.MimeTypes != nil && !mimeAllowed(mt, params, l.MimeTypes) {
		return NewError(CodeInvalidParameter, fmt.Sprintf("Media type %s is not supported for %s messages; supported: %s",
			m.MimeType, kind, strings.Join(l.MimeTypes, ", ")))
	}
	if m.Size > l.MaxBytes {
		return NewError(CodeInvalidParameter, fmt.Sprintf("Media %s is %d bytes; %s messages take at most %s",
			m.ID, m.Size, kind, sizeText(l.MaxBytes)))
	}
	return nil
}

// mimeAllowed matches a parsed MIME type against a list in which an entry
// with parameters ("audio/ogg; codecs=opus") requires them and one
// without accepts any.
func mimeAllowed(mt string, params map[string]string, allowed []string) bool {
	for _, a := range allowed {
		amt, aparams, err := mime.ParseMediaType(a)
		if err != nil || amt != mt {
			continue
		}
		ok := true
		for k, v := range aparams {
			if !strings.EqualFold(params[k], v) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// media is where media bytes are kept: Config.Media, or an in-memory
// store created on first use when none was configured.
func (c *Client) media() store.MediaStore { return c.cfg.Media }

// newMediaID returns a random (version 4) UUID, the form of On-Premises
// media ids.
func newMediaID() (string, error) {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		return "", err
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), nil
}

// errTooLarge stops an upload past MaxMediaBytes before it is all stored.
var errTooLarge = errors.New("waent: media too large")

// uploadReader hashes and counts what passes, stops past the limit, and
// remembers an error of the caller's reader so it is not mistaken for a
// store failure.
type uploadReader struct {
	r       io.Reader
	h       hash.Hash
	n       int64
	max     int64
	readErr error
}

func (u *uploadReader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.h.Write(p[:n])
	u.n += int64(n)
	if u.n > u.max {
		return n, errTooLarge
	}
	if err != nil && err != io.EOF {
		u.readErr = err
	}
	return n, err
}

// UploadMedia stores the media r yields, of the given MIME type, and
// returns its new id (a UUID, as On-Premises). The bytes are streamed to
// the media store and hashed on the way; nothing is held whole. Errors:
// 1008 for no MIME type or no content, 1009 for an invalid MIME type or
// more than MaxMediaBytes, 1025 when r fails (the error of r is wrapped),
// 1005 when the media store is not writable. A failed upload leaves
// nothing stored.
func (c *Client) UploadMedia(ctx context.Context, mimeType string, r io.Reader) (string, error) {
	if strings.TrimSpace(mimeType) == "" {
		return "", NewError(CodeMissingParameter, "Content-Type missing")
	}
	mt, params, err := mime.ParseMediaType(mimeType)
	if err != nil || !strings.Contains(mt, "/") {
		return "", NewError(CodeInvalidParameter, fmt.Sprintf("Invalid Content-Type %q", mimeType))
	}
	canonical := mime.FormatMediaType(mt, params)
	if canonical == "" || len(canonical) > 255 {
		return "", NewError(CodeInvalidParameter, fmt.Sprintf("Invalid Content-Type %q", mimeType))
	}
	// One byte up front tells an empty body apart before a file is made.
	var first [1]byte
	n, err := io.ReadFull(r, first[:])
	if n == 0 {
		if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return "", NewError(CodeMissingParameter, "Request had no (empty) content")
		}
		return "", newError(CodeInvalidRequest, "Unable to read the media: "+err.Error(), err)
	}
	id, err := newMediaID()
	if err != nil {
		return "", newError(CodeInternal, "media id", err)
	}
	up := &uploadReader{r: io.MultiReader(strings.NewReader(string(first[:])), r), h: sha256.New(), max: MaxMediaBytes}
	blobs := c.media()
	size, err := blobs.Put(ctx, id, up)
	switch {
	case err == nil:
	case errors.Is(err, errTooLarge):
		return "", NewError(CodeInvalidParameter, "Request content exceeds size of "+sizeText(MaxMediaBytes))
	case up.readErr != nil && errors.Is(err, up.readErr):
		return "", newError(CodeInvalidRequest, "Unable to read the media: "+up.readErr.Error(), up.readErr)
	case ctx.Err() != nil:
		return "", ctx.Err()
	case errors.Is(err, store.ErrConflict):
		return "", newError(CodeResourceExists, "Media id "+id+" already exists", err)
	case errors.Is(err, fs.ErrPermission):
		return "", newError(CodeAccessDenied, "Media directory is not writable", err)
	default:
		return "", newError(CodeInternal, "store media", err)
	}
	now := c.now()
	m := store.Media{
		ID: id, Origin: store.MediaUploaded, MimeType: canonical, Size: size, SHA256: up.h.Sum(nil),
		CreatedAt: now, LastUsedAt: now,
	}
	if err := c.st.CreateMedia(ctx, m); err != nil {
		// The bytes without their record would be invisible to the media
		// GC forever; a cancelled ctx must not keep us from removing them.
		if derr := blobs.Delete(context.WithoutCancel(ctx), id); derr != nil {
			c.log.Warn("waent: media bytes left without metadata", "id", id, "err", derr)
		}
		if errors.Is(err, store.ErrConflict) {
			return "", newError(CodeResourceExists, "Media id "+id+" already exists", err)
		}
		return "", newError(CodeDatabase, "store media metadata", err)
	}
	return id, nil
}

func mediaNotFound(id string, cause error) *Error {
	return newError(CodeResourceNotFound, "File with id "+id+" not found", cause)
}

// OpenMedia returns the metadata and the bytes of a stored media file;
// the caller closes the reader. Unknown ids (and ids whose bytes are gone,
// say removed by hand from the media volume) are 404 / 1006.
func (c *Client) OpenMedia(ctx context.Context, id string) (store.Media, io.ReadCloser, error) {
	m, err := c.st.GetMedia(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return store.Media{}, nil, mediaNotFound(id, err)
	}
	if err != nil {
		return store.Media{}, nil, newError(CodeDatabase, "load media metadata", err)
	}
	rc, err := c.media().Open(ctx, id)
	if errors.Is(err, store.ErrNotFound) && m.Origin == store.MediaInbound {
		// A received file not downloaded yet (auto_download left its type
		// out, or the download is still running): fetch it now.
		if ferr := c.FetchMedia(ctx, id); ferr != nil {
			return store.Media{}, nil, ferr
		}
		rc, err = c.media().Open(ctx, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return store.Media{}, nil, mediaNotFound(id, err)
	}
	if err != nil {
		return store.Media{}, nil, newError(CodeInternal, "open media", err)
	}
	return m, rc, nil
}

// DeleteMedia removes a media file and its metadata; unknown ids are
// 404 / 1006. The bytes go first: if removing the metadata then fails,
// a retry finds the record and finishes, where the other order could
// strand bytes no record points to.
func (c *Client) DeleteMedia(ctx context.Context, id string) error {
	if _, err := c.st.GetMedia(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return mediaNotFound(id, err)
		}
		return newError(CodeDatabase, "load media metadata", err)
	}
	if err := c.media().Delete(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		if errors.Is(err, fs.ErrPermission) {
			return newError(CodeAccessDenied, "Media directory is not writable", err)
		}
		return newError(CodeInternal, "delete media", err)
	}
	if err := c.st.DeleteMedia(ctx, id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return mediaNotFound(id, err)
		}
		return newError(CodeDatabase, "delete media metadata", err)
	}
	return nil
}
