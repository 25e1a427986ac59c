package waenttest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/waenttest"
)

// fakeClock is a network clock a test moves forward.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestUserSendsMediaToUser(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550101", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550102", waenttest.UserOptions{})
	photo := bytes.Repeat([]byte("JPEG"), 5000)
	if _, err := alice.SendMedia(ctx, bob.Phone(), "image", "image/jpeg", photo, "look"); err != nil {
		t.Fatal(err)
	}
	doc := []byte("%PDF-1.7 sixteen bytes!") // not block-aligned
	if _, err := alice.SendMediaMessage(ctx, bob.Phone(), waenttest.MediaMessage{Kind: "document", MimeType: "application/pdf", Data: doc, Caption: "invoice", Filename: "inv.pdf"}); err != nil {
		t.Fatal(err)
	}
	got := waitReceived(t, ctx, bob, 2)
	if got[0].MediaErr != nil || !bytes.Equal(got[0].Media, photo) {
		t.Fatalf("image: %d bytes, %v", len(got[0].Media), got[0].MediaErr)
	}
	if im := got[0].Message.GetImageMessage(); im.GetCaption() != "look" || im.GetMimetype() != "image/jpeg" {
		t.Fatalf("image message %v", im)
	}
	if got[1].MediaErr != nil || !bytes.Equal(got[1].Media, doc) {
		t.Fatalf("document: %q, %v", got[1].Media, got[1].MediaErr)
	}
	if dm := got[1].Message.GetDocumentMessage(); dm.GetFileName() != "inv.pdf" || dm.GetCaption() != "invoice" {
		t.Fatalf("document message %v", got[1].Message)
	}
	if n.MediaUploads() != 2 || n.MediaDownloads() != 2 {
		t.Fatalf("uploads %d downloads %d, want 2 and 2", n.MediaUploads(), n.MediaDownloads())
	}
}

func TestTamperedMediaIsRejectedByUser(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	alice := newUser(t, n, "16315550111", waenttest.UserOptions{})
	bob := newUser(t, n, "16315550112", waenttest.UserOptions{})
	m, direct, err := alice.UploadMedia(ctx, waenttest.MediaMessage{Kind: "video", MimeType: "video/mp4", Data: bytes.Repeat([]byte{9}, 4000)})
	if err != nil {
		t.Fatal(err)
	}
	if !n.TamperMedia(direct) {
		t.Fatal("blob not found")
	}
	// The CDN serves the corrupt blob under a hash it recomputed, so the
	// message's enc hash catches it first; with the enc hash stripped the
	// MAC must.
	if _, err := alice.Send(ctx, bob.Phone(), m); err != nil {
		t.Fatal(err)
	}
	got := waitReceived(t, ctx, bob, 1)
	if got[0].Media != nil || got[0].MediaErr == nil {
		t.Fatalf("tampered media accepted: %d bytes, %v", len(got[0].Media), got[0].MediaErr)
	}
	m.VideoMessage.FileEncSHA256 = nil
	if _, err := alice.Send(ctx, bob.Phone(), m); err != nil {
		t.Fatal(err)
	}
	got = waitReceived(t, ctx, bob, 2)
	if !errors.Is(got[1].MediaErr, crypto.ErrMediaMAC) {
		t.Fatalf("without enc hash: %v, want ErrMediaMAC", got[1].MediaErr)
	}
}

func TestMediaCDNProtocol(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	n, err := waenttest.NewNetwork(waenttest.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	c := newClient(t, n, "16315550121", true, nil)
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)
	ctx := testCtx(t)

	reply, err := c.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:m", "type": "set", "to": wabin.ServerJID},
		Content: []wabin.Node{{Tag: "media_conn"}}})
	if err != nil {
		t.Fatal(err)
	}
	mc, ok := reply.Child("media_conn")
	if !ok || mc.AttrString("auth") == "" || mc.AttrString("ttl") == "" {
		t.Fatalf("media_conn reply %s", reply)
	}
	host, ok := mc.Child("host")
	if !ok || host.AttrString("hostname") != n.MediaHost() {
		t.Fatalf("host %s, want %s", host, n.MediaHost())
	}
	auth := mc.AttrString("auth")
	if _, err := c.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:m", "type": "get", "to": wabin.ServerJID}}); err == nil {
		t.Fatal("a media_conn iq without <media_conn/> was answered")
	}

	var blob bytes.Buffer
	em, err := crypto.EncryptMedia(&blob, strings.NewReader("hello media"), "image")
	if err != nil {
		t.Fatal(err)
	}
	token := base64.URLEncoding.EncodeToString(em.FileEncSHA256)
	base := "http://" + n.MediaHost()
	post := func(auth, token string, body []byte) (*http.Response, error) {
		return http.Post(base+"/mms/image/"+token+"?auth="+auth+"&token="+token, "application/octet-stream", bytes.NewReader(body))
	}
	if resp, err := post("wrong", token, blob.Bytes()); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad auth: %v %v", resp, err)
	}
	other := sha256.Sum256([]byte("x"))
	if resp, err := post(auth, base64.URLEncoding.EncodeToString(other[:]), blob.Bytes()); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("hash mismatch: %v %v", resp, err)
	}
	resp, err := post(auth, token, blob.Bytes())
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %v %v", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n.MediaUploads() != 1 {
		t.Fatalf("uploads %d", n.MediaUploads())
	}
	var up struct {
		DirectPath string `json:"direct_path"`
	}
	if err := json.Unmarshal(body, &up); err != nil {
		t.Fatalf("response %s: %v", body, err)
	}
	direct := up.DirectPath
	if !strings.HasPrefix(direct, "/") || !strings.Contains(direct, "?") {
		t.Fatalf("direct path %q", direct)
	}
	get := func() int {
		r, err := http.Get(base + direct + "&hash=" + token + "&mms-type=image&__wa-mms=")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		got, _ := io.ReadAll(r.Body)
		if r.StatusCode == http.StatusOK && !bytes.Equal(got, blob.Bytes()) {
			t.Fatal("downloaded blob differs")
		}
		return r.StatusCode
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("download: %d", code)
	}
	clock.Advance(waenttest.MediaBlobTTL - time.Second)
	if code := get(); code != http.StatusOK {
		t.Fatalf("download just before expiry: %d", code)
	}
	clock.Advance(time.Second)
	if code := get(); code != http.StatusGone {
		t.Fatalf("download after 14 days: %d, want 410", code)
	}
}
