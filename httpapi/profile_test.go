package httpapi_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// raw sends body with the given Content-Type and the admin token.
func (a *api) raw(method, path, contentType string, body []byte) response {
	a.t.Helper()
	return a.stream(method, path, contentType, bytes.NewReader(body), int64(len(body)))
}

func TestAboutAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	about := func() string {
		res := a.do("GET", "/v1/settings/profile/about", nil, a.admin)
		var out struct {
			Settings struct {
				Profile struct {
					About struct {
						Text *string `json:"text"`
					} `json:"about"`
				} `json:"profile"`
			} `json:"settings"`
		}
		res.decode(&out)
		if res.status != 200 || out.Settings.Profile.About.Text == nil {
			t.Fatalf("GET about: %d %s", res.status, res.raw)
		}
		return *out.Settings.Profile.About.Text
	}
	if s := about(); s != "" {
		t.Fatalf("about before set: %q", s)
	}
	a.do("PATCH", "/v1/settings/profile/about", map[string]string{"text": strings.Repeat("x", 140)}, a.admin).wantError(400, 1009)
	a.do("PATCH", "/v1/settings/profile/about", map[string]string{}, a.admin).wantError(400, 1008)
	text := strings.Repeat("ü", 139)
	if res := a.do("PATCH", "/v1/settings/profile/about", map[string]string{"text": text}, a.admin); res.status != 200 {
		t.Fatalf("PATCH about: %d %s", res.status, res.raw)
	}
	if s := about(); s != text {
		t.Fatalf("about %q", s)
	}
}

func pngImage(t *testing.T, w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 5), 90, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestProfilePhotoAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	const path = "/v1/settings/profile/photo"
	a.do("GET", path, nil, a.admin).wantError(404, 1006)
	res := a.raw("POST", path, "image/png", nil)
	res.wantError(400, 1008)
	if d := errorDetails(res); d != "No data found" {
		t.Fatalf("details %q", d)
	}
	a.raw("POST", path, "image/gif", []byte("GIF89a......")).wantError(400, 1009)
	a.raw("POST", path, "image/jpeg", make([]byte, 6<<20)).wantError(400, 1009)

	if res := a.raw("POST", path, "image/png", pngImage(t, 800, 400)); res.status != http.StatusCreated {
		t.Fatalf("POST photo: %d %s", res.status, res.raw)
	}
	res = a.do("GET", path, nil, a.admin)
	if res.status != 200 || res.header.Get("Content-Type") != "image/jpeg" ||
		res.header.Get("Content-Disposition") != `attachment; filename="profilePicture.jpg"` {
		t.Fatalf("GET photo: %d %v", res.status, res.header)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(res.raw))
	if err != nil || format != "jpeg" || cfg.Width != 640 || cfg.Height != 320 {
		t.Fatalf("photo served: %s %dx%d %v", format, cfg.Width, cfg.Height, err)
	}
	photo := res.raw

	res = a.do("GET", path+"?format=link", nil, a.admin)
	var out struct {
		Settings struct {
			Profile struct {
				Photo struct {
					Link string `json:"link"`
				} `json:"photo"`
			} `json:"profile"`
		} `json:"settings"`
	}
	res.decode(&out)
	link := out.Settings.Profile.Photo.Link
	if link != a.srv.URL+path {
		t.Fatalf("link %q, want %q", link, a.srv.URL+path)
	}
	if got := a.do("GET", strings.TrimPrefix(link, a.srv.URL), nil, a.admin); !bytes.Equal(got.raw, photo) {
		t.Fatal("the link does not serve the photo")
	}

	// The Postman collection's multipart form with the field "File".
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("note", "ignored")
	fw, _ := mw.CreateFormFile("File", "me.png")
	fw.Write(pngImage(t, 100, 200))
	mw.Close()
	if res := a.raw("POST", path, mw.FormDataContentType(), form.Bytes()); res.status != http.StatusCreated {
		t.Fatalf("multipart POST: %d %s", res.status, res.raw)
	}
	res = a.do("GET", path, nil, a.admin)
	if cfg, _, _ := image.DecodeConfig(bytes.NewReader(res.raw)); cfg.Width != 100 || cfg.Height != 200 {
		t.Fatalf("multipart photo is %dx%d", cfg.Width, cfg.Height)
	}
	var empty bytes.Buffer
	mw = multipart.NewWriter(&empty)
	mw.WriteField("other", "x")
	mw.Close()
	a.raw("POST", path, mw.FormDataContentType(), empty.Bytes()).wantError(400, 1008)

	if res := a.do("DELETE", path, nil, a.admin); res.status != 200 {
		t.Fatalf("DELETE photo: %d %s", res.status, res.raw)
	}
	a.do("GET", path, nil, a.admin).wantError(404, 1006)
}

func TestBusinessProfileAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	const path = "/v1/settings/business/profile"
	profile := func() map[string]any {
		res := a.do("GET", path, nil, a.admin)
		var out struct {
			Settings struct {
				Business struct {
					Profile map[string]any `json:"profile"`
				} `json:"business"`
			} `json:"settings"`
		}
		res.decode(&out)
		if res.status != 200 || out.Settings.Business.Profile == nil {
			t.Fatalf("GET business profile: %d %s", res.status, res.raw)
		}
		return out.Settings.Business.Profile
	}
	p := profile()
	for _, k := range []string{"address", "description", "email", "vertical"} {
		if p[k] != "" {
			t.Fatalf("empty profile %v", p)
		}
	}
	if w, ok := p["websites"].([]any); !ok || len(w) != 0 {
		t.Fatalf("websites %v", p["websites"])
	}
	res := a.do("POST", path, map[string]any{"websites": []string{"https://a.example", "https://b.example", "https://c.example"}}, a.admin)
	res.wantError(400, 1009)
	if d := errorDetails(res); d != "Max number of websites allowed is 2" {
		t.Fatalf("details %q", d)
	}
	a.do("POST", path, map[string]any{"vertical": "Bakery"}, a.admin).wantError(400, 1009)
	a.do("POST", path, map[string]any{"email": "nope"}, a.admin).wantError(400, 1009)
	a.do("POST", path, map[string]any{"address": strings.Repeat("a", 257)}, a.admin).wantError(400, 1009)
	a.do("POST", path, map[string]any{}, a.admin).wantError(400, 1008)
	if res := a.do("POST", path, map[string]any{"address": "1 Main St", "vertical": "Restaurant", "websites": []string{"https://eat.example"}}, a.admin); res.status != 200 {
		t.Fatalf("POST: %d %s", res.status, res.raw)
	}
	if res := a.do("POST", path, map[string]any{"email": "eat@example.com"}, a.admin); res.status != 200 {
		t.Fatalf("partial POST: %d %s", res.status, res.raw)
	}
	p = profile()
	if p["address"] != "1 Main St" || p["vertical"] != "Restaurant" || p["email"] != "eat@example.com" ||
		len(p["websites"].([]any)) != 1 || p["description"] != "" {
		t.Fatalf("profile %v", p)
	}
}

func TestTwoStepAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	const path = "/v1/settings/account/two-step"
	a.do("POST", path, map[string]string{"pin": "12345"}, a.admin).wantError(400, 1009)
	a.do("POST", path, map[string]string{"pin": "12345x"}, a.admin).wantError(400, 1009)
	a.do("POST", path, map[string]string{}, a.admin).wantError(400, 1008)
	if res := a.do("POST", path, map[string]string{"pin": "123456"}, a.admin); res.status != 200 {
		t.Fatalf("POST PIN: %d %s", res.status, res.raw)
	}
	if on, err := a.client.TwoStepEnabled(t.Context()); err != nil || !on {
		t.Fatalf("two-step after POST: %v %v", on, err)
	}
	// With two-step on, shards need the PIN.
	sreq := map[string]any{"cc": businessCC, "phone_number": businessNumber, "shards": 2, "cert": "Q2VydA=="}
	a.do("POST", "/v1/account/shards", sreq, a.admin).wantError(400, 1008)
	sreq["pin"] = "654321"
	a.do("POST", "/v1/account/shards", sreq, a.admin).wantError(403, 1005)
	if res := a.do("DELETE", path, nil, a.admin); res.status != 200 {
		t.Fatalf("DELETE PIN: %d %s", res.status, res.raw)
	}
	if on, _ := a.client.TwoStepEnabled(t.Context()); on {
		t.Fatal("two-step still on after DELETE")
	}
}
