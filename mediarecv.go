package waent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
	"github.com/waent/waent/waproto/waE2E"
)

// Receiving media (protocol.md §5).
//
// A received media message gets its media id and its store.Media row
// (Origin MediaInbound) in the transaction that stores the message, so
// the webhook names an id that exists the moment it is sent; no network
// is touched there. The row keeps what a later download needs: MediaKey,
// FileEncSHA256, SHA256 (of the plaintext), Size (the sender's
// fileLength) and DirectPath, the CDN path plus "#<key family>" as for
// uploads (mediasend.go). UploadedAt is the sender's media key timestamp,
// so forwarding the file by its id re-uses the sender's upload while it is
// fresh.
//
// "Downloaded" is represented by the bytes being in the MediaStore under
// the id: nothing else changes. Which ids still wait for a download is a
// list kept in the settings document "media_downloads", changed only
// inside the inbound group commit (ids are added in the transaction that
// stores their message and removed through a marker submitted to the same
// group once their download ended), so its single writer never meets a
// version conflict. The types named in media.auto_download are put on the
// list; others are not downloaded unless asked for (FetchMedia).
//
// After the commit each listed id is downloaded by a goroutine owned by
// the Client (c.bg, stopped by Close through c.ctx): media_conn for the
// hosts, GET, then verification and decryption streamed into the
// MediaStore, which keeps nothing unless the enc hash, the MAC and the
// plaintext hash all match. A transient failure is retried a few times
// with backoff and otherwise left listed; every list entry is tried again
// after each (re)connection, once the offline backlog is committed, which
// covers restarts. A download the CDN refuses for good (403/404/410) or
// that fails verification is dropped from the list and logged; the row
// stays, without bytes.

// docMediaDownloads names the settings document of pending downloads.
const docMediaDownloads = "media_downloads"

// maxPendingDownloads bounds that document. Past it (the CDN unreachable
// for a long time under heavy traffic) new media are not listed; they can
// still be fetched on demand.
const maxPendingDownloads = 10_000

// Download retry schedule within one attempt series; after it the id
// waits for the next connection.
const (
	downloadTries   = 5
	downloadBackoff = time.Second
)

type pendingDownloads struct {
	IDs []string `json:"ids"`
}

// errNotDownloadable marks a row a download cannot help: no key, no path.
var errNotDownloadable = errors.New("waent: media cannot be downloaded")

// inboundMediaRef is the media part of a received message.
type inboundMediaRef struct {
	family      string // key family: image, video, audio, document
	mime        string
	directPath  string
	key         []byte
	sha, encSHA []byte
	length      uint64
	keyTime     int64
	filename    string
}

// inboundMediaOf finds the media of a received message inside the
// wrappers content.FromProto unwraps too.
func inboundMediaOf(m *waE2E.Message) (inboundMediaRef, bool) {
	m, ok := content.Unwrap(m)
	if !ok || m == nil {
		return inboundMediaRef{}, false
	}
	switch {
	case m.ImageMessage != nil:
		x := m.ImageMessage
		return inboundMediaRef{"image", x.GetMimetype(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength(), x.GetMediaKeyTimestamp(), ""}, true
	case m.VideoMessage != nil:
		x := m.VideoMessage
		return inboundMediaRef{"video", x.GetMimetype(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength(), x.GetMediaKeyTimestamp(), ""}, true
	case m.AudioMessage != nil:
		x := m.AudioMessage
		return inboundMediaRef{"audio", x.GetMimetype(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength(), x.GetMediaKeyTimestamp(), ""}, true
	case m.DocumentMessage != nil:
		x := m.DocumentMessage
		return inboundMediaRef{"document", x.GetMimetype(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength(), x.GetMediaKeyTimestamp(), x.GetFileName()}, true
	case m.StickerMessage != nil:
		x := m.StickerMessage
		return inboundMediaRef{"image", x.GetMimetype(), x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength(), x.GetMediaKeyTimestamp(), ""}, true
	}
	return inboundMediaRef{}, false
}

// inMediaOf is the webhook media object of entry, if it has one.
func inMediaOf(entry *content.Inbound) *content.InMedia {
	for _, m := range []*content.InMedia{entry.Image, entry.Audio, entry.Voice, entry.Video, entry.Document, entry.Sticker} {
		if m != nil {
			return m
		}
	}
	return nil
}

// inboundMediaID derives the media id of a received message from its
// sender and id, so that a redelivered copy finds the row the first one
// made. It has the form of a UUID (version 8: derived, not random).
func inboundMediaID(from, msgID string) string {
	u := sha256.Sum256([]byte("waent inbound media\x00" + from + "\x00" + msgID))
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// recordInboundMedia runs in the inbound transaction: it gives entry's
// media its id and creates the row, and reports whether the id is to be
// downloaded automatically. Sender-controlled fields that the store would
// reject are dropped rather than failing the message.
func (c *Client) recordInboundMedia(ctx context.Context, tx store.Store, pm *waE2E.Message, entry *content.Inbound, m *inboundMsg, settings Settings) (download bool, err error) {
	im := inMediaOf(entry)
	if im == nil {
		return false, nil
	}
	ref, ok := inboundMediaOf(pm)
	if !ok {
		return false, nil
	}
	id := inboundMediaID(m.from, m.id)
	im.ID = id
	if _, err := tx.GetMedia(ctx, id); err == nil {
		return false, nil // a redelivery: recorded (and listed) the first time
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	now := c.now()
	row := store.Media{ID: id, Origin: store.MediaInbound, MimeType: ref.mime, CreatedAt: now, LastUsedAt: now}
	if row.MimeType == "" || len(row.MimeType) > 255 {
		row.MimeType = "application/octet-stream"
	}
	if ref.length <= crypto.MaxMediaBlob {
		row.Size = int64(ref.length)
	}
	if len(ref.sha) == sha256.Size {
		row.SHA256 = ref.sha
	}
	if len(ref.filename) <= 255 {
		row.Filename = ref.filename
	}
	downloadable := len(ref.key) == crypto.MediaKeyLen && len(ref.directPath) > 1 && ref.directPath[0] == '/' && len(ref.directPath) < 2048
	if downloadable {
		row.MediaKey = ref.key
		row.DirectPath = ref.directPath + "#" + ref.family
		if len(ref.encSHA) == sha256.Size {
			row.FileEncSHA256 = ref.encSHA
		}
		if ref.keyTime > 0 && row.FileEncSHA256 != nil && row.SHA256 != nil {
			// The sender says when it uploaded; never later than the
			// message, or a forward could re-use an expired blob.
			row.UploadedAt = time.Unix(ref.keyTime, 0)
			if row.UploadedAt.After(m.at) {
				row.UploadedAt = m.at
			}
		}
	}
	if err := tx.CreateMedia(ctx, row); err != nil {
		return false, err
	}
	return downloadable && slices.Contains(settings.Media.AutoDownload, entry.Type), nil
}

// updatePendingDownloads adds and removes ids of the pending list in tx.
// Only the inbound group commit calls it, one batch at a time.
func updatePendingDownloads(ctx context.Context, tx store.Store, add, remove []string, now time.Time) error {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	var d pendingDownloads
	doc, err := tx.GetSettings(ctx, docMediaDownloads)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(doc.Value, &d); err != nil {
			d = pendingDownloads{} // unreadable: start over rather than block every inbound message
		}
	}
	ids := slices.DeleteFunc(d.IDs, func(id string) bool { return slices.Contains(remove, id) })
	for _, id := range add {
		if len(ids) < maxPendingDownloads && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	b, err := json.Marshal(pendingDownloads{IDs: ids})
	if err != nil {
		return err
	}
	_, err = tx.PutSettings(ctx, docMediaDownloads, b, doc.Version, now)
	return err
}

// pendingDownloadIDs reads the pending list.
func (c *Client) pendingDownloadIDs(ctx context.Context) ([]string, error) {
	doc, err := c.st.GetSettings(ctx, docMediaDownloads)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d pendingDownloads
	if err := json.Unmarshal(doc.Value, &d); err != nil {
		return nil, err
	}
	return d.IDs, nil
}

// startMediaDownload downloads id in the background (after its message
// is committed).
func (c *Client) startMediaDownload(parts *chatParts, ids ...string) {
	if len(ids) == 0 || c.ctx.Err() != nil {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		for _, id := range ids {
			c.downloadWithRetry(parts, id)
		}
	}()
}

// resumeMediaDownloads retries every pending download; it runs after each
// (re)connection's offline backlog is committed.
func (c *Client) resumeMediaDownloads(parts *chatParts) {
	if c.ctx.Err() != nil {
		return
	}
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		ids, err := c.pendingDownloadIDs(c.ctx)
		if err != nil {
			c.log.Warn("media downloads: read the pending list", "err", err)
			return
		}
		for _, id := range ids {
			if c.ctx.Err() != nil {
				return
			}
			c.downloadWithRetry(parts, id)
		}
	}()
}

func (c *Client) downloadWithRetry(parts *chatParts, id string) {
	wait := downloadBackoff
	for try := 1; ; try++ {
		select {
		case c.mediaSlots <- struct{}{}:
		case <-c.ctx.Done():
			return
		}
		retry, err := c.fetchInboundMedia(c.ctx, parts, id)
		<-c.mediaSlots
		if err == nil || !retry {
			if err != nil {
				c.log.Warn("media download failed for good", "id", id, "err", err)
			}
			c.mediaDownloadDone(parts, id)
			return
		}
		if try >= downloadTries || c.ctx.Err() != nil {
			c.log.Info("media download postponed to the next connection", "id", id, "err", err)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait *= 2
	}
}

// mediaDownloadDone drops id from the pending list through the inbound
// group commit, the list's only writer. If the Client is closing the id
// stays listed, and the next start finds it downloaded.
func (c *Client) mediaDownloadDone(parts *chatParts, id string) {
	err := parts.inbound.SubmitAsync(c.ctx, &inboundMsg{marker: true, mediaDone: []string{id}}, func(err error) {
		if err != nil {
			c.log.Debug("media download: unlist", "id", id, "err", err)
		}
	})
	if err != nil {
		c.log.Debug("media download: unlist", "id", id, "err", err)
	}
}

// fetchInboundMedia downloads a received media file into the MediaStore
// unless it is there already. retry says whether a later attempt may
// succeed where this one failed.
func (c *Client) fetchInboundMedia(ctx context.Context, parts *chatParts, id string) (retry bool, err error) {
	m, err := c.st.GetMedia(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, err // deleted meanwhile
	}
	if err != nil {
		return true, err
	}
	blobs := c.media()
	if rc, err := blobs.Open(ctx, id); err == nil {
		rc.Close()
		return false, nil
	}
	path, family := splitCDNPath(m.DirectPath)
	if m.Origin != store.MediaInbound || len(m.MediaKey) != crypto.MediaKeyLen || path == "" {
		return false, errNotDownloadable
	}
	mms, err := crypto.MMSType(family)
	if err != nil {
		return false, errNotDownloadable
	}
	mc, err := c.fetchMediaConn(ctx, parts)
	if err != nil {
		return true, newError(CodeServiceNotReady, "media download needs the connection: "+err.Error(), err)
	}
	max := int64(crypto.MaxMediaBlob)
	if m.Size > 0 && m.Size+32 < max {
		// The sender's length plus at most a block of padding and the MAC.
		max = m.Size + 32
	}
	ctx, cancel := context.WithTimeout(ctx, cdnTimeout)
	defer cancel()
	var lastErr error
	for _, host := range mc.hosts {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, mediaDownloadURL(host, path, mms, m.FileEncSHA256), nil)
		if err != nil {
			return false, err
		}
		resp, err := c.mediaHTTP.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusForbidden, http.StatusNotFound, http.StatusGone:
			resp.Body.Close()
			return false, fmt.Errorf("media CDN answered HTTP %d", resp.StatusCode)
		default:
			resp.Body.Close()
			lastErr = fmt.Errorf("media CDN answered HTTP %d", resp.StatusCode)
			continue
		}
		dec, err := crypto.NewMediaDecrypter(io.LimitReader(resp.Body, max+1), crypto.MediaCheck{
			Kind: family, MediaKey: m.MediaKey, FileSHA256: m.SHA256, FileEncSHA256: m.FileEncSHA256, MaxSize: max,
		})
		if err != nil {
			resp.Body.Close()
			return false, err
		}
		_, err = blobs.Put(ctx, id, dec)
		resp.Body.Close()
		switch {
		case err == nil, errors.Is(err, store.ErrConflict):
			return false, nil // ours, or a concurrent attempt's
		case errors.Is(err, crypto.ErrMediaMAC), errors.Is(err, crypto.ErrMediaEncHash), errors.Is(err, crypto.ErrMediaHash),
			errors.Is(err, crypto.ErrMediaFormat), errors.Is(err, crypto.ErrMediaTooLarge):
			return false, err
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	c.forgetMediaConn() // the next attempt asks for fresh hosts and auth
	return true, lastErr
}

// FetchMedia downloads a received media file now, if it is not stored
// yet: for types media.auto_download leaves out, or to retry at once. It
// returns when the bytes are in the media store (then OpenMedia serves
// them) or the download failed. Errors: 1006 for an unknown id, 400
// "Media download error" when the file cannot be had (the CDN refused it,
// it failed verification, or it is not a received file), 1011 when not
// connected, 1014 for a transient failure.
func (c *Client) FetchMedia(ctx context.Context, id string) error {
	parts, err := c.parts()
	if err != nil {
		return err
	}
	retry, err := c.fetchInboundMedia(ctx, parts, id)
	switch {
	case err == nil:
		c.mediaDownloadDone(parts, id)
		return nil
	case errors.Is(err, store.ErrNotFound):
		return newError(CodeResourceNotFound, "File with id "+id+" not found", err)
	case !retry:
		c.mediaDownloadDone(parts, id)
		return newError(400, "media "+id+" cannot be downloaded", err)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	return newError(CodeInternal, "Media download error: "+err.Error(), err)
}

// newMediaHTTPClient is the client of media transfers: no overall
// timeout (a 100 MB file over a slow link takes long; the caller's
// context bounds it), but a bounded wait for the server to answer.
func newMediaHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 30 * time.Second
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t}
}
