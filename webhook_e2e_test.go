package waent_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

// TestWebhookEndToEnd: callbacks reach a real HTTPS receiver, signed,
// after it has refused the first ones; nothing is lost and the queue
// drains.
func TestWebhookEndToEnd(t *testing.T) {
	const secret = "a-shared-secret-of-some-length"
	var (
		mu       sync.Mutex
		inbound  = map[string]int{}
		statuses = map[string]string{}
		refusals atomic.Int32
		badSigs  atomic.Int32
	)
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// An independent check of the Standard Webhooks signature.
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%s.%s.%s", r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), body)
		if !strings.Contains(r.Header.Get("webhook-signature"), "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil))) {
			badSigs.Add(1)
		}
		if refusals.Add(1) <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable) // down for a while
			return
		}
		var p struct {
			Messages []struct{ ID string } `json:"messages"`
			Statuses []struct{ ID, Status string }
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("callback body %s: %v", body, err)
		}
		mu.Lock()
		for _, m := range p.Messages {
			inbound[m.ID]++
		}
		for _, s := range p.Statuses {
			statuses[s.ID] = s.Status
		}
		mu.Unlock()
	}))
	defer recv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw})

	net := waenttest.New(t)
	st := memstore.New()
	cfg := testConfig(net, st)
	cfg.WebhookSecrets, cfg.WebhookCACertPEM = []string{secret}, caPEM
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	// Settings read at start: a short retry step for the test.
	if _, err := c.UpdateSettings(ctx, func(s *waent.Settings) {
		s.Webhooks.URL = recv.URL
		s.CallbackBackoffDelayMs = 20
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	register(t, net, c)
	waitFor(t, 20*time.Second, "ready", c.Ready)
	u := newUsers(t, net, 1)[0]
	var in, out []string
	for k := range 10 {
		id, err := u.SendText(ctx, business, fmt.Sprint("in ", k))
		if err != nil {
			t.Fatal(err)
		}
		in = append(in, id)
		id, err = c.Send(ctx, text(u.Phone(), fmt.Sprint("out ", k)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	waitFor(t, 20*time.Second, "every callback", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range in {
			if inbound[id] == 0 {
				return false
			}
		}
		for _, id := range out {
			if statuses[id] != "delivered" && statuses[id] != "read" {
				return false
			}
		}
		return true
	})
	waitFor(t, 5*time.Second, "empty callback queue", func() bool { n, _ := st.CallbackQueueLen(ctx); return n == 0 })
	if n := badSigs.Load(); n != 0 {
		t.Fatalf("%d callbacks with a bad signature", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range in {
		if inbound[id] != 1 {
			t.Errorf("inbound %s delivered %d times", id, inbound[id])
		}
	}
}

// TestOverloadedWhenWebhookFallsBehind: with callbacks piling up (no
// webhook URL), sends are refused with 1016 once the queue passes its
// bound, instead of the queue growing without end.
func TestOverloadedWhenWebhookFallsBehind(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	cfg := testConfig(net, st)
	cfg.MaxCallbackQueue = 5
	c := startClientConfig(t, net, cfg)
	ctx := context.Background()
	u := newUsers(t, net, 1)[0]
	if _, err := c.Send(ctx, text(u.Phone(), "fine")); err != nil {
		t.Fatal(err)
	}
	for k := range 10 {
		if _, err := u.SendText(ctx, business, fmt.Sprint("in ", k)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "1016", func() bool {
		_, err := c.Send(ctx, text(u.Phone(), "too much"))
		var we *waent.Error
		return errors.As(err, &we) && we.Code == waent.CodeOverloaded && we.HTTPStatus() == 503
	})
}

// Without a webhook URL callbacks wait (1022 says why); setting the URL
// delivers them promptly, with no failures or backoff accumulated.
func TestWebhookURLNotConfigured(t *testing.T) {
	var got atomic.Int32
	recv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"messages"`) {
			got.Add(1)
		}
	}))
	defer recv.Close()
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: recv.Certificate().Raw})

	net := waenttest.New(t)
	st := memstore.New()
	cfg := testConfig(net, st)
	cfg.WebhookCACertPEM = caPEM
	c := startClientConfig(t, net, cfg)
	ctx := context.Background()

	var we *waent.Error
	if err := c.WebhookConfigured(); !errors.As(err, &we) || we.Code != 1022 || we.HTTPStatus() != http.StatusPreconditionFailed {
		t.Fatalf("WebhookConfigured without a URL: %v", err)
	}
	u := newUsers(t, net, 1)[0]
	if _, err := u.SendText(ctx, c.WAID(), "anyone there?"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "callback queued", func() bool { return len(callbacksOf(t, st, waent.KindInbound)) == 1 })
	// Hold for a few polls: nothing is lost, nothing is rescheduled.
	time.Sleep(2500 * time.Millisecond)
	cbs, err := st.PendingCallbacks(ctx, 0, 10)
	if err != nil || len(cbs) != 1 || cbs[0].Attempts != 0 {
		t.Fatalf("queue while not configured: %+v %v", cbs, err)
	}

	if _, err := c.UpdateSettings(ctx, func(s *waent.Settings) { s.Webhooks.URL = recv.URL }); err != nil {
		t.Fatal(err)
	}
	if err := c.WebhookConfigured(); err != nil {
		t.Fatalf("WebhookConfigured with a URL: %v", err)
	}
	// Picked up by the dispatcher's poll (2 s), not after a backoff.
	waitFor(t, 5*time.Second, "delivered", func() bool { return got.Load() == 1 })
	waitFor(t, 5*time.Second, "queue empty", func() bool { return len(callbacksOf(t, st, waent.KindInbound)) == 0 })
}

// With callback_persist off the queue lives in memory: the database never
// holds a callback, and delivery works as usual.
func TestCallbackPersistOff(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	ctx := context.Background()
	if _, err := st.PutSettings(ctx, "application", []byte(`{"callback_persist":false}`), 0, time.Now()); err != nil {
		t.Fatal(err)
	}
	var open atomic.Bool
	var got atomic.Int32
	cfg := testConfig(net, st)
	cfg.Webhook = webhook.FuncSink(func(ctx context.Context, body []byte) error {
		if !open.Load() {
			return errors.New("receiver down")
		}
		if strings.Contains(string(body), `"messages"`) {
			got.Add(1)
		}
		return nil
	})
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	register(t, net, c)
	waitFor(t, 20*time.Second, "ready", c.Ready)
	if c.Settings().CallbackPersist {
		t.Fatal("callback_persist still on")
	}
	u := newUsers(t, net, 1)[0]
	id, err := u.SendText(ctx, c.WAID(), "hi")
	if err != nil {
		t.Fatal(err)
	}
	// The message is stored and acknowledged; its callback is only in
	// memory, waiting for the receiver.
	waitFor(t, 5*time.Second, "message stored", func() bool {
		_, err := st.GetMessage(ctx, id)
		return err == nil
	})
	time.Sleep(200 * time.Millisecond)
	if n, err := st.CallbackQueueLen(ctx); err != nil || n != 0 {
		t.Fatalf("database callback queue %d %v, want 0", n, err)
	}
	open.Store(true)
	waitFor(t, 10*time.Second, "delivered", func() bool { return got.Load() == 1 })
}
