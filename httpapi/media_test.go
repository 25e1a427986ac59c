package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/filemedia"
	"github.com/waent/waent/store/memstore"
)

// mdPattern yields n deterministic bytes without holding them.
type mdPattern struct {
	off, n int64
	block  []byte
}

func newMDPattern(n int64) *mdPattern {
	b := make([]byte, 65521) // prime: the pattern never lines up with buffers
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return &mdPattern{n: n, block: b}
}

func (p *mdPattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	k := 0
	for k < len(b) {
		k += copy(b[k:], p.block[(p.off+int64(k))%int64(len(p.block)):])
	}
	p.off += int64(k)
	return k, nil
}

// mdUpload posts body to /v1/media with contentType (none when empty)
// and a declared length (-1: chunked).
func mdUpload(a *api, contentType string, body io.Reader, length int64) response {
	a.t.Helper()
	return a.stream("POST", "/v1/media", contentType, body, length)
}

// mdID is the media id of a 201 upload answer.
func mdID(r response) string {
	r.t.Helper()
	if r.status != http.StatusCreated {
		r.t.Fatalf("upload: %d %s", r.status, r.raw)
	}
	var out struct {
		Media []struct {
			ID string `json:"id"`
		} `json:"media"`
		Meta map[string]any `json:"meta"`
	}
	r.decode(&out)
	if len(out.Media) != 1 || out.Media[0].ID == "" || out.Meta["version"] == nil {
		r.t.Fatalf("upload answer %s", r.raw)
	}
	return out.Media[0].ID
}

// heapSampler records the peak of live heap objects while it runs.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func totalAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			h.peak = max(h.peak, heapObjects())
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	})
	return h
}

func (h *heapSampler) finish() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
}

// TestMediaRoundTrip50MB uploads and downloads 50 MB through the handler
// over HTTP into the filesystem store and checks that memory stays far
// below the file's size: nothing on the way holds the file whole.
func TestMediaRoundTrip50MB(t *testing.T) {
	const size = 50 << 20
	dir := t.TempDir()
	blobs, err := filemedia.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	a := newAPI(t, apiOptions{cfg: func(c *waent.Config) { c.Media = blobs }})
	want := sha256.New()
	_, _ = io.Copy(want, newMDPattern(size))

	runtime.GC()
	base, allocs := heapObjects(), totalAllocs()
	sampler := startHeapSampler()

	id := mdID(mdUpload(a, "application/pdf", newMDPattern(size), size))
	req, _ := http.NewRequest("GET", a.srv.URL+"/v1/media/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+a.admin)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, res.Body)
	res.Body.Close()

	peak := sampler.finish()
	allocated := totalAllocs() - allocs
	t.Logf("50 MB round trip: live heap peak +%.1f MB, allocated %.1f MB", float64(peak-min(peak, base))/(1<<20), float64(allocated)/(1<<20))
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("download: %d bytes, %v, digest match %v", n, err, bytes.Equal(got.Sum(nil), want.Sum(nil)))
	}
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" ||
		res.Header.Get("Content-Length") != "52428800" ||
		res.Header.Get("Content-Disposition") != "attachment; filename="+id+".pdf" {
		t.Errorf("download headers: %d %v", res.StatusCode, res.Header)
	}
	if peak > base && peak-base > 16<<20 {
		t.Errorf("live heap grew by %d bytes during a 50 MB round trip; want < 16 MB", peak-base)
	}
	// Allocating the size of the file (let alone twice, as a buffer that
	// grows does) means it was held somewhere.
	if allocated > size/2 {
		t.Errorf("allocated %d bytes during a 50 MB round trip; want < 25 MB", allocated)
	}
	m, err := a.st.GetMedia(t.Context(), id)
	if err != nil || m.Size != size || !bytes.Equal(m.SHA256, want.Sum(nil)) || m.Origin != store.MediaUploaded {
		t.Fatalf("metadata %+v, %v", m, err)
	}
}

// TestMediaEndpoints walks upload, download (whole, HEAD, range),
// delete and every error of the three endpoints.
func TestMediaEndpoints(t *testing.T) {
	blobs := memstore.NewMedia()
	a := newAPI(t, apiOptions{
		opts: httpapi.Options{MaxMediaBytes: 1000},
		cfg:  func(c *waent.Config) { c.Media = blobs },
	})

	// Upload errors; none stores anything.
	mdUpload(a, "", strings.NewReader("x"), 1).wantError(400, 1008)
	if r := mdUpload(a, "", strings.NewReader("x"), 1); !strings.Contains(string(r.raw), "Content-Type missing") {
		t.Errorf("missing Content-Type: %s", r.raw)
	}
	r := mdUpload(a, "image/png", strings.NewReader(""), 0)
	r.wantError(400, 1008)
	if !strings.Contains(string(r.raw), "Request had no (empty) content") {
		t.Errorf("empty body: %s", r.raw)
	}
	mdUpload(a, "image/", strings.NewReader("x"), 1).wantError(400, 1009)
	for _, length := range []int64{1001, -1} { // declared, and found while streaming
		r := mdUpload(a, "image/png", bytes.NewReader(make([]byte, 1001)), length)
		r.wantError(400, 1009)
		if !strings.Contains(string(r.raw), "Request content exceeds size of 1000 bytes") {
			t.Errorf("too big (length %d): %s", length, r.raw)
		}
	}
	if blobs.Len() != 0 {
		t.Fatalf("%d files stored by failed uploads", blobs.Len())
	}
	if left, _ := a.st.UnusedMedia(t.Context(), time.Now().Add(time.Hour), 10); len(left) != 0 {
		t.Fatalf("metadata stored by failed uploads: %+v", left)
	}
	if res := a.do("POST", "/v1/media", []byte("x"), ""); res.status != http.StatusUnauthorized {
		t.Errorf("upload without a token: %d", res.status)
	}

	// A file of exactly the limit.
	data := bytes.Repeat([]byte("0123456789"), 100)
	id := mdID(mdUpload(a, "image/jpeg", bytes.NewReader(data), -1))

	res := a.do("GET", "/v1/media/"+id, nil, a.admin)
	if res.status != 200 || !bytes.Equal(res.raw, data) {
		t.Fatalf("download: %d, %d bytes", res.status, len(res.raw))
	}
	for k, v := range map[string]string{
		"Content-Type": "image/jpeg", "Content-Length": "1000",
		"Content-Disposition": "attachment; filename=" + id + ".jpg",
	} {
		if got := res.header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if head := a.do("HEAD", "/v1/media/"+id, nil, a.admin); head.status != 200 || len(head.raw) != 0 || head.header.Get("Content-Length") != "1000" {
		t.Errorf("HEAD: %d, %d bytes, %v", head.status, len(head.raw), head.header)
	}
	req, _ := http.NewRequest("GET", a.srv.URL+"/v1/media/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+a.admin)
	req.Header.Set("Range", "bytes=10-19")
	rr, err := a.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rr.Body)
	rr.Body.Close()
	if rr.StatusCode != http.StatusPartialContent || string(part) != "0123456789" {
		t.Errorf("range: %d %q", rr.StatusCode, part)
	}

	// Unknown ids.
	for _, method := range []string{"GET", "DELETE"} {
		r := a.do(method, "/v1/media/nope", nil, a.admin)
		r.wantError(404, 1006)
		if !strings.Contains(string(r.raw), "File with id nope not found") {
			t.Errorf("%s unknown: %s", method, r.raw)
		}
	}

	// Delete, then it is gone; twice is 404.
	del := a.do("DELETE", "/v1/media/"+id, nil, a.admin)
	var env map[string]json.RawMessage
	del.decode(&env)
	if del.status != 200 || len(env) != 1 || env["meta"] == nil {
		t.Fatalf("delete: %d %s", del.status, del.raw)
	}
	a.do("GET", "/v1/media/"+id, nil, a.admin).wantError(404, 1006)
	a.do("DELETE", "/v1/media/"+id, nil, a.admin).wantError(404, 1006)
	if blobs.Len() != 0 {
		t.Error("bytes kept after delete")
	}
}
