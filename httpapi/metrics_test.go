package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

type hmMetric struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Data []struct {
		Labels map[string]string `json:"labels"`
		Value  float64           `json:"value"`
	} `json:"data"`
}

// value is the sample whose labels include want, or -1.
func (m hmMetric) value(want map[string]string) float64 {
	for _, d := range m.Data {
		ok := true
		for k, v := range want {
			ok = ok && d.Labels[k] == v
		}
		if ok {
			return d.Value
		}
	}
	return -1
}

func hmStatsApp(t *testing.T, a *api) map[string]hmMetric {
	t.Helper()
	res := a.do("GET", "/v1/stats/app", nil, hmKey())
	if res.status != http.StatusOK {
		t.Fatalf("stats/app: %d %s", res.status, res.raw)
	}
	var out struct {
		Stats struct {
			App map[string]hmMetric `json:"app"`
		} `json:"stats"`
	}
	res.decode(&out)
	return out.Stats.App
}

func hmParse(t *testing.T, res response) map[string]*dto.MetricFamily {
	t.Helper()
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("prometheus format: %d %s %s", res.status, res.header.Get("Content-Type"), res.raw)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(res.raw))
	if err != nil {
		t.Fatalf("parse %s: %v", res.raw, err)
	}
	return mfs
}

func hmLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// TestStatsAppCallbacks: a delivered inbound message moves the callback
// counters of /v1/stats/app, in JSON and in the Prometheus format.
func TestStatsAppCallbacks(t *testing.T) {
	var delivered atomic.Int32
	a := newAPI(t, apiOptions{opts: httpapi.Options{APIKey: hmAPIKey}, cfg: func(c *waent.Config) {
		c.Webhook = webhook.FuncSink(func(context.Context, []byte) error {
			delivered.Add(1)
			return nil
		})
	}})
	inbound := map[string]string{"result": "success", "type": waent.KindInbound}
	app := hmStatsApp(t, a)
	q, ok := app["callback_queue_size"]
	if !ok || q.Type != "gauge" || q.Help == "" || len(q.Data) != 1 || q.Data[0].Labels != nil {
		t.Fatalf("callback_queue_size: %+v", q)
	}
	if r := app["callback_requests"]; r.Type != "counter" || r.value(inbound) != 0 {
		t.Fatalf("callback_requests before any callback: %+v", r)
	}
	if g := app["gateway_status"]; g.value(map[string]string{"status": "connected"}) != 1 || g.value(map[string]string{"status": "unregistered"}) != 0 {
		t.Errorf("gateway_status: %+v", g)
	}

	u, err := a.net.NewUser("447700900123", waenttest.UserOptions{PushName: "Monitor"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.SendText(context.Background(), businessCC+businessNumber, "hello"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		app = hmStatsApp(t, a)
		if app["callback_requests"].value(inbound) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("callback_requests never counted the inbound callback (%d delivered): %+v", delivered.Load(), app["callback_requests"])
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := app["callback_events_delivered"].value(map[string]string{"type": waent.KindInbound}); n < 1 {
		t.Errorf("callback_events_delivered %v", n)
	}
	if n := app["callback_requests_duration_ms_count"].value(nil); n < 1 {
		t.Errorf("callback_requests_duration_ms_count %v", n)
	}
	if n := app["callback_requests"].value(map[string]string{"result": "failure", "type": waent.KindInbound}); n != 0 {
		t.Errorf("failures %v with a sink that never fails", n)
	}

	mfs := hmParse(t, a.do("GET", "/v1/stats/app?format=prometheus", nil, hmKey()))
	if mf := mfs["callback_queue_size"]; mf == nil || mf.GetType() != dto.MetricType_GAUGE {
		t.Fatalf("callback_queue_size missing from the Prometheus format: %v", mf)
	}
	found := false
	for _, m := range mfs["callback_requests"].GetMetric() {
		if hmLabel(m, "result") == "success" && hmLabel(m, "type") == waent.KindInbound {
			found = m.GetCounter().GetValue() >= 1
		}
	}
	if !found {
		t.Errorf("callback_requests{result=success,type=inbound_message} not counted in %v", mfs["callback_requests"])
	}
	if h := mfs["callback_requests_duration_ms"]; h.GetType() != dto.MetricType_HISTOGRAM || h.GetMetric()[0].GetHistogram().GetSampleCount() < 1 {
		t.Errorf("callback_requests_duration_ms: %v", h)
	}
	// The /internal variant reports the same for a single instance.
	res := a.do("GET", "/v1/stats/app/internal", nil, hmKey())
	if res.status != http.StatusOK || !bytes.Contains(res.raw, []byte(`"callback_queue_size"`)) {
		t.Errorf("stats/app/internal: %d %s", res.status, res.raw)
	}
}

// TestStatsDB: row counts of the store, in both formats, and the
// store's error when it cannot count.
func TestStatsDB(t *testing.T) {
	st := &hmFailingStore{Store: memstore.New()}
	a := hmUnstarted(t, st)
	ctx := context.Background()
	now := time.Now()
	if err := st.EnqueueCallbacks(ctx, []store.Callback{{Kind: waent.KindStatus, Payload: []byte(`{}`), NextAttemptAt: now, CreatedAt: now}}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/stats/db", "/v1/stats/db/internal"} {
		res := a.do("GET", path, nil, hmKey())
		if res.status != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.status, res.raw)
		}
		var out struct {
			Stats struct {
				DB map[string]hmMetric `json:"db"`
			} `json:"stats"`
		}
		res.decode(&out)
		db := out.Stats.DB
		if m := db["db_pending_callbacks"]; m.Type != "gauge" || m.value(nil) != 1 {
			t.Errorf("%s: db_pending_callbacks %+v", path, m)
		}
		if m := db["db_pending_messages"]; m.Type != "gauge" || m.value(nil) != 0 {
			t.Errorf("%s: db_pending_messages %+v", path, m)
		}
	}
	mfs := hmParse(t, a.do("GET", "/v1/stats/db?format=prometheus", nil, hmKey()))
	if got := mfs["db_pending_callbacks"].GetMetric(); len(got) != 1 || got[0].GetGauge().GetValue() != 1 {
		t.Errorf("db_pending_callbacks in the Prometheus format: %v", got)
	}
	st.fail.Store(true)
	a.do("GET", "/v1/stats/db", nil, hmKey()).wantError(http.StatusInternalServerError, waent.CodeDatabase)
	a.do("GET", "/v1/stats/db?format=prometheus", nil, hmKey()).wantError(http.StatusInternalServerError, waent.CodeDatabase)
	a.do("GET", "/v1/stats/app?format=xml", nil, hmKey()).wantError(http.StatusBadRequest, waent.CodeInvalidParameter)
}

// hmFailingStore fails its queue counts on demand.
type hmFailingStore struct {
	store.Store
	fail atomic.Bool
}

func (s *hmFailingStore) CallbackQueueLen(ctx context.Context) (int, error) {
	if s.fail.Load() {
		return 0, errors.New("database is down")
	}
	return s.Store.CallbackQueueLen(ctx)
}

// TestMetricsCountRequests: /metrics and /v1/metrics count requests by
// route label and HTTP status, with unknown paths under one label.
func TestMetricsCountRequests(t *testing.T) {
	a := hmUnstarted(t, memstore.New())
	for range 3 {
		hmGatewayStatus(t, a, hmKey())
	}
	a.do("GET", "/v1/health", nil, nil)           // 401
	a.do("GET", "/v1/no/such/path", nil, hmKey()) // 404
	a.do("GET", "/v1/another/one", nil, hmKey())  // 404

	res := a.do("GET", "/v1/metrics", nil, hmKey())
	if res.status != http.StatusOK {
		t.Fatalf("metrics: %d %s", res.status, res.raw)
	}
	var out struct {
		Metrics map[string]hmMetric `json:"metrics"`
	}
	res.decode(&out)
	count := out.Metrics["api_requests_duration_ms_count"]
	if count.Type != "counter" {
		t.Fatalf("api_requests_duration_ms_count: %+v", count)
	}
	if n := count.value(map[string]string{"method": "GET_v1_health", "result": "200"}); n != 3 {
		t.Errorf("GET_v1_health 200: %v, want 3", n)
	}
	if n := count.value(map[string]string{"method": "GET_v1_health", "result": "401"}); n != 1 {
		t.Errorf("GET_v1_health 401: %v, want 1", n)
	}
	if n := count.value(map[string]string{"method": "unknown", "result": "404"}); n != 2 {
		t.Errorf("unknown 404: %v, want 2", n)
	}
	if count.Data[0].Labels["node"] == "" {
		t.Errorf("no node label: %+v", count.Data[0])
	}
	if up := out.Metrics["web_uptime"]; up.Type != "gauge" || up.value(nil) < 0 {
		t.Errorf("web_uptime: %+v", up)
	}
	if _, ok := out.Metrics["api_requests_duration_ms_sum"]; !ok {
		t.Error("api_requests_duration_ms_sum missing")
	}
	// The scrape itself is the one request in progress.
	if wr := out.Metrics["web_requests"]; wr.Type != "gauge" || wr.value(map[string]string{"state": "handle-request"}) != 1 {
		t.Errorf("web_requests: %+v", wr)
	}

	mfs := hmParse(t, a.do("GET", "/metrics?format=prometheus", nil, hmKey()))
	h := mfs["api_requests_duration_ms"]
	if h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("api_requests_duration_ms: %v", h)
	}
	var health uint64
	for _, m := range h.GetMetric() {
		if hmLabel(m, "method") == "GET_v1_health" && hmLabel(m, "result") == "200" {
			health = m.GetHistogram().GetSampleCount()
		}
	}
	if health != 3 {
		t.Errorf("GET_v1_health 200 in the Prometheus format: %d, want 3", health)
	}
	if mfs["web_uptime"] == nil {
		t.Error("web_uptime missing from the Prometheus format")
	}
}
