package waenttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/waproto/waE2E"
)

// The media CDN (protocol.md §5). Clients learn its host and an upload
// token from the media_conn iq, upload encrypted blobs with
// POST /mms/<type>/<token>?auth=…&token=… and download them by the direct
// path the upload returned. Like the real servers it keeps a blob for 14
// days (on the network's clock) and checks that an upload matches the
// hash its URL names.
//
// The real CDN is HTTPS on mmg.whatsapp.net; this one is plain HTTP on
// loopback, so the media_conn reply marks its host scheme="http" (our
// addition: real replies carry no scheme). waent honours it only for
// loopback hosts.
const (
	// MediaBlobTTL is how long the CDN keeps an upload.
	MediaBlobTTL = 14 * 24 * time.Hour
	// mediaConnTTL is the media_conn ttl the server announces, seconds.
	mediaConnTTL = 300
	// maxMediaUpload bounds an upload body: a 100 MB file, padding, MAC.
	maxMediaUpload = 100<<20 + 64
)

type mediaCDN struct {
	net  *Network
	web  *httptest.Server
	auth string

	mu        sync.Mutex
	blobs     map[string]*cdnBlob // by URL path
	uploads   int
	downloads int
	conns     int  // media_conn requests answered
	down      bool // SetMediaDown: every request fails with 503
}

type cdnBlob struct {
	data    []byte
	encHash []byte
	at      time.Time
}

func newMediaCDN(n *Network) *mediaCDN {
	m := &mediaCDN{net: n, blobs: map[string]*cdnBlob{}, auth: randomToken(24)}
	m.web = httptest.NewServer(http.HandlerFunc(m.serveHTTP))
	return m
}

func (m *mediaCDN) close() { m.web.Close() }

// host is the CDN's host:port.
func (m *mediaCDN) host() string { return strings.TrimPrefix(m.web.URL, "http://") }

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// handleMediaConn answers <iq xmlns="w:m" type="set"><media_conn/></iq>.
func (s *chatServer) handleMediaConn(n wabin.Node, typ string, result func(...wabin.Node), iqError func(int, string)) {
	if _, ok := n.Child("media_conn"); typ != "set" || !ok {
		iqError(400, "bad-request")
		return
	}
	m := s.net.media
	m.mu.Lock()
	m.conns++
	m.mu.Unlock()
	result(wabin.Node{Tag: "media_conn", Attrs: wabin.Attrs{
		"auth": m.auth, "ttl": strconv.Itoa(mediaConnTTL), "auth_ttl": "21600", "max_buckets": "12",
	}, Content: []wabin.Node{{Tag: "host", Attrs: wabin.Attrs{"hostname": m.host(), "scheme": "http"}}}})
}

func (m *mediaCDN) serveHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	down := m.down
	m.mu.Unlock()
	if down {
		http.Error(w, "media service unavailable", http.StatusServiceUnavailable)
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/mms/"):
		m.upload(w, r)
	case r.Method == http.MethodGet:
		m.download(w, r)
	default:
		http.Error(w, "not found", http.StatusNotFound)
	}
}

func (m *mediaCDN) upload(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/mms/"), "/")
	if len(parts) != 2 {
		http.Error(w, "bad path", http.StatusNotFound)
		return
	}
	switch parts[0] {
	case "image", "video", "audio", "document", "sticker", "ptt", "gif":
	default:
		http.Error(w, "unknown media type", http.StatusBadRequest)
		return
	}
	if r.URL.Query().Get("auth") != m.auth {
		http.Error(w, "bad auth", http.StatusUnauthorized)
		return
	}
	want, err := base64.URLEncoding.DecodeString(parts[1])
	if err != nil || len(want) != sha256.Size {
		http.Error(w, "bad token", http.StatusBadRequest)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if sum := sha256.Sum256(body); !bytes.Equal(sum[:], want) {
		http.Error(w, "hash mismatch", http.StatusBadRequest)
		return
	}
	id := hex.EncodeToString(want[:12]) + "_" + randomToken(6)
	path := "/v/t62.7118-24/" + id + ".enc"
	now := m.net.opts.Now()
	direct := path + "?ccb=11-4&oh=" + randomToken(12) + "&oe=" + strconv.FormatInt(now.Add(MediaBlobTTL).Unix(), 16)
	m.mu.Lock()
	m.blobs[path] = &cdnBlob{data: body, encHash: want, at: now}
	m.uploads++
	m.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"url": m.web.URL + direct, "direct_path": direct, "handle": id, "object_id": id,
	})
}

// readBody reads an upload into one allocation of its declared length
// (clients send Content-Length), so that the simulation's own copying does
// not dominate upload benchmarks.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, maxMediaUpload)
	if r.ContentLength <= 0 || r.ContentLength > maxMediaUpload {
		return io.ReadAll(body)
	}
	buf := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(body, buf); err != nil {
		return nil, err
	}
	if n, _ := body.Read(make([]byte, 1)); n > 0 {
		return nil, errors.New("body longer than its Content-Length")
	}
	return buf, nil
}

func (m *mediaCDN) download(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	b, ok := m.blobs[r.URL.Path]
	if ok && !m.net.opts.Now().Before(b.at.Add(MediaBlobTTL)) {
		delete(m.blobs, r.URL.Path)
		m.mu.Unlock()
		http.Error(w, "expired", http.StatusGone)
		return
	}
	if ok {
		m.downloads++
	}
	m.mu.Unlock()
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	// A hash in the query, as clients send it, must name this blob.
	if h := r.URL.Query().Get("hash"); h != "" {
		if got, err := base64.URLEncoding.DecodeString(h); err != nil || !bytes.Equal(got, b.encHash) {
			http.Error(w, "hash mismatch", http.StatusNotFound)
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b.data)
}

// MediaConnRequests counts the media_conn iqs the server answered.
func (n *Network) MediaConnRequests() int {
	n.media.mu.Lock()
	defer n.media.mu.Unlock()
	return n.media.conns
}

// MediaUploads counts the uploads the media CDN accepted.
func (n *Network) MediaUploads() int {
	n.media.mu.Lock()
	defer n.media.mu.Unlock()
	return n.media.uploads
}

// MediaDownloads counts the blobs the media CDN served.
func (n *Network) MediaDownloads() int {
	n.media.mu.Lock()
	defer n.media.mu.Unlock()
	return n.media.downloads
}

// SetMediaDown makes the media CDN answer every request with 503 (true)
// or serve again (false), for tests of retries.
func (n *Network) SetMediaDown(down bool) {
	n.media.mu.Lock()
	n.media.down = down
	n.media.mu.Unlock()
}

// MediaHost is the media CDN's host:port (plain HTTP).
func (n *Network) MediaHost() string { return n.media.host() }

// TamperMedia flips a bit in the last cipher block of the blob at
// directPath and updates the CDN's record of its hash, as a CDN that
// corrupts or swaps content would: downloads still match the hash the CDN
// knows, but not the MAC. It reports whether the blob exists.
func (n *Network) TamperMedia(directPath string) bool {
	p, _, _ := strings.Cut(directPath, "?")
	n.media.mu.Lock()
	defer n.media.mu.Unlock()
	b, ok := n.media.blobs[p]
	if !ok || len(b.data) <= crypto.MediaMACLen {
		return false
	}
	b.data = bytes.Clone(b.data)
	b.data[len(b.data)-crypto.MediaMACLen-1] ^= 1
	sum := sha256.Sum256(b.data)
	b.encHash = sum[:]
	return true
}

// MediaMessage is media a simulated user sends: Kind is image, video,
// audio, voice (a voice note), document or sticker.
type MediaMessage struct {
	Kind, MimeType    string
	Data              []byte
	Caption, Filename string
}

// SendMedia encrypts data, uploads it to the media CDN and sends it to to
// as an image, video, audio, voice, document or sticker message with
// caption (ignored where the kind has none). A document is named
// "file" unless SendMediaMessage gives a name.
func (u *User) SendMedia(ctx context.Context, to, kind, mime string, data []byte, caption string) (string, error) {
	return u.SendMediaMessage(ctx, to, MediaMessage{Kind: kind, MimeType: mime, Data: data, Caption: caption})
}

// SendMediaMessage is SendMedia with every field.
func (u *User) SendMediaMessage(ctx context.Context, to string, mm MediaMessage) (string, error) {
	m, _, err := u.UploadMedia(ctx, mm)
	if err != nil {
		return "", err
	}
	return u.Send(ctx, to, m)
}

// UploadMedia encrypts and uploads mm and returns the message that
// references it (not sent) and the upload's direct path.
func (u *User) UploadMedia(ctx context.Context, mm MediaMessage) (*waE2E.Message, string, error) {
	mms, err := crypto.MMSType(mm.Kind)
	if err != nil {
		return nil, "", err
	}
	var blob bytes.Buffer
	em, err := crypto.EncryptMedia(&blob, bytes.NewReader(mm.Data), mm.Kind)
	if err != nil {
		return nil, "", err
	}
	cdn := u.net.media
	token := base64.URLEncoding.EncodeToString(em.FileEncSHA256)
	target := cdn.web.URL + "/mms/" + mms + "/" + token + "?auth=" + url.QueryEscape(cdn.auth) + "&token=" + url.QueryEscape(token)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, &blob)
	if err != nil {
		return nil, "", err
	}
	resp, err := cdn.web.Client().Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("waenttest: upload media: %w", err)
	}
	defer resp.Body.Close()
	var up struct {
		URL        string `json:"url"`
		DirectPath string `json:"direct_path"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("waenttest: upload media: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&up); err != nil {
		return nil, "", fmt.Errorf("waenttest: upload media: %w", err)
	}
	ts := proto.Int64(u.net.opts.Now().Unix())
	length := proto.Uint64(uint64(em.FileLength))
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	m := &waE2E.Message{}
	switch mm.Kind {
	case "image":
		m.ImageMessage = &waE2E.ImageMessage{URL: &up.URL, DirectPath: &up.DirectPath, Mimetype: opt(mm.MimeType), Caption: opt(mm.Caption),
			MediaKey: em.MediaKey, FileSHA256: em.FileSHA256, FileEncSHA256: em.FileEncSHA256, FileLength: length, MediaKeyTimestamp: ts}
	case "video", "gif":
		m.VideoMessage = &waE2E.VideoMessage{URL: &up.URL, DirectPath: &up.DirectPath, Mimetype: opt(mm.MimeType), Caption: opt(mm.Caption),
			MediaKey: em.MediaKey, FileSHA256: em.FileSHA256, FileEncSHA256: em.FileEncSHA256, FileLength: length, MediaKeyTimestamp: ts,
			GifPlayback: proto.Bool(mm.Kind == "gif")}
	case "audio", "voice", "ptt":
		m.AudioMessage = &waE2E.AudioMessage{URL: &up.URL, DirectPath: &up.DirectPath, Mimetype: opt(mm.MimeType),
			MediaKey: em.MediaKey, FileSHA256: em.FileSHA256, FileEncSHA256: em.FileEncSHA256, FileLength: length, MediaKeyTimestamp: ts,
			PTT: proto.Bool(mm.Kind != "audio")}
	case "document":
		name := mm.Filename
		if name == "" {
			name = "file"
		}
		m.DocumentMessage = &waE2E.DocumentMessage{URL: &up.URL, DirectPath: &up.DirectPath, Mimetype: opt(mm.MimeType), Caption: opt(mm.Caption),
			Title: &name, FileName: &name,
			MediaKey: em.MediaKey, FileSHA256: em.FileSHA256, FileEncSHA256: em.FileEncSHA256, FileLength: length, MediaKeyTimestamp: ts}
	case "sticker":
		m.StickerMessage = &waE2E.StickerMessage{URL: &up.URL, DirectPath: &up.DirectPath, Mimetype: opt(mm.MimeType),
			MediaKey: em.MediaKey, FileSHA256: em.FileSHA256, FileEncSHA256: em.FileEncSHA256, FileLength: length, MediaKeyTimestamp: ts}
	}
	return m, up.DirectPath, nil
}

// mediaRef is what a received message says about its media.
type mediaRef struct {
	kind                           string
	directPath                     string
	key, fileSHA256, fileEncSHA256 []byte
	length                         uint64
}

// mediaOf finds the media of m, looking inside the wrappers phones use
// and into the header of interactive buttons.
func mediaOf(m *waE2E.Message) (mediaRef, bool) {
	for range 4 {
		switch {
		case m == nil:
			return mediaRef{}, false
		case m.DocumentWithCaptionMessage != nil:
			m = m.DocumentWithCaptionMessage.GetMessage()
			continue
		case m.EphemeralMessage != nil:
			m = m.EphemeralMessage.GetMessage()
			continue
		case m.ViewOnceMessage != nil:
			m = m.ViewOnceMessage.GetMessage()
			continue
		case m.ButtonsMessage != nil:
			// The media header of interactive buttons.
			b := m.ButtonsMessage
			m = &waE2E.Message{ImageMessage: b.ImageMessage, VideoMessage: b.VideoMessage, DocumentMessage: b.DocumentMessage}
			if b.ImageMessage == nil && b.VideoMessage == nil && b.DocumentMessage == nil {
				return mediaRef{}, false
			}
			continue
		case m.ImageMessage != nil:
			x := m.ImageMessage
			return mediaRef{"image", x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}, true
		case m.VideoMessage != nil:
			x := m.VideoMessage
			return mediaRef{"video", x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}, true
		case m.AudioMessage != nil:
			x := m.AudioMessage
			return mediaRef{"audio", x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}, true
		case m.DocumentMessage != nil:
			x := m.DocumentMessage
			return mediaRef{"document", x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}, true
		case m.StickerMessage != nil:
			x := m.StickerMessage
			return mediaRef{"sticker", x.GetDirectPath(), x.GetMediaKey(), x.GetFileSHA256(), x.GetFileEncSHA256(), x.GetFileLength()}, true
		}
		return mediaRef{}, false
	}
	return mediaRef{}, false
}

// fetchMedia downloads, verifies and decrypts the media of a received
// message, as a phone does on arrival. ok is false for messages without
// media.
func (u *User) fetchMedia(m *waE2E.Message) (data []byte, ok bool, err error) {
	ref, ok := mediaOf(m)
	if !ok {
		return nil, false, nil
	}
	if ref.directPath == "" || !strings.HasPrefix(ref.directPath, "/") {
		return nil, true, errors.New("waenttest: media without a direct path")
	}
	ctx, cancel := context.WithTimeout(u.ctx, 30*time.Second)
	defer cancel()
	cdn := u.net.media
	sep := "?"
	if strings.Contains(ref.directPath, "?") {
		sep = "&"
	}
	target := cdn.web.URL + ref.directPath + sep + "hash=" + url.QueryEscape(base64.URLEncoding.EncodeToString(ref.fileEncSHA256))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, true, err
	}
	resp, err := cdn.web.Client().Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, true, fmt.Errorf("waenttest: download media: HTTP %d", resp.StatusCode)
	}
	limit := int64(ref.length) + 64
	if limit > crypto.MaxMediaBlob {
		limit = crypto.MaxMediaBlob
	}
	blob, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, true, err
	}
	data, err = crypto.DecryptMedia(blob, crypto.MediaCheck{Kind: ref.kind, MediaKey: ref.key,
		FileSHA256: ref.fileSHA256, FileEncSHA256: ref.fileEncSHA256, MaxSize: limit})
	return data, true, err
}
