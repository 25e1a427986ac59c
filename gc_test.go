package waent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/gc"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/webhook"
)

// servicesHook records the services callbacks a Client delivers.
type servicesHook struct {
	mu     sync.Mutex
	bodies []map[string]any // one entry of "services" each
}

func (h *servicesHook) sink() webhook.Sink {
	return webhook.FuncSink(func(ctx context.Context, body []byte) error {
		var p struct {
			Services []map[string]any `json:"services"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return err
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, p.Services...)
		h.mu.Unlock()
		return nil
	})
}

func (h *servicesHook) got() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.bodies...)
}

// wait returns the first n services entries, failing after 10 seconds.
func (h *servicesHook) wait(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := h.got(); len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no services callback after 10s (have %v)", h.got())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gcClient starts an unregistered Client (collection needs no
// connection) on st, with hook as its webhook when set.
func gcClient(t *testing.T, st store.Store, hook *servicesHook, media store.MediaStore) *Client {
	t.Helper()
	cfg := Config{Store: st, Media: media, Logger: slog.New(slog.DiscardHandler)}
	if hook != nil {
		cfg.Webhook = hook.sink()
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func seedOld(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	old := time.Now().Add(-40 * 24 * time.Hour)
	var msgs []store.Message
	for _, id := range ids {
		msgs = append(msgs, store.Message{ID: id, Direction: store.Outbound, Peer: "447700900001", Type: "text",
			Payload: []byte(`{}`), Status: store.StatusRead, CreatedAt: old, UpdatedAt: old})
	}
	if _, err := st.AddMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

func gcEntry(t *testing.T, entry map[string]any, kind string) map[string]any {
	t.Helper()
	k, _ := entry[kind].(map[string]any)
	g, _ := k["gc"].(map[string]any)
	if g == nil {
		t.Fatalf("services entry %v has no %s.gc", entry, kind)
	}
	return g
}

func TestMessageGCReportsThroughWebhook(t *testing.T) {
	st := memstore.New()
	seedOld(t, st, "a", "b", "c")
	// Still queued: never collected.
	old := time.Now().Add(-40 * 24 * time.Hour)
	seedOld(t, st, "queued")
	if err := st.EnqueueOutbox(context.Background(), []store.OutboxItem{{MessageID: "queued", Recipient: "447700900001", NextAttemptAt: old, CreatedAt: old}}); err != nil {
		t.Fatal(err)
	}
	hook := &servicesHook{}
	c := gcClient(t, st, hook, nil)
	if err := c.RunMessageGC(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := gcEntry(t, hook.wait(t, 1)[0], "message")
	if g["status"] != "complete" || g["messages_deleted"] != float64(3) || g["errors"] != nil {
		t.Errorf("callback %v, want 3 deleted and complete", g)
	}
	if _, err := st.GetMessage(context.Background(), "queued"); err != nil {
		t.Errorf("queued message: %v", err)
	}
}

func TestMediaGCReportsThroughWebhook(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	blobs := memstore.NewMedia()
	for id, age := range map[string]time.Duration{"stale": 31 * 24 * time.Hour, "fresh": time.Hour} {
		at := time.Now().Add(-age)
		if err := st.CreateMedia(ctx, store.Media{ID: id, Origin: store.MediaUploaded, MimeType: "image/png", CreatedAt: at, LastUsedAt: at}); err != nil {
			t.Fatal(err)
		}
		if _, err := blobs.Put(ctx, id, strings.NewReader("png")); err != nil {
			t.Fatal(err)
		}
	}
	hook := &servicesHook{}
	c := gcClient(t, st, hook, blobs)
	if err := c.RunMediaGC(ctx); err != nil {
		t.Fatal(err)
	}
	g := gcEntry(t, hook.wait(t, 1)[0], "media")
	if g["status"] != "complete" || g["items_deleted"] != float64(1) {
		t.Errorf("callback %v, want 1 item deleted and complete", g)
	}
	if _, err := st.GetMedia(ctx, "fresh"); err != nil {
		t.Errorf("fresh media: %v", err)
	}
	if _, err := st.GetMedia(ctx, "stale"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stale media: %v, want not found", err)
	}
	if _, err := blobs.Open(ctx, "stale"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("stale media bytes: %v, want not found", err)
	}
}

func TestGCNeedsWebhook(t *testing.T) {
	c := gcClient(t, memstore.New(), nil, nil)
	for name, run := range map[string]func(context.Context) error{"message": c.RunMessageGC, "media": c.RunMediaGC} {
		var we *Error
		if err := run(context.Background()); !errors.As(err, &we) || we.Code != CodeWebhookURLMissing {
			t.Errorf("%s: %v, want 1022", name, err)
		}
	}
}

// A request while another is outstanding starts nothing: one run, one
// callback.
func TestGCSecondRequestWhileProcessing(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	seedOld(t, st, "a", "b")
	hook := &servicesHook{}
	c := gcClient(t, st, hook, nil)
	// Another instance's run holds the message collection.
	l, err := st.AcquireLease(ctx, "gc.message", "other-instance", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.RunMessageGC(ctx); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if got := hook.got(); len(got) != 0 {
		t.Fatalf("callback %v while another run holds the lease", got)
	}
	if err := st.ReleaseLease(ctx, "gc.message", "other-instance", l.Token); err != nil {
		t.Fatal(err)
	}
	g := gcEntry(t, hook.wait(t, 1)[0], "message")
	if g["messages_deleted"] != float64(2) {
		t.Errorf("callback %v, want 2 deleted", g)
	}
	time.Sleep(300 * time.Millisecond)
	if got := hook.got(); len(got) != 1 {
		t.Errorf("%d callbacks for three requests while processing, want 1: %v", len(got), got)
	}
	// Once reported, a new request runs again.
	if err := c.RunMessageGC(ctx); err != nil {
		t.Fatal(err)
	}
	if g := gcEntry(t, hook.wait(t, 2)[1], "message"); g["messages_deleted"] != float64(0) || g["status"] != "complete" {
		t.Errorf("second run callback %v", g)
	}
}

// failingPrune breaks message collection.
type failingPrune struct{ store.Store }

func (failingPrune) PruneMessages(ctx context.Context, q store.PruneQuery) (int, error) {
	return 0, errors.New("disk full")
}

func TestMessageGCFailureCallback(t *testing.T) {
	hook := &servicesHook{}
	c := gcClient(t, failingPrune{memstore.New()}, hook, nil)
	if err := c.RunMessageGC(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := gcEntry(t, hook.wait(t, 1)[0], "message")
	errs, _ := g["errors"].([]any)
	if g["status"] != "failed" || g["messages_deleted"] != float64(0) || len(errs) != 1 {
		t.Fatalf("callback %v, want failed with one error", g)
	}
	if e, _ := errs[0].(map[string]any); e["code"] != float64(CodeInternal) || e["title"] == "" {
		t.Errorf("error entry %v", errs[0])
	}
}

// The scheduled collector belongs to the Client: Close stops it.
func TestStartGCStopsOnClose(t *testing.T) {
	c := gcClient(t, memstore.New(), &servicesHook{}, nil)
	c.startGC()
	done := make(chan struct{})
	go func() {
		c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the collector")
	}
	// After Close nothing starts.
	c.startGC()
	if err := c.RunMessageGC(context.Background()); !errors.Is(err, errClientClosed) {
		t.Errorf("RunMessageGC after Close: %v, want client closed", err)
	}
}

// The settings steer the scheduled collector: either message switch turns
// message collection off; pass_through and the media switch pass through.
func TestGCSwitchesFollowSettings(t *testing.T) {
	ctx := context.Background()
	c := gcClient(t, memstore.New(), nil, nil)
	if sw := c.gcSwitches(); !sw.Messages || sw.Media || !sw.PassThrough {
		t.Errorf("defaults: %+v, want messages and pass_through on, media off", sw)
	}
	for _, tc := range []struct {
		set  func(*Settings)
		want func(sw gc.Switches) bool
	}{
		{func(s *Settings) { s.DBGarbageCollectorEnable = false }, func(sw gc.Switches) bool { return !sw.Messages }},
		{func(s *Settings) { s.DBGarbageCollectorEnable, s.GarbageCollectorEnable.Messages = true, false }, func(sw gc.Switches) bool { return !sw.Messages }},
		{func(s *Settings) { s.GarbageCollectorEnable = GarbageCollectorSettings{Media: true, Messages: true} }, func(sw gc.Switches) bool { return sw.Messages && sw.Media }},
		{func(s *Settings) { s.PassThrough = false }, func(sw gc.Switches) bool { return !sw.PassThrough }},
	} {
		if _, err := c.UpdateSettings(ctx, tc.set); err != nil {
			t.Fatal(err)
		}
		if sw := c.gcSwitches(); !tc.want(gc.Switches(sw)) {
			t.Errorf("switches %+v after %+v", sw, c.Settings().GarbageCollectorEnable)
		}
	}
}
