package waent_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

// shiftedClock is real time plus an offset a test advances, shared by the
// network and the client so that both see the same days pass.
type shiftedClock struct{ off atomic.Int64 }

func (c *shiftedClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *shiftedClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// mediaSetup is a network on clock, a ready client and one user.
func mediaSetup(t *testing.T, clock *shiftedClock) (*waenttest.Network, *waent.Client, store.Store, *waenttest.User) {
	t.Helper()
	opts := waenttest.Options{}
	if clock != nil {
		opts.Now = clock.Now
	}
	net, err := waenttest.NewNetwork(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	st := memstore.New()
	cfg := testConfig(net, st)
	if clock != nil {
		cfg.Now = clock.Now
	}
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	register(t, net, c)
	waitFor(t, 20*time.Second, "client ready", c.Ready)
	u, err := net.NewUser("447700900123", waenttest.UserOptions{PushName: "Pat"})
	if err != nil {
		t.Fatal(err)
	}
	return net, c, st, u
}

func mediaCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// jpeg is a stand-in image: the bytes matter, not that they decode.
func jpeg(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i/256)
	}
	copy(b, "\xff\xd8\xff\xe0")
	return b
}

func TestSendMediaByIDReusesUploadForTwoWeeks(t *testing.T) {
	clock := &shiftedClock{}
	net, c, st, u := mediaSetup(t, clock)
	ctx := mediaCtx(t)
	photo := jpeg(300_000)
	id, err := c.UploadMedia(ctx, "image/jpeg", bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	send := func(caption string) {
		t.Helper()
		if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "image", Image: &content.Media{ID: id, Caption: caption}}); err != nil {
			t.Fatal(err)
		}
	}
	send("first")
	got := waitReceivedMedia(t, ctx, u, 1)
	if got[0].MediaErr != nil || !bytes.Equal(got[0].Media, photo) {
		t.Fatalf("user got %d bytes, %v; want the %d uploaded", len(got[0].Media), got[0].MediaErr, len(photo))
	}
	if im := got[0].Message.GetImageMessage(); im.GetCaption() != "first" || im.GetMimetype() != "image/jpeg" || im.GetFileLength() != uint64(len(photo)) {
		t.Fatalf("image message %v", im)
	}
	if n := net.MediaUploads(); n != 1 {
		t.Fatalf("%d uploads after the first send, want 1", n)
	}
	m1, err := st.GetMedia(ctx, id)
	if err != nil || m1.UploadedAt.IsZero() || len(m1.MediaKey) != 32 {
		t.Fatalf("upload not recorded: %+v %v", m1, err)
	}

	// A week later the upload is re-used.
	clock.Advance(7 * 24 * time.Hour)
	send("second")
	got = waitReceivedMedia(t, ctx, u, 2)
	if got[1].MediaErr != nil || !bytes.Equal(got[1].Media, photo) {
		t.Fatalf("second send: %d bytes, %v", len(got[1].Media), got[1].MediaErr)
	}
	if n := net.MediaUploads(); n != 1 {
		t.Fatalf("%d uploads after re-sending a fresh upload, want 1", n)
	}
	if m2, _ := st.GetMedia(ctx, id); !m2.LastUsedAt.After(m1.LastUsedAt) {
		t.Fatal("LastUsedAt not refreshed by the send")
	}

	// Past 14 days the CDN has dropped the blob: a new upload, a new key.
	clock.Advance(7*24*time.Hour + time.Hour)
	send("third")
	got = waitReceivedMedia(t, ctx, u, 3)
	if got[2].MediaErr != nil || !bytes.Equal(got[2].Media, photo) {
		t.Fatalf("third send: %d bytes, %v", len(got[2].Media), got[2].MediaErr)
	}
	if n := net.MediaUploads(); n != 2 {
		t.Fatalf("%d uploads after 14 days, want 2", n)
	}
	if bytes.Equal(got[2].Message.GetImageMessage().GetMediaKey(), got[0].Message.GetImageMessage().GetMediaKey()) {
		t.Fatal("the re-upload re-used the old media key")
	}
}

// waitReceivedMedia waits for n messages, then for none of them to lack
// media (the user downloads as it receives).
func waitReceivedMedia(t *testing.T, ctx context.Context, u *waenttest.User, n int) []waenttest.Received {
	t.Helper()
	got, err := u.WaitReceived(ctx, n)
	if err != nil {
		t.Fatalf("%d of %d messages: %v", len(got), n, err)
	}
	return got
}

func TestSendMediaErrors(t *testing.T) {
	_, c, _, u := mediaSetup(t, nil)
	ctx := mediaCtx(t)
	webp, err := c.UploadMedia(ctx, "image/webp", bytes.NewReader(jpeg(1000)))
	if err != nil {
		t.Fatal(err)
	}
	for name, msg := range map[string]*content.Outgoing{
		"unknown id":       {To: u.Phone(), Type: "image", Image: &content.Media{ID: "0b6e7f8a-1111-4222-8333-444455556666"}},
		"wrong mime":       {To: u.Phone(), Type: "image", Image: &content.Media{ID: webp}},
		"unknown provider": {To: u.Phone(), Type: "image", Image: &content.Media{Link: "http://127.0.0.1:1/x.jpg", Provider: &content.Provider{Name: "nope"}}},
		"dead link":        {To: u.Phone(), Type: "document", Document: &content.Media{Link: "http://127.0.0.1:1/x.pdf"}},
	} {
		_, err := c.Send(ctx, msg)
		var we *waent.Error
		if !errors.As(err, &we) || we.Code != waent.CodeInvalidParameter || we.HTTPStatus() != 400 {
			t.Errorf("%s: %v, want 400 / 1009", name, err)
		}
	}
	// An interactive message with an image header carries the upload.
	photo := jpeg(2000)
	img, err := c.UploadMedia(ctx, "image/png", bytes.NewReader(photo))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "interactive", Interactive: &content.Interactive{
		Type: "button", Header: &content.InteractiveHeader{Type: "image", Image: &content.Media{ID: img}},
		Body:   &content.InteractiveText{Text: "Pick one"},
		Action: &content.Action{Buttons: []content.ActionButton{{Type: "reply", Reply: &content.ButtonReply{ID: "y", Title: "Yes"}}}},
	}}); err != nil {
		t.Fatalf("interactive: %v", err)
	}
	got := waitReceivedMedia(t, ctx, u, 1)
	if got[0].Message.GetButtonsMessage().GetImageMessage() == nil || got[0].MediaErr != nil || !bytes.Equal(got[0].Media, photo) {
		t.Fatalf("interactive header arrived as %v with %d bytes, %v", got[0].Message, len(got[0].Media), got[0].MediaErr)
	}
	// A sticker may be that webp.
	if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "sticker", Sticker: &content.Media{ID: webp}}); err != nil {
		t.Fatalf("sticker: %v", err)
	}
	got = waitReceivedMedia(t, ctx, u, 2)
	if got[1].Message.GetStickerMessage() == nil || got[1].MediaErr != nil || len(got[1].Media) != 1000 {
		t.Fatalf("sticker arrived as %v with %d bytes, %v", got[1].Message, len(got[1].Media), got[1].MediaErr)
	}
}

func TestSendMediaLinkThroughBearerProvider(t *testing.T) {
	net, c, st, u := mediaSetup(t, nil)
	ctx := mediaCtx(t)
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte("report line\n"), 5000)...)
	var fetches atomic.Int32
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/pdf")
		w.Write(pdf)
	}))
	t.Cleanup(files.Close)
	if err := c.SetMediaProvider(ctx, waent.MediaProvider{Name: "files", Type: "www", Config: waent.MediaProviderConfig{Bearer: "s3cret"}}); err != nil {
		t.Fatal(err)
	}
	link := files.URL + "/reports/q3.pdf"
	// Without the provider the server refuses, and so does Send.
	_, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "document", Document: &content.Media{Link: link}})
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != waent.CodeInvalidParameter {
		t.Fatalf("link without provider: %v, want 1009", err)
	}
	id, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "document",
		Document: &content.Media{Link: link, Filename: "q3.pdf", Caption: "Q3", Provider: &content.Provider{Name: "files"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitReceivedMedia(t, ctx, u, 1)
	if got[0].MediaErr != nil || !bytes.Equal(got[0].Media, pdf) {
		t.Fatalf("document: %d bytes, %v", len(got[0].Media), got[0].MediaErr)
	}
	doc := got[0].Message.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage()
	if doc.GetFileName() != "q3.pdf" || doc.GetMimetype() != "application/pdf" || doc.GetCaption() != "Q3" {
		t.Fatalf("document message %v", got[0].Message)
	}
	if fetches.Load() != 1 || net.MediaUploads() != 1 {
		t.Fatalf("%d fetches, %d uploads; want 1 and 1", fetches.Load(), net.MediaUploads())
	}
	// The stored message carries the upload: the outbox needs no network
	// for media to rebuild it.
	rec, err := st.GetMessage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var stored struct {
		Media *content.MediaRef `json:"waent_media"`
	}
	if err := json.Unmarshal(rec.Payload, &stored); err != nil || stored.Media == nil || stored.Media.DirectPath == "" || len(stored.Media.MediaKey) != 32 {
		t.Fatalf("stored payload %s: %v", rec.Payload, err)
	}
}

// inboundMedia is the media object of the first inbound callback carrying
// one.
func inboundMediaCallback(t *testing.T, st store.Store, typ string) (content.InMedia, bool) {
	t.Helper()
	for _, p := range callbacksOf(t, st, waent.KindInbound) {
		var body struct {
			Messages []content.Inbound `json:"messages"`
		}
		if err := json.Unmarshal([]byte(p), &body); err != nil {
			t.Fatal(err)
		}
		for _, m := range body.Messages {
			var im *content.InMedia
			switch typ {
			case "document":
				im = m.Document
			case "image":
				im = m.Image
			}
			if m.Type == typ && im != nil {
				return *im, true
			}
		}
	}
	return content.InMedia{}, false
}

func openMedia(c *waent.Client, id string) ([]byte, error) {
	_, rc, err := c.OpenMedia(context.Background(), id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestReceiveMediaWebhookAndDownload(t *testing.T) {
	_, c, st, u := mediaSetup(t, nil)
	ctx := mediaCtx(t)
	doc := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte{0xAB}, 70_001)...)
	if _, err := u.SendMediaMessage(ctx, "1"+businessNumber, waenttest.MediaMessage{
		Kind: "document", MimeType: "application/pdf", Data: doc, Caption: "signed", Filename: "contract.pdf"}); err != nil {
		t.Fatal(err)
	}
	var im content.InMedia
	waitFor(t, 10*time.Second, "inbound document callback", func() bool {
		var ok bool
		im, ok = inboundMediaCallback(t, st, "document")
		return ok
	})
	sum := sha256.Sum256(doc)
	if im.ID == "" || im.MimeType != "application/pdf" || im.SHA256 != hex.EncodeToString(sum[:]) ||
		im.Filename != "contract.pdf" || im.Caption != "signed" {
		t.Fatalf("webhook media %+v, want id, application/pdf, sha256 %x, contract.pdf, signed", im, sum)
	}
	var data []byte
	waitFor(t, 10*time.Second, "media downloaded", func() bool {
		var err error
		data, err = openMedia(c, im.ID)
		return err == nil
	})
	if !bytes.Equal(data, doc) {
		t.Fatalf("OpenMedia gave %d bytes, want the %d sent", len(data), len(doc))
	}
	m, _, err := c.OpenMedia(ctx, im.ID)
	if err != nil || m.Origin != store.MediaInbound || !bytes.Equal(m.SHA256, sum[:]) || m.Size != int64(len(doc)) {
		t.Fatalf("media row %+v, %v", m, err)
	}
}

func TestReceiveMediaHonoursAutoDownloadAndRejectsTampering(t *testing.T) {
	net, c, st, u := mediaSetup(t, nil)
	ctx := mediaCtx(t)
	if _, err := c.UpdateSettings(ctx, func(s *waent.Settings) { s.Media.AutoDownload = []string{"document"} }); err != nil {
		t.Fatal(err)
	}
	// An image is not in auto_download: reported, not fetched.
	if _, err := u.SendMedia(ctx, "1"+businessNumber, "image", "image/jpeg", jpeg(5000), "pic"); err != nil {
		t.Fatal(err)
	}
	var img content.InMedia
	waitFor(t, 10*time.Second, "inbound image callback", func() bool {
		var ok bool
		img, ok = inboundMediaCallback(t, st, "image")
		return ok
	})
	// A document whose blob the CDN corrupted (with the enc hash left out
	// of the message, so that only the MAC can notice).
	msg, direct, err := u.UploadMedia(ctx, waenttest.MediaMessage{Kind: "document", MimeType: "application/pdf", Data: jpeg(9000), Filename: "x.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if !net.TamperMedia(direct) {
		t.Fatal("no blob to tamper with")
	}
	msg.DocumentMessage.FileEncSHA256 = nil
	before := net.MediaDownloads()
	if _, err := u.Send(ctx, "1"+businessNumber, msg); err != nil {
		t.Fatal(err)
	}
	var doc content.InMedia
	waitFor(t, 10*time.Second, "inbound document callback", func() bool {
		var ok bool
		doc, ok = inboundMediaCallback(t, st, "document")
		return ok
	})
	waitFor(t, 10*time.Second, "document fetched", func() bool { return net.MediaDownloads() > before })
	time.Sleep(200 * time.Millisecond) // let verification finish
	if n := net.MediaDownloads(); n != before+1 {
		t.Fatalf("%d downloads, want %d: the image must not be fetched and the bad document only once", n, before+1)
	}
	// Opening the tampered document fetches it again and fails; opening
	// the image fetches it on demand.
	if _, err := openMedia(c, doc.ID); err == nil {
		t.Fatal("the tampered document was stored")
	}
	if data, err := openMedia(c, img.ID); err != nil || len(data) != 5000 {
		t.Fatalf("image opened on demand: %d bytes, %v", len(data), err)
	}
	if n := net.MediaDownloads(); n != before+3 {
		t.Fatalf("%d downloads after opening both, want %d", n, before+3)
	}
	// Asked for, the document fails its MAC again and the image is there.
	err = c.FetchMedia(ctx, doc.ID)
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != 400 || !errors.Is(err, crypto.ErrMediaMAC) {
		t.Fatalf("FetchMedia of the tampered document: %v, want 400 wrapping the MAC mismatch", err)
	}
	if err := c.FetchMedia(ctx, img.ID); err != nil {
		t.Fatalf("FetchMedia of the image: %v", err)
	}
	if data, err := openMedia(c, img.ID); err != nil || len(data) != 5000 {
		t.Fatalf("image after FetchMedia: %d bytes, %v", len(data), err)
	}
	if err := c.FetchMedia(ctx, "0b6e7f8a-1111-4222-8333-444455556666"); !errors.As(err, &we) || we.Code != waent.CodeResourceNotFound {
		t.Fatalf("FetchMedia of an unknown id: %v, want 1006", err)
	}
}

func TestInboundMediaDownloadResumesAfterRestart(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	blobs := memstore.NewMedia()
	start := func() *waent.Client {
		t.Helper()
		cfg := testConfig(net, st)
		cfg.Media = blobs
		c, err := waent.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.WAID() == "" {
			register(t, net, c)
		}
		waitFor(t, 20*time.Second, "client ready", c.Ready)
		return c
	}
	c := start()
	ctx := mediaCtx(t)
	u, err := net.NewUser("447700900124", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The CDN goes down after the user's upload, before the business
	// fetches: the download fails.
	clip := bytes.Repeat([]byte("ogg!"), 4000)
	msg, _, err := u.UploadMedia(ctx, waenttest.MediaMessage{Kind: "audio", MimeType: "audio/ogg; codecs=opus", Data: clip})
	if err != nil {
		t.Fatal(err)
	}
	net.SetMediaDown(true)
	if _, err := u.Send(ctx, "1"+businessNumber, msg); err != nil {
		t.Fatal(err)
	}
	var id string
	waitFor(t, 10*time.Second, "inbound audio callback", func() bool {
		for _, p := range callbacksOf(t, st, waent.KindInbound) {
			var body struct {
				Messages []content.Inbound `json:"messages"`
			}
			if json.Unmarshal([]byte(p), &body) == nil && len(body.Messages) == 1 && body.Messages[0].Audio != nil {
				id = body.Messages[0].Audio.ID
				return id != ""
			}
		}
		return false
	})
	time.Sleep(300 * time.Millisecond) // at least one failed attempt
	if _, err := openMedia(c, id); err == nil {
		t.Fatal("downloaded while the CDN was down")
	}
	c.Close()
	net.SetMediaDown(false)
	c = start()
	var data []byte
	waitFor(t, 10*time.Second, "download after the restart", func() bool {
		var err error
		data, err = openMedia(c, id)
		return err == nil
	})
	if !bytes.Equal(data, clip) {
		t.Fatalf("got %d bytes, want %d", len(data), len(clip))
	}
}

// BenchmarkSendMediaUpload measures Send of a new 4 MB image: storing it,
// encrypting it (twice: for the hash in the upload URL, then into the
// request) and uploading it to the loopback CDN, in MB/s of plaintext.
// The recipient is offline so that its downloads do not compete.
func BenchmarkSendMediaUpload(b *testing.B) {
	net := waenttest.New(b)
	c := startClient(b, net, memstore.New())
	u, err := net.NewUser("447700900125", waenttest.UserOptions{})
	if err != nil {
		b.Fatal(err)
	}
	u.SetOnline(false)
	ctx := context.Background()
	photo := jpeg(4 << 20)
	b.SetBytes(int64(len(photo)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		photo[100] = byte(i) // a new file each time: no re-use
		id, err := c.UploadMedia(ctx, "image/jpeg", bytes.NewReader(photo))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "image", Image: &content.Media{ID: id}}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := net.MediaUploads(); n != b.N {
		b.Fatalf("%d uploads for %d sends", n, b.N)
	}
}

// TestSendLargeMediaStreams sends a file above the in-memory limit, which
// is encrypted twice and streamed into the upload.
func TestSendLargeMediaStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("17 MB through the whole path")
	}
	net, c, _, u := mediaSetup(t, nil)
	ctx := mediaCtx(t)
	big := jpeg(17 << 20)
	id, err := c.UploadMedia(ctx, "application/zip", bytes.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "document", Document: &content.Media{ID: id, Filename: "big.zip"}}); err != nil {
		t.Fatal(err)
	}
	got := waitReceivedMedia(t, ctx, u, 1)
	if got[0].MediaErr != nil || !bytes.Equal(got[0].Media, big) {
		t.Fatalf("user got %d bytes, %v", len(got[0].Media), got[0].MediaErr)
	}
	if net.MediaUploads() != 1 {
		t.Fatalf("%d uploads", net.MediaUploads())
	}
}

// The media hosts and auth are asked for once per ttl (the simulator
// announces 300 s), not per upload; after the ttl they are asked again.
func TestMediaConnCachedForItsTTL(t *testing.T) {
	clock := &shiftedClock{}
	net, c, _, u := mediaSetup(t, clock)
	ctx := mediaCtx(t)
	for i := range 3 {
		id, err := c.UploadMedia(ctx, "image/jpeg", bytes.NewReader(jpeg(1000+i)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "image", Image: &content.Media{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	waitReceivedMedia(t, ctx, u, 3)
	if up, mc := net.MediaUploads(), net.MediaConnRequests(); up != 3 || mc != 1 {
		t.Fatalf("%d uploads with %d media_conn requests, want 3 with 1", up, mc)
	}
	clock.Advance(301 * time.Second)
	id, err := c.UploadMedia(ctx, "image/jpeg", bytes.NewReader(jpeg(2000)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send(ctx, &content.Outgoing{To: u.Phone(), Type: "image", Image: &content.Media{ID: id}}); err != nil {
		t.Fatal(err)
	}
	if mc := net.MediaConnRequests(); mc != 2 {
		t.Fatalf("%d media_conn requests after the ttl, want 2", mc)
	}
}
