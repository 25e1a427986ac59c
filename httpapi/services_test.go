package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/webhook"
)

// gcHook collects the "services" entries of the callbacks delivered.
type gcHook struct {
	mu      sync.Mutex
	entries []json.RawMessage
}

func (h *gcHook) install(cfg *waent.Config) {
	cfg.Webhook = webhook.FuncSink(func(ctx context.Context, body []byte) error {
		var p struct {
			Services []json.RawMessage `json:"services"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return err
		}
		h.mu.Lock()
		h.entries = append(h.entries, p.Services...)
		h.mu.Unlock()
		return nil
	})
}

func (h *gcHook) first(t *testing.T) json.RawMessage {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		n := len(h.entries)
		h.mu.Unlock()
		if n > 0 {
			h.mu.Lock()
			defer h.mu.Unlock()
			return h.entries[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no services callback within 10s")
	return nil
}

func TestMessageGCService(t *testing.T) {
	hook := &gcHook{}
	a := newAPI(t, apiOptions{unregistered: true, cfg: hook.install})
	old := time.Now().Add(-40 * 24 * time.Hour)
	var msgs []store.Message
	for _, id := range []string{"gamma", "delta"} {
		msgs = append(msgs, store.Message{ID: id, Direction: store.Outbound, Peer: "447700900001", Type: "text",
			Payload: []byte(`{}`), Status: store.StatusDelivered, CreatedAt: old, UpdatedAt: old})
	}
	if _, err := a.st.AddMessages(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	res := a.do("PUT", "/v1/services/message/gc", nil, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", res.status, res.raw)
	}
	var out struct {
		Services struct {
			Message struct {
				GC struct {
					Status string `json:"status"`
				} `json:"gc"`
			} `json:"message"`
		} `json:"services"`
		Meta map[string]any `json:"meta"`
	}
	res.decode(&out)
	if out.Services.Message.GC.Status != "processing" || out.Meta == nil {
		t.Errorf("answer %s", res.raw)
	}
	var cb struct {
		Message struct {
			GC struct {
				MessagesDeleted *int   `json:"messages_deleted"`
				Status          string `json:"status"`
			} `json:"gc"`
		} `json:"message"`
	}
	if err := json.Unmarshal(hook.first(t), &cb); err != nil {
		t.Fatal(err)
	}
	if g := cb.Message.GC; g.Status != "complete" || g.MessagesDeleted == nil || *g.MessagesDeleted != 2 {
		t.Errorf("callback %+v, want 2 messages deleted, complete", g)
	}
}

func TestMediaGCService(t *testing.T) {
	hook := &gcHook{}
	a := newAPI(t, apiOptions{unregistered: true, cfg: hook.install})
	res := a.do("PUT", "/v1/services/media/gc", nil, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", res.status, res.raw)
	}
	var out struct {
		Services struct {
			Media struct {
				GC struct {
					Status string `json:"status"`
				} `json:"gc"`
			} `json:"media"`
		} `json:"services"`
	}
	res.decode(&out)
	if out.Services.Media.GC.Status != "processing" {
		t.Errorf("answer %s", res.raw)
	}
	var cb struct {
		Media struct {
			GC struct {
				ItemsDeleted *int   `json:"items_deleted"`
				Status       string `json:"status"`
			} `json:"gc"`
		} `json:"media"`
	}
	if err := json.Unmarshal(hook.first(t), &cb); err != nil {
		t.Fatal(err)
	}
	if g := cb.Media.GC; g.Status != "complete" || g.ItemsDeleted == nil || *g.ItemsDeleted != 0 {
		t.Errorf("callback %+v, want 0 items deleted, complete", g)
	}
}

func TestGCServiceNeedsWebhook(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})
	for _, path := range []string{"/v1/services/message/gc", "/v1/services/media/gc"} {
		a.do("PUT", path, nil, a.admin).wantError(http.StatusPreconditionFailed, waent.CodeWebhookURLMissing)
	}
	// Without a token the request never reaches the collector.
	if res := a.do("PUT", "/v1/services/message/gc", nil, ""); res.status != http.StatusUnauthorized {
		t.Errorf("no token: %d %s", res.status, res.raw)
	}
}
