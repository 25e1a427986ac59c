package waent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/store/memstore"
)

// bareClient is a Client over a memory store that is never started: the
// settings documents need nothing else.
func bareClient(t *testing.T) *Client {
	t.Helper()
	c, err := New(Config{Store: memstore.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// wantCode fails unless err is an *Error with code (and, if details is
// not "", those exact details).
func wantCode(t *testing.T, err error, code int, details string) {
	t.Helper()
	var we *Error
	if !errors.As(err, &we) || we.Code != code || (details != "" && we.Details != details) {
		t.Fatalf("got %v, want code %d %q", err, code, details)
	}
}

func TestDefaultSettingsAreOnPremDefaults(t *testing.T) {
	// Client.New does not load settings (Start does): read what Start
	// would on an empty store.
	s, _, err := loadSettings(context.Background(), memstore.New())
	if err != nil {
		t.Fatal(err)
	}
	if !s.CallbackPersist || !s.PassThrough || !s.NotifyUserChangeNumber || s.ShowSecurityNotifications || s.SentStatus ||
		s.Webhooks.MaxConcurrentRequests != 6 || s.CallbackBackoffDelayMs != 3000 || s.MaxCallbackBackoffDelayMs != 900000 ||
		s.HeartbeatInterval != 5 || s.UnhealthyInterval != 30 || s.LogLevel != "info" || s.VerboseLogging ||
		s.GarbageCollectorEnable != (GarbageCollectorSettings{Media: false, Messages: true}) || !s.DBGarbageCollectorEnable ||
		!slices.Equal(s.Media.AutoDownload, []string{"image", "video", "voice", "sticker", "audio", "document"}) {
		t.Fatalf("defaults: %+v", s)
	}
	e := s.Effective()
	if *e.Webhooks.Message.Sent || !*e.Webhooks.Message.Delivered || !*e.Webhooks.Message.Read {
		t.Fatalf("effective message switches: %+v", e.Webhooks.Message)
	}
	// The copy handed out is the caller's own.
	s.Media.AutoDownload[0] = "changed"
	if defaultSettings().Media.AutoDownload[0] != "image" {
		t.Fatal("defaults share a slice")
	}
	c := bareClient(t)
	c.settings = defaultSettings()
	c.Settings().Media.AutoDownload[0] = "changed"
	if c.Settings().Media.AutoDownload[0] != "image" {
		t.Fatal("Settings hands out the Client's own slice")
	}
}

func TestPatchSettingsRejectsBadValues(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	for _, tc := range []struct{ patch, details string }{
		{`{"webhooks":{"max_concurrent_requests":7}}`, "Parameter 'webhooks.max_concurrent_requests' has invalid value '7'"},
		{`{"webhooks":{"max_concurrent_requests":"12x"}}`, "Parameter 'webhooks.max_concurrent_requests' has invalid value '12x'"},
		{`{"webhooks":{"url":"http://example.com/hook"}}`, "Parameter 'webhooks.url' has invalid value 'http://example.com/hook'"},
		{`{"webhooks":{"url":"https://"}}`, "Parameter 'webhooks.url' has invalid value 'https://'"},
		{`{"webhooks":{"message":{"read":"yes"}}}`, "Parameter 'webhooks.message.read' has invalid value 'yes'"},
		{`{"webhooks":"https://example.com"}`, "Parameter 'webhooks' has invalid value 'https://example.com'"},
		{`{"sent_status":1}`, "Parameter 'sent_status' has invalid value '1'"},
		{`{"callback_backoff_delay_ms":0}`, "Parameter 'callback_backoff_delay_ms' has invalid value '0'"},
		{`{"max_callback_backoff_delay_ms":-5}`, "Parameter 'max_callback_backoff_delay_ms' has invalid value '-5'"},
		{`{"heartbeat_interval":1.5}`, "Parameter 'heartbeat_interval' has invalid value '1.5'"},
		{`{"media":{"auto_download":["image","gif"]}}`, `Parameter 'media.auto_download' has invalid value '["image","gif"]'`},
		{`{"garbagecollector_enable":{"media":null}}`, "Parameter 'garbagecollector_enable.media' has invalid value 'null'"},
		{`{"log_level":"loud"}`, "Parameter 'log_level' has invalid value 'loud'"},
		{`{"on_call_pager":"abc"}`, "Parameter 'on_call_pager' has invalid value 'abc'"},
		{`{}`, "No valid parameters provided"},
		{`{"wa_id":"15550100"}`, "No valid parameters provided"},
		{`{"webcallbacks":{"0":"x"}}`, "No valid parameters provided"},
		{`{"sent_status":true,"sent_stauts":true}`, "Parameter 'sent_stauts' is not a valid application setting"},
		{`[1]`, "The settings must be a JSON object"},
	} {
		_, err := c.PatchSettings(ctx, json.RawMessage(tc.patch))
		wantCode(t, err, CodeInvalidParameter, tc.details)
	}
	// A patch with one bad value changes nothing, not even its good ones.
	_, err := c.PatchSettings(ctx, json.RawMessage(`{"sent_status":true,"webhooks":{"max_concurrent_requests":5}}`))
	wantCode(t, err, CodeInvalidParameter, "")
	if c.Settings().SentStatus {
		t.Fatal("a rejected patch was partly applied")
	}
	if _, err := c.st.GetSettings(ctx, settingsDoc); err == nil {
		t.Fatal("a rejected patch was stored")
	}
}

func TestPatchSettingsMergesAndPersists(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	patch := func(p string) {
		t.Helper()
		if _, err := c.PatchSettings(ctx, json.RawMessage(p)); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	patch(`{"webhooks":{"url":"https://hooks.example.com/wa","message":{"sent":true,"read":false}},"callback_backoff_delay_ms":"5000",
		"media":{"auto_download":["image","image","audio"]},"garbagecollector_enable":{"media":true},"on_call_pager":"15550199",
		"wa_id":"999","pass_through":false,"log_level":"debug"}`)
	patch(`{"webhooks":{"max_concurrent_requests":24}}`)
	s := c.Settings()
	if s.Webhooks.URL != "https://hooks.example.com/wa" || s.Webhooks.MaxConcurrentRequests != 24 || s.CallbackBackoffDelayMs != 5000 ||
		!slices.Equal(s.Media.AutoDownload, []string{"image", "audio"}) || s.GarbageCollectorEnable != (GarbageCollectorSettings{true, true}) ||
		s.OnCallPager != "15550199" || s.PassThrough || s.LogLevel != "debug" || s.WAID != "" {
		t.Fatalf("after patches: %+v", s)
	}
	if !s.statusCallback("sent") || s.statusCallback("read") || !s.statusCallback("delivered") {
		t.Fatal("message switches not applied")
	}
	// Stored, not only cached: a fresh load sees the same.
	loaded, _, err := loadSettings(ctx, c.st)
	if err != nil || loaded.Webhooks.URL != s.Webhooks.URL || loaded.Webhooks.MaxConcurrentRequests != 24 {
		t.Fatalf("loaded %+v, %v", loaded, err)
	}
	// Clearing an omitted-when-empty field must not bring the old value
	// back from the stored document, nor must null on a switch.
	patch(`{"webhooks":{"url":"","message":{"read":null}},"on_call_pager":null}`)
	loaded, _, _ = loadSettings(ctx, c.st)
	if loaded.Webhooks.URL != "" || loaded.OnCallPager != "" || loaded.Webhooks.Message.Read != nil || loaded.Webhooks.Message.Sent == nil {
		t.Fatalf("cleared fields came back: %+v", loaded)
	}
	if err := c.ResetSettings(ctx); err != nil {
		t.Fatal(err)
	}
	if s := c.Settings(); s.Webhooks.MaxConcurrentRequests != 6 || !s.PassThrough || s.LogLevel != "info" {
		t.Fatalf("after reset: %+v", s)
	}
	if loaded, _, _ := loadSettings(ctx, c.st); loaded.Webhooks.MaxConcurrentRequests != 6 {
		t.Fatal("reset not stored")
	}
}

func TestAbout(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	if a, err := c.About(ctx); err != nil || a != "" {
		t.Fatalf("unset about: %q %v", a, err)
	}
	wantCode(t, c.SetAbout(ctx, strings.Repeat("é", 140)), CodeInvalidParameter, "")
	wantCode(t, c.SetAbout(ctx, ""), CodeMissingParameter, "")
	text := strings.Repeat("é", 139) // 139 characters, 278 bytes
	if err := c.SetAbout(ctx, text); err != nil {
		t.Fatal(err)
	}
	if a, _ := c.About(ctx); a != text {
		t.Fatalf("about %q", a)
	}
}

func testImage(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	return img
}

func TestProfilePhoto(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	_, err := c.ProfilePhoto(ctx)
	wantCode(t, err, CodeResourceNotFound, "")
	wantCode(t, c.SetProfilePhoto(ctx, nil), CodeMissingParameter, "No data found")
	wantCode(t, c.SetProfilePhoto(ctx, []byte("GIF89a not an image")), CodeInvalidParameter, "")
	wantCode(t, c.SetProfilePhoto(ctx, make([]byte, MaxProfilePhotoBytes+1)), CodeInvalidParameter, "")

	var pngData bytes.Buffer
	if err := png.Encode(&pngData, testImage(1280, 720)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetProfilePhoto(ctx, pngData.Bytes()); err != nil {
		t.Fatal(err)
	}
	jpg, err := c.ProfilePhoto(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(jpg))
	if err != nil || format != "jpeg" || cfg.Width != 640 || cfg.Height != 360 {
		t.Fatalf("stored photo: %s %dx%d %v", format, cfg.Width, cfg.Height, err)
	}
	// A small JPEG keeps its size.
	var small bytes.Buffer
	_ = jpeg.Encode(&small, testImage(200, 300), nil)
	if err := c.SetProfilePhoto(ctx, small.Bytes()); err != nil {
		t.Fatal(err)
	}
	jpg, _ = c.ProfilePhoto(ctx)
	if cfg, _, _ := image.DecodeConfig(bytes.NewReader(jpg)); cfg.Width != 200 || cfg.Height != 300 {
		t.Fatalf("small photo resized to %dx%d", cfg.Width, cfg.Height)
	}
	if err := c.DeleteProfilePhoto(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = c.ProfilePhoto(ctx)
	wantCode(t, err, CodeResourceNotFound, "")
	if err := c.DeleteProfilePhoto(ctx); err != nil {
		t.Fatalf("deleting no photo: %v", err)
	}
}

func TestBusinessProfile(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	str := func(s string) *string { return &s }
	p, err := c.BusinessProfile(ctx)
	if err != nil || p.Websites == nil || p.Address != "" {
		t.Fatalf("empty profile %+v %v", p, err)
	}
	for _, tc := range []struct {
		u       BusinessProfileUpdate
		code    int
		details string
	}{
		{BusinessProfileUpdate{}, CodeMissingParameter, ""},
		{BusinessProfileUpdate{Websites: []string{"https://a.example", "https://b.example", "https://c.example"}}, CodeInvalidParameter, "Max number of websites allowed is 2"},
		{BusinessProfileUpdate{Websites: []string{"a.example"}}, CodeInvalidParameter, "Parameter 'websites' has invalid value 'a.example'"},
		{BusinessProfileUpdate{Websites: []string{"https://a.example/" + strings.Repeat("x", 240)}}, CodeInvalidParameter, ""},
		{BusinessProfileUpdate{Address: str(strings.Repeat("a", 257))}, CodeInvalidParameter, "Parameter 'address' is longer than 256 characters"},
		{BusinessProfileUpdate{Description: str(strings.Repeat("a", 257))}, CodeInvalidParameter, ""},
		{BusinessProfileUpdate{Email: str("not-an-email")}, CodeInvalidParameter, "Parameter 'email' has invalid value 'not-an-email'"},
		{BusinessProfileUpdate{Email: str("Bob <bob@example.com>")}, CodeInvalidParameter, ""},
		{BusinessProfileUpdate{Email: str(strings.Repeat("a", 120) + "@example.com")}, CodeInvalidParameter, ""},
		{BusinessProfileUpdate{Vertical: str("Bakery")}, CodeInvalidParameter, "Parameter 'vertical' has invalid value 'Bakery'"},
	} {
		_, err := c.SetBusinessProfile(ctx, tc.u)
		wantCode(t, err, tc.code, tc.details)
	}
	if _, err := c.SetBusinessProfile(ctx, BusinessProfileUpdate{Address: str("1 Main St"), Email: str("shop@example.com"),
		Vertical: str("Beauty, Spa and Salon"), Websites: []string{"https://shop.example", "http://old.example"}}); err != nil {
		t.Fatal(err)
	}
	// Partial: only the description changes.
	if _, err := c.SetBusinessProfile(ctx, BusinessProfileUpdate{Description: str("We cut hair")}); err != nil {
		t.Fatal(err)
	}
	p, _ = c.BusinessProfile(ctx)
	want := BusinessProfile{Address: "1 Main St", Description: "We cut hair", Email: "shop@example.com",
		Vertical: "Beauty, Spa and Salon", Websites: []string{"https://shop.example", "http://old.example"}}
	if p.Address != want.Address || p.Description != want.Description || p.Email != want.Email || p.Vertical != want.Vertical ||
		!slices.Equal(p.Websites, want.Websites) {
		t.Fatalf("profile %+v, want %+v", p, want)
	}
	if _, err := c.SetBusinessProfile(ctx, BusinessProfileUpdate{Vertical: str(""), Websites: []string{}}); err != nil {
		t.Fatal(err)
	}
	if p, _ = c.BusinessProfile(ctx); p.Vertical != "" || len(p.Websites) != 0 || p.Address != "1 Main St" {
		t.Fatalf("after clearing: %+v", p)
	}
}

func TestTwoStepPINAndShards(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	wantCode(t, c.SetTwoStepPIN(ctx, ""), CodeMissingParameter, "")
	for _, bad := range []string{"12345", "1234567", "12345a"} {
		wantCode(t, c.SetTwoStepPIN(ctx, bad), CodeInvalidParameter, "")
	}
	if on, _ := c.TwoStepEnabled(ctx); on {
		t.Fatal("two-step on before a PIN was set")
	}
	if err := c.SetTwoStepPIN(ctx, "012345"); err != nil {
		t.Fatal(err)
	}
	if on, _ := c.TwoStepEnabled(ctx); !on {
		t.Fatal("two-step off after setting a PIN")
	}
	var d twoStepDoc
	if _, err := c.getDoc(ctx, docTwoStep, &d); err != nil || bytes.Contains(d.Hash, []byte("012345")) {
		t.Fatal("PIN not hashed")
	}
	if err := c.checkTwoStepPIN(ctx, "012345"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.checkTwoStepPIN(ctx, "543210"), CodeAccessDenied, "")

	req := ShardsRequest{CC: "1", PhoneNumber: "5550100", Shards: 4, Pin: "012345", Cert: "Q2VydA=="}
	wantCode(t, c.SetShards(ctx, req), CodeServiceNotReady, "")
	c.mu.Lock()
	c.acct.WAID = "15550100"
	c.mu.Unlock()
	if n, err := c.Shards(ctx); err != nil || n != 1 {
		t.Fatalf("default shards %d %v", n, err)
	}
	for _, tc := range []struct {
		mod  func(*ShardsRequest)
		code int
	}{
		{func(r *ShardsRequest) { r.Shards = 3 }, CodeInvalidParameter},
		{func(r *ShardsRequest) { r.Shards = 64 }, CodeInvalidParameter},
		{func(r *ShardsRequest) { r.Cert = "" }, CodeMissingParameter},
		{func(r *ShardsRequest) { r.Cert = "%%%" }, CodeInvalidParameter},
		{func(r *ShardsRequest) { r.PhoneNumber = "5550101" }, CodeInvalidParameter},
		{func(r *ShardsRequest) { r.Pin = "" }, CodeMissingParameter},
		{func(r *ShardsRequest) { r.Pin = "111111" }, CodeAccessDenied},
	} {
		r := req
		tc.mod(&r)
		wantCode(t, c.SetShards(ctx, r), tc.code, "")
	}
	if err := c.SetShards(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Shards(ctx); n != 4 {
		t.Fatalf("shards %d", n)
	}
	if err := c.DisableTwoStep(ctx); err != nil {
		t.Fatal(err)
	}
	req.Pin, req.Shards = "", 32
	if err := c.SetShards(ctx, req); err != nil {
		t.Fatalf("no PIN needed once two-step is off: %v", err)
	}
}

func TestMediaProviders(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	basic := MediaProvider{Name: "p1", Type: "www", Config: MediaProviderConfig{Basic: &BasicAuth{Username: "u", Password: "p"}}}
	bearer := MediaProvider{Name: "p2", Type: "www", Config: MediaProviderConfig{Bearer: "tok"}}
	for _, tc := range []struct {
		p    MediaProvider
		code int
	}{
		{MediaProvider{Type: "www", Config: bearer.Config}, CodeMissingParameter},
		{MediaProvider{Name: "bad name!", Type: "www", Config: bearer.Config}, CodeInvalidParameter},
		{MediaProvider{Name: "p", Type: "s3", Config: bearer.Config}, CodeInvalidParameter},
		{MediaProvider{Name: "p", Config: bearer.Config}, CodeMissingParameter},
		{MediaProvider{Name: "p", Type: "www"}, CodeMissingParameter},
		{MediaProvider{Name: "p", Type: "www", Config: MediaProviderConfig{Basic: basic.Config.Basic, Bearer: "x"}}, CodeParamNotRequired},
		{MediaProvider{Name: "p", Type: "www", Config: MediaProviderConfig{Basic: &BasicAuth{Username: "u"}}}, CodeMissingParameter},
	} {
		wantCode(t, c.SetMediaProvider(ctx, tc.p), tc.code, "")
	}
	for _, p := range []MediaProvider{basic, bearer} {
		if err := c.SetMediaProvider(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Same name overwrites, in place.
	basic.Config.Basic = &BasicAuth{Username: "u2", Password: "p2"}
	if err := c.SetMediaProvider(ctx, basic); err != nil {
		t.Fatal(err)
	}
	ps, err := c.MediaProviders(ctx)
	if err != nil || len(ps) != 2 || ps[0].Name != "p1" || ps[0].Config.Basic.Username != "u2" || ps[1].Config.Bearer != "tok" {
		t.Fatalf("providers %+v %v", ps, err)
	}
	if a := ps[0].Authorization(); a != "Basic dTI6cDI=" {
		t.Fatalf("authorization %q", a)
	}
	wantCode(t, c.DeleteMediaProvider(ctx, "nope"), CodeResourceNotFound, "")
	if err := c.DeleteMediaProvider(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	if ps, _ := c.MediaProviders(ctx); len(ps) != 1 || ps[0].Name != "p2" {
		t.Fatalf("after delete %+v", ps)
	}
}

// testChain is a root CA, an intermediate and a leaf for "webapp.test",
// valid around now.
type testChain struct {
	rootPEM, interPEM, leafPEM, keyPEM, otherKeyPEM []byte
}

func newTestChain(t testing.TB, now time.Time) testChain {
	t.Helper()
	key := func() (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(k)
		return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	cert := func(tmpl, parent *x509.Certificate, pub, signer any) (*x509.Certificate, []byte) {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	ca := func(n int64, name string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}
	}
	var ch testChain
	rk, _ := key()
	root, rootPEM := cert(ca(1, "root"), ca(1, "root"), &rk.PublicKey, rk)
	ik, _ := key()
	inter, interPEM := cert(ca(2, "inter"), root, &ik.PublicKey, rk)
	lk, keyPEM := key()
	_, leafPEM := cert(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "webapp.test"}, DNSNames: []string{"webapp.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)}, inter, &lk.PublicKey, ik)
	_, other := key()
	ch.rootPEM, ch.interPEM, ch.leafPEM, ch.keyPEM, ch.otherKeyPEM = rootPEM, interPEM, leafPEM, keyPEM, other
	return ch
}

func join(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestWebhookCA(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	ch := newTestChain(t, time.Now())
	_, err := c.WebhookCA(ctx)
	wantCode(t, err, CodeResourceNotFound, "")
	if got := c.webhookCAPEM(ctx); len(got) != 0 {
		t.Fatalf("CA without config or upload: %q", got)
	}
	for _, bad := range [][]byte{nil, []byte("hello"), ch.keyPEM, join(ch.rootPEM, []byte("junk\n")), join([]byte("junk\n"), ch.rootPEM),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})} {
		if err := c.SetWebhookCA(ctx, bad); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
	bundle := join(ch.rootPEM, []byte("\n"), ch.interPEM)
	if err := c.SetWebhookCA(ctx, bundle); err != nil {
		t.Fatal(err)
	}
	got, err := c.WebhookCA(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pool := x509.NewCertPool(); !pool.AppendCertsFromPEM(got) || !bytes.Equal(got, join(ch.rootPEM, ch.interPEM)) {
		t.Fatalf("stored bundle %q", got)
	}
	c.cfg.WebhookCACertPEM = []byte("CONFIG")
	if all := c.webhookCAPEM(ctx); !bytes.Equal(all, join([]byte("CONFIG\n"), ch.rootPEM, ch.interPEM)) {
		t.Fatalf("webhookCAPEM %q", all)
	}
	if err := c.DeleteWebhookCA(ctx); err != nil {
		t.Fatal(err)
	}
	if all := c.webhookCAPEM(ctx); string(all) != "CONFIG" {
		t.Fatalf("after delete %q", all)
	}
}

func TestExternalCert(t *testing.T) {
	c := bareClient(t)
	ctx := context.Background()
	ch := newTestChain(t, time.Now())
	_, err := c.ExternalCA(ctx)
	wantCode(t, err, CodeResourceNotFound, "")
	for _, bad := range [][]byte{
		join(ch.keyPEM, ch.leafPEM),                   // no intermediate
		join(ch.leafPEM, ch.keyPEM, ch.interPEM),      // key not first
		join(ch.otherKeyPEM, ch.leafPEM, ch.interPEM), // key of another certificate
		join(ch.keyPEM, ch.leafPEM, ch.rootPEM),       // not the issuer
		join(ch.keyPEM, ch.leafPEM, ch.keyPEM),        // a key where a CA belongs
	} {
		wantCode(t, c.SetExternalCert(ctx, bad), CodeInvalidParameter, "")
	}
	expired := newTestChain(t, time.Now().Add(-72*time.Hour))
	wantCode(t, c.SetExternalCert(ctx, join(expired.keyPEM, expired.leafPEM, expired.interPEM)), CodeInvalidParameter, "")

	if err := c.SetExternalCert(ctx, join(ch.keyPEM, ch.leafPEM, ch.interPEM, ch.rootPEM)); err != nil {
		t.Fatal(err)
	}
	caPEM, err := c.ExternalCA(ctx)
	if err != nil || !bytes.Equal(caPEM, join(ch.interPEM, ch.rootPEM)) {
		t.Fatalf("external CA %q %v", caPEM, err)
	}
	cert, err := c.ExternalCert(ctx)
	if err != nil || len(cert.Certificate) != 3 {
		t.Fatalf("tls cert: %d certs, %v", len(cert.Certificate), err)
	}
	leaf, _ := x509.ParseCertificate(cert.Certificate[0])
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ch.rootPEM)
	inter := x509.NewCertPool()
	inter.AppendCertsFromPEM(caPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "webapp.test", Roots: roots, Intermediates: inter}); err != nil {
		t.Fatalf("served chain does not verify: %v", err)
	}
}
