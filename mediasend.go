package waent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
)

// Sending media (protocol.md §5).
//
// Send resolves a media message's file before the message becomes
// durable: an "id" names a stored file, a "link" is downloaded (through
// the named media provider's credentials) and stored like an upload.
// The file is then checked against its message type's limits, encrypted
// and uploaded to the media CDN, unless its last upload is still fresh,
// and the resulting reference (content.MediaRef) is stored inside the
// message's payload. The outbox then only builds and writes the message,
// also after a restart, never touching the network for media.
//
// The trade-off is latency: Send of a new file takes as long as a
// download (for links) plus an encryption and an upload, seconds for a
// large file, where text sends return after one commit. In exchange an
// accepted id never fails later for media reasons (a dead link or an
// unknown id is the caller's synchronous error, as On-Premises validated
// them), no network I/O happens in any transaction, and a message
// replayed after a crash refers to exactly the blob it referred to
// before. Repeated sends of one file cost nothing once it is uploaded.

// mediaReuse is how long an upload is re-used. The CDN keeps a blob for
// 14 days; a day less leaves a recipient who is offline for a while the
// time to fetch it.
const mediaReuse = 13 * 24 * time.Hour

// Tunables of the media HTTP traffic. They are constants rather than
// Config fields because Config is not this file's to change; see the
// report.
const (
	linkTimeout      = 2 * time.Minute
	mediaConnTimeout = 20 * time.Second
	// cdnTimeout bounds one upload or download; files are at most 100 MB.
	cdnTimeout = 10 * time.Minute
)

// storedOutgoing is the payload of an outbound message: the request as
// accepted and, for media, the uploaded blob it refers to. Readers that
// decode the payload as a content.Outgoing ignore the extra field.
type storedOutgoing struct {
	content.Outgoing
	Media *content.MediaRef `json:"waent_media,omitempty"`
}

// outgoingMedia returns the media object of o and the kind whose limits
// and keys apply, or nil for messages without media.
func outgoingMedia(o *content.Outgoing) (*content.Media, string) {
	switch o.Kind() {
	case "image":
		return o.Image, "image"
	case "audio":
		return o.Audio, "audio"
	case "video":
		return o.Video, "video"
	case "document":
		return o.Document, "document"
	case "sticker":
		return o.Sticker, "sticker"
	case "interactive":
		if o.Interactive == nil || o.Interactive.Header == nil {
			return nil, ""
		}
		h := o.Interactive.Header
		switch h.Type {
		case "image":
			return h.Image, "image"
		case "video":
			return h.Video, "video"
		case "document":
			return h.Document, "document"
		}
	}
	return nil, ""
}

// prepareMedia makes sure o's media is stored and uploaded and returns
// the reference the wire message carries; nil when o has no media.
//
// Errors: an unknown id, a link that cannot be fetched, a provider that
// does not exist, or a file the type does not accept is 400 / 1009 (an
// invalid parameter of the request, as On-Premises reported a media
// message it could not send; 1006 is kept for the media endpoints); a
// failed upload is 1014 (a retry may succeed); no connection is 1011.
func (c *Client) prepareMedia(ctx context.Context, parts *chatParts, o *content.Outgoing) (ref *content.MediaRef, err error) {
	obj, kind := outgoingMedia(o)
	if obj == nil {
		return nil, nil
	}
	id := obj.ID
	if id == "" {
		if id, err = c.fetchLink(ctx, obj); err != nil {
			return nil, err
		}
		// A link's copy serves this message only: if the send fails, it
		// goes (otherwise media GC collects it once unused).
		defer func() {
			if err != nil {
				if derr := c.DeleteMedia(context.WithoutCancel(ctx), id); derr != nil {
					c.log.Warn("drop media fetched for a failed send", "id", id, "err", derr)
				}
			}
		}()
	}
	m, err := c.st.GetMedia(ctx, id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
		return nil, newError(CodeInvalidParameter, fmt.Sprintf("Parameter '%s.id': media %s not found", kind, id), err)
	}
	if err != nil {
		return nil, newError(CodeDatabase, "load media", err)
	}
	if err := CheckMediaForType(kind, m); err != nil {
		return nil, err
	}
	family, _ := crypto.MMSType(kind)
	now := c.now()
	if !m.UploadedAt.IsZero() && now.Sub(m.UploadedAt) < mediaReuse && len(m.MediaKey) == crypto.MediaKeyLen &&
		len(m.FileEncSHA256) == 32 && len(m.SHA256) == 32 && cdnFamily(m.DirectPath) == family {
		m.LastUsedAt = now
		if err := c.st.UpdateMedia(ctx, m); err != nil {
			return nil, newError(CodeDatabase, "update media", err)
		}
		return mediaRefOf(m), nil
	}
	if m, err = c.uploadToCDN(ctx, parts, m, kind); err != nil {
		return nil, err
	}
	return mediaRefOf(m), nil
}

func mediaRefOf(m store.Media) *content.MediaRef {
	path, _ := splitCDNPath(m.DirectPath)
	return &content.MediaRef{
		DirectPath: path, MimeType: m.MimeType,
		MediaKey: m.MediaKey, FileSHA256: m.SHA256, FileEncSHA256: m.FileEncSHA256,
		FileLength: uint64(m.Size), MediaKeyTimestamp: m.UploadedAt.Unix(),
	}
}

// A stored DirectPath is the CDN's direct path plus "#<family>", the key
// family (image, video, audio, document) it was encrypted under: the
// HKDF info differs per family, so an upload made for a document cannot
// serve an image. A fragment never reaches a server.
func splitCDNPath(stored string) (path, family string) {
	path, family, _ = strings.Cut(stored, "#")
	return path, family
}

func cdnFamily(stored string) string {
	_, f := splitCDNPath(stored)
	return f
}

// fetchLink downloads a media link, through the named provider's
// credentials if any, and stores it as an upload; it returns the new
// media id.
func (c *Client) fetchLink(ctx context.Context, obj *content.Media) (string, error) {
	u, err := url.Parse(obj.Link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'link' has invalid value '%s'", obj.Link), err)
	}
	var auth string
	if obj.Provider != nil && obj.Provider.Name != "" {
		providers, err := c.MediaProviders(ctx)
		if err != nil {
			return "", newError(CodeDatabase, "load media providers", err)
		}
		i := slices.IndexFunc(providers, func(p MediaProvider) bool { return p.Name == obj.Provider.Name })
		if i < 0 {
			return "", newError(CodeInvalidParameter, fmt.Sprintf("Media provider '%s' not found", obj.Provider.Name), nil)
		}
		auth = providers[i].Authorization()
	}
	ctx, cancel := context.WithTimeout(ctx, linkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'link' has invalid value '%s'", obj.Link), err)
	}
	if auth != "" {
		// Go drops Authorization on redirects to another host, so the
		// provider's credentials go only where they were meant to.
		req.Header.Set("Authorization", auth)
	}
	resp, err := c.mediaHTTP.Do(req)
	if err != nil {
		return "", newError(CodeInvalidParameter, "could not download the media from "+obj.Link, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", newError(CodeInvalidParameter, fmt.Sprintf("could not download the media from %s: HTTP %d", obj.Link, resp.StatusCode), nil)
	}
	// The server's type is trusted when it says something specific; a
	// generic one is replaced by what the bytes look like.
	body := io.Reader(resp.Body)
	mt := resp.Header.Get("Content-Type")
	if base, _, err := mime.ParseMediaType(mt); err != nil || base == "application/octet-stream" || base == "binary/octet-stream" {
		head := make([]byte, 512)
		n, _ := io.ReadFull(resp.Body, head)
		mt = http.DetectContentType(head[:n])
		body = io.MultiReader(bytes.NewReader(head[:n]), resp.Body)
	}
	id, err := c.UploadMedia(ctx, mt, body)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeInvalidRequest {
			return "", newError(CodeInvalidParameter, "could not download the media from "+obj.Link+": "+e.Details, err)
		}
		return "", err
	}
	return id, nil
}

// mediaConn is a media_conn reply: where to upload and download, and the
// upload token.
type mediaConn struct {
	auth  string
	hosts []string // base URLs, "https://host"
}

// fetchMediaConn returns the media hosts and auth, asking the chat server
// when the cached answer has passed the ttl it came with.
func (c *Client) fetchMediaConn(ctx context.Context, parts *chatParts) (mediaConn, error) {
	c.mediaConnMu.Lock()
	defer c.mediaConnMu.Unlock()
	if c.now().Before(c.mediaConnUntil) {
		return c.mediaConn, nil
	}
	mc, ttl, err := c.askMediaConn(ctx, parts)
	if err != nil {
		return mediaConn{}, err
	}
	c.mediaConn, c.mediaConnUntil = mc, c.now().Add(ttl)
	return mc, nil
}

// forgetMediaConn drops the cached hosts, after a host refused the auth.
func (c *Client) forgetMediaConn() {
	c.mediaConnMu.Lock()
	c.mediaConnUntil = time.Time{}
	c.mediaConnMu.Unlock()
}

// askMediaConn is the media_conn iq; the ttl is the shorter of the
// reply's ttl and auth_ttl, at most an hour (none given: no caching).
func (c *Client) askMediaConn(ctx context.Context, parts *chatParts) (mediaConn, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, mediaConnTimeout)
	defer cancel()
	reply, err := parts.conn.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:m", "type": "set", "to": wabin.ServerJID},
		Content: []wabin.Node{{Tag: "media_conn"}}})
	if err != nil {
		return mediaConn{}, 0, err
	}
	mc, ok := reply.Child("media_conn")
	if !ok {
		return mediaConn{}, 0, errors.New("media_conn reply without <media_conn>")
	}
	ttl := time.Hour
	for _, a := range []string{"ttl", "auth_ttl"} {
		secs, err := strconv.Atoi(mc.AttrString(a))
		if err != nil || secs <= 0 {
			if a == "ttl" {
				ttl = 0
			}
			continue
		}
		ttl = min(ttl, time.Duration(secs)*time.Second)
	}
	out := mediaConn{auth: mc.AttrString("auth")}
	for _, h := range mc.ChildrenByTag("host") {
		name := h.AttrString("hostname")
		if name == "" || strings.ContainsAny(name, "/?#@ ") {
			continue
		}
		scheme := "https"
		// Plain HTTP only for a loopback host (the simulated network):
		// a server cannot talk a deployment out of TLS.
		if h.AttrString("scheme") == "http" && loopbackHost(name) {
			scheme = "http"
		}
		out.hosts = append(out.hosts, scheme+"://"+name)
	}
	if out.auth == "" || len(out.hosts) == 0 {
		return mediaConn{}, 0, errors.New("media_conn reply without auth or hosts")
	}
	return out, ttl, nil
}

func loopbackHost(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// memoryBlobLimit is the largest file whose encrypted blob is held in
// memory for its upload: images (5 MB) and most audio and video (16 MB)
// are encrypted once; larger documents stream (see uploadToCDN).
const memoryBlobLimit = 16 << 20

// uploadToCDN encrypts the stored file m for kind, uploads it and records
// the upload in m. The upload URL names the blob's hash, known only once
// the whole file is encrypted. A file up to memoryBlobLimit is encrypted
// once into memory. A larger one is encrypted twice under one key, into
// nothing to learn the hash and then into the request body, which keeps
// memory constant and needs no temporary file at the price of a second
// encryption pass.
func (c *Client) uploadToCDN(ctx context.Context, parts *chatParts, m store.Media, kind string) (store.Media, error) {
	family, err := crypto.MMSType(kind)
	if err != nil {
		return m, newError(CodeInvalidParameter, "no media type "+kind, err)
	}
	blobs := c.media()
	open := func() (io.ReadCloser, error) {
		rc, err := blobs.Open(ctx, m.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, newError(CodeInvalidParameter, "the bytes of media "+m.ID+" are gone", err)
		}
		if err != nil {
			return nil, newError(CodeInternal, "open media", err)
		}
		return rc, nil
	}
	rc, err := open()
	if err != nil {
		return m, err
	}
	var inMemory *bytes.Buffer
	sink := io.Discard
	if m.Size <= memoryBlobLimit {
		inMemory = bytes.NewBuffer(make([]byte, 0, m.Size+32))
		sink = inMemory
	}
	em, err := crypto.EncryptMedia(sink, rc, kind)
	rc.Close()
	if err != nil {
		return m, newError(CodeInternal, "encrypt media", err)
	}
	if m.SHA256 != nil && !bytes.Equal(m.SHA256, em.FileSHA256) {
		return m, newError(CodeInternal, "media "+m.ID+" no longer matches its sha256", nil)
	}
	// body yields the blob once per upload attempt.
	body := func() (io.ReadCloser, error) {
		if inMemory != nil {
			return io.NopCloser(bytes.NewReader(inMemory.Bytes())), nil
		}
		rc, err := open()
		if err != nil {
			return nil, err
		}
		return newEncryptingReader(rc, family, em), nil
	}
	mc, err := c.fetchMediaConn(ctx, parts)
	if err != nil {
		return m, newError(CodeServiceNotReady, "media upload needs the connection: "+err.Error(), err)
	}
	token := base64.URLEncoding.EncodeToString(em.FileEncSHA256)
	ctx, cancel := context.WithTimeout(ctx, cdnTimeout)
	defer cancel()
	var lastErr error
	for _, host := range mc.hosts {
		up, err := postBlob(ctx, c.mediaHTTP, host, family, token, mc.auth, em.EncLength, body)
		if err == nil {
			now := c.now()
			m.MediaKey, m.FileEncSHA256, m.SHA256, m.Size = em.MediaKey, em.FileEncSHA256, em.FileSHA256, em.FileLength
			m.DirectPath = up + "#" + family
			m.UploadedAt, m.LastUsedAt = now, now
			if err := c.st.UpdateMedia(ctx, m); err != nil {
				return m, newError(CodeDatabase, "record media upload", err)
			}
			return m, nil
		}
		lastErr = err
		var e *Error
		if errors.As(err, &e) || ctx.Err() != nil {
			break
		}
	}
	c.forgetMediaConn() // the next attempt asks for fresh hosts and auth
	var e *Error
	if errors.As(lastErr, &e) {
		return m, e
	}
	if ctx.Err() != nil && errors.Is(lastErr, ctx.Err()) {
		return m, ctx.Err()
	}
	return m, newError(CodeInternal, "Media upload error: "+lastErr.Error(), lastErr)
}

// encryptingReader is the second encryption pass of a large file, read
// as a request body. Close stops the encryption and waits for it, so its
// goroutine never outlives the upload; err tells whether the file changed
// between the passes.
type encryptingReader struct {
	*io.PipeReader
	done chan struct{}
	err  error // set before done is closed
	once sync.Once
}

func newEncryptingReader(plain io.ReadCloser, family string, em crypto.EncryptedMedia) *encryptingReader {
	pr, pw := io.Pipe()
	e := &encryptingReader{PipeReader: pr, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		defer plain.Close()
		again, err := crypto.EncryptMediaWithKey(pw, plain, family, em.MediaKey)
		if err == nil && !bytes.Equal(again.FileEncSHA256, em.FileEncSHA256) {
			err = crypto.ErrMediaChanged
		}
		e.err = err
		pw.CloseWithError(err)
	}()
	return e
}

func (e *encryptingReader) Close() error {
	e.once.Do(func() { e.PipeReader.CloseWithError(errors.New("upload ended")) })
	<-e.done
	if errors.Is(e.err, crypto.ErrMediaChanged) {
		return e.err
	}
	return nil
}

// postBlob uploads the blob to one host and returns its direct path.
func postBlob(ctx context.Context, hc *http.Client, host, family, token, auth string, length int64, body func() (io.ReadCloser, error)) (string, error) {
	rc, err := body()
	if err != nil {
		return "", err
	}
	target := host + "/mms/" + family + "/" + token + "?auth=" + url.QueryEscape(auth) + "&token=" + url.QueryEscape(token)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, rc)
	if err != nil {
		rc.Close()
		return "", err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := hc.Do(req)
	// The transport closes the body too; closing again waits for a
	// streaming encryption to end and reports a file that changed.
	if cerr := rc.Close(); errors.Is(cerr, crypto.ErrMediaChanged) {
		if err == nil {
			resp.Body.Close()
		}
		return "", newError(CodeInternal, "media changed while uploading", cerr)
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("media upload: HTTP %d from %s", resp.StatusCode, host)
	}
	var r struct {
		URL        string `json:"url"`
		DirectPath string `json:"direct_path"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&r); err != nil {
		return "", fmt.Errorf("media upload: bad response: %w", err)
	}
	if !strings.HasPrefix(r.DirectPath, "/") || strings.Contains(r.DirectPath, "#") {
		return "", fmt.Errorf("media upload: bad direct path %q", r.DirectPath)
	}
	return r.DirectPath, nil
}

// mediaDownloadURL is where a blob is fetched from one host.
func mediaDownloadURL(host, directPath, family string, encSHA []byte) string {
	sep := "?"
	if strings.Contains(directPath, "?") {
		sep = "&"
	}
	return host + directPath + sep + "hash=" + url.QueryEscape(base64.URLEncoding.EncodeToString(encSHA)) +
		"&mms-type=" + url.QueryEscape(family) + "&__wa-mms="
}
