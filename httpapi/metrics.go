package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/waent/waent"
)

// The metric names follow On-Premises where its documentation names
// them (callback_queue_size, callback_requests, callback_requests_duration_ms,
// db_pending_callbacks, db_pending_messages, web_uptime,
// api_requests_duration_ms); the others are waent's own.

// unknownRoute labels requests that matched no route, so that scanners
// probing random paths cannot grow the label set.
const unknownRoute = "unknown"

// dbStatsTimeout bounds the store queries of one /v1/stats/db scrape:
// prometheus collectors get no request context to carry a deadline.
const dbStatsTimeout = 10 * time.Second

// observer owns the Handler's three metric registries: the webapp's
// request metrics (/metrics), the coreapp's in-memory stats
// (/v1/stats/app) and the database's (/v1/stats/db). Each is a private
// registry, never the process-wide default, so Handlers do not see each
// other's numbers.
type observer struct {
	node string
	web  *prometheus.Registry
	app  *prometheus.Registry
	db   *prometheus.Registry

	duration *prometheus.HistogramVec
	requests *prometheus.GaugeVec
}

func newObserver(h *Handler) *observer {
	// On-Premises labelled webapp metrics with the container's host name.
	node := h.opts.Node
	if node == "" {
		var err error
		if node, err = os.Hostname(); err != nil || node == "" {
			node = "waent"
		}
	}
	start := h.opts.Now()
	o := &observer{
		node: node,
		web:  prometheus.NewRegistry(),
		app:  prometheus.NewRegistry(),
		db:   prometheus.NewRegistry(),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:        "api_requests_duration_ms",
			Help:        "Duration of API requests in milliseconds",
			ConstLabels: prometheus.Labels{"node": node},
			// From a health check to a media upload over a slow link.
			Buckets: []float64{1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000},
		}, []string{"result", "method"}),
		requests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name:        "web_requests",
			Help:        "Requests being served, by state",
			ConstLabels: prometheus.Labels{"node": node},
		}, []string{"state"}),
	}
	o.web.MustRegister(o.duration, o.requests, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "web_uptime",
		Help:        "Number of seconds since web server has started",
		ConstLabels: prometheus.Labels{"node": node},
	}, func() float64 { return math.Floor(h.opts.Now().Sub(start).Seconds()) }))
	o.app.MustRegister(newAppCollector(h.c))
	o.db.MustRegister(newDBCollector(h.c))
	return o
}

// begin counts a request in progress until the returned func is called.
// On-Premises split "read" (body being read) from "handle-request"; a
// handler here reads its body as it handles it, so both are one state.
func (o *observer) begin() func() {
	g := o.requests.WithLabelValues("handle-request")
	g.Inc()
	return g.Dec
}

// request records one served request; rt is nil for unknown paths.
func (o *observer) request(r *http.Request, rt *route, status int, took time.Duration) {
	method := unknownRoute
	if rt != nil {
		method = rt.metric
	}
	o.duration.WithLabelValues(strconv.Itoa(status), method).Observe(float64(took) / float64(time.Millisecond))
}

// gatewayStatus is the /v1/health value of a Client's state.
func gatewayStatus(s waent.Stats) string {
	switch {
	case !s.Initialized:
		return "uninitialized"
	case s.Health == waent.HealthStopped:
		// Closed: no connection, and none coming.
		return "disconnected"
	}
	return string(s.Health)
}

// appCollector reads the Client's in-memory stats at scrape time.
type appCollector struct {
	c                                                    *waent.Client
	queue, requests, duration, inFlight, events, decrypt *prometheus.Desc
	gateway, ready                                       *prometheus.Desc
}

func newAppCollector(c *waent.Client) *appCollector {
	return &appCollector{
		c: c,
		queue: prometheus.NewDesc("callback_queue_size",
			"Current callback queue size", nil, nil),
		requests: prometheus.NewDesc("callback_requests",
			"Total number of callback requests made", []string{"result", "type"}, nil),
		duration: prometheus.NewDesc("callback_requests_duration_ms",
			"Duration (ms) of callback requests, failures included", nil, nil),
		inFlight: prometheus.NewDesc("callback_requests_in_flight",
			"Callback requests currently being made", nil, nil),
		events: prometheus.NewDesc("callback_events_delivered",
			"Total number of callbacks delivered (several may share one request)", []string{"type"}, nil),
		decrypt: prometheus.NewDesc("in_message_decrypt_failed",
			"Total number of incoming messages that could not be decrypted", nil, nil),
		gateway: prometheus.NewDesc("gateway_status",
			"1 for the current gateway status of /v1/health, 0 for the others", []string{"status"}, nil),
		ready: prometheus.NewDesc("gateway_ready",
			"1 when messages are accepted (connected and offline messages processed)", nil, nil),
	}
}

func (a *appCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{a.queue, a.requests, a.duration, a.inFlight, a.events, a.decrypt, a.gateway, a.ready} {
		ch <- d
	}
}

func (a *appCollector) Collect(ch chan<- prometheus.Metric) {
	s := a.c.Stats()
	cb := s.Callbacks
	ch <- prometheus.MustNewConstMetric(a.queue, prometheus.GaugeValue, float64(cb.Queued))
	ch <- prometheus.MustNewConstMetric(a.inFlight, prometheus.GaugeValue, float64(cb.InFlight))
	// The known kinds always appear, so a dashboard sees zeros rather
	// than no series before the first callback.
	kinds := []string{waent.KindInbound, waent.KindStatus, waent.KindSystem}
	for k := range cb.ByKind {
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	for _, k := range kinds {
		ks := cb.ByKind[k]
		ch <- prometheus.MustNewConstMetric(a.requests, prometheus.CounterValue, float64(ks.Success), "success", k)
		ch <- prometheus.MustNewConstMetric(a.requests, prometheus.CounterValue, float64(ks.Failure), "failure", k)
		ch <- prometheus.MustNewConstMetric(a.events, prometheus.CounterValue, float64(ks.Events), k)
	}
	// The dispatcher keeps only a sum and a count, hence no buckets.
	ch <- prometheus.MustNewConstHistogram(a.duration, cb.LatencyCount,
		float64(cb.LatencySum)/float64(time.Millisecond), nil)
	ch <- prometheus.MustNewConstMetric(a.decrypt, prometheus.CounterValue, float64(s.DecryptFailures))
	cur := gatewayStatus(s)
	for _, st := range []string{"connected", "connecting", "disconnected", "uninitialized", "unregistered"} {
		ch <- prometheus.MustNewConstMetric(a.gateway, prometheus.GaugeValue, boolValue(st == cur), st)
	}
	ch <- prometheus.MustNewConstMetric(a.ready, prometheus.GaugeValue, boolValue(s.Ready))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// dbCollector counts rows in the store at scrape time.
type dbCollector struct {
	c                                         *waent.Client
	callbacks, messages, preKeys, users, took *prometheus.Desc
}

func newDBCollector(c *waent.Client) *dbCollector {
	return &dbCollector{
		c: c,
		callbacks: prometheus.NewDesc("db_pending_callbacks",
			"Current number of pending callbacks in the database", nil, nil),
		messages: prometheus.NewDesc("db_pending_messages",
			"Current number of outgoing messages not yet acknowledged by the server", nil, nil),
		preKeys: prometheus.NewDesc("db_prekeys",
			"Current number of one-time prekeys in the database", []string{"state"}, nil),
		users: prometheus.NewDesc("db_users",
			"Current number of API users in the database", nil, nil),
		took: prometheus.NewDesc("db_stats_duration_us",
			"Time (microseconds) the database took to answer these counts", nil, nil),
	}
}

func (d *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{d.callbacks, d.messages, d.preKeys, d.users, d.took} {
		ch <- desc
	}
}

func (d *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), dbStatsTimeout)
	defer cancel()
	s, err := d.c.DBStats(ctx)
	if err != nil {
		// Gather reports it, and the handler answers with the error
		// rather than with numbers that are not there.
		ch <- prometheus.NewInvalidMetric(d.callbacks, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(d.callbacks, prometheus.GaugeValue, float64(s.PendingCallbacks))
	ch <- prometheus.MustNewConstMetric(d.messages, prometheus.GaugeValue, float64(s.PendingMessages))
	ch <- prometheus.MustNewConstMetric(d.preKeys, prometheus.GaugeValue, float64(s.PreKeysUploaded), "uploaded")
	ch <- prometheus.MustNewConstMetric(d.preKeys, prometheus.GaugeValue, float64(s.PreKeys-s.PreKeysUploaded), "not_uploaded")
	ch <- prometheus.MustNewConstMetric(d.users, prometheus.GaugeValue, float64(s.Users))
	ch <- prometheus.MustNewConstMetric(d.took, prometheus.GaugeValue, float64(s.Took.Microseconds()))
}

// metricJSON is one metric of the JSON form of stats and metrics, as
// On-Premises wrote it.
type metricJSON struct {
	Type string       `json:"type"`
	Help string       `json:"help"`
	Data []sampleJSON `json:"data"`
}

type sampleJSON struct {
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// familiesJSON converts gathered metric families to the JSON form.
// Histograms and summaries become their _sum and _count counters, as
// On-Premises listed them (api_requests_duration_ms_sum); their buckets
// are only in the Prometheus format. Non-finite values, which JSON
// cannot carry, are left out.
func familiesJSON(mfs []*dto.MetricFamily) map[string]metricJSON {
	out := make(map[string]metricJSON, len(mfs))
	add := func(name, typ, help string, labels map[string]string, v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		m, ok := out[name]
		if !ok {
			m = metricJSON{Type: typ, Help: help, Data: []sampleJSON{}}
		}
		m.Data = append(m.Data, sampleJSON{Labels: labels, Value: v})
		out[name] = m
	}
	for _, mf := range mfs {
		name, help := mf.GetName(), mf.GetHelp()
		for _, m := range mf.GetMetric() {
			var labels map[string]string
			for _, lp := range m.GetLabel() {
				if labels == nil {
					labels = map[string]string{}
				}
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, "counter", help, labels, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, "gauge", help, labels, m.GetGauge().GetValue())
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				h := m.GetHistogram()
				add(name+"_sum", "counter", help+" (sum)", labels, h.GetSampleSum())
				add(name+"_count", "counter", help+" (count)", labels, float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				add(name+"_sum", "counter", help+" (sum)", labels, s.GetSampleSum())
				add(name+"_count", "counter", help+" (count)", labels, float64(s.GetSampleCount()))
			default:
				add(name, "untyped", help, labels, m.GetUntyped().GetValue())
			}
		}
	}
	return out
}

// serveRegistry answers with reg's metrics under key, in JSON or, with
// ?format=prometheus, in the Prometheus text format. wrap nests the JSON
// metrics in the response payload.
func (h *Handler) serveRegistry(w http.ResponseWriter, r *http.Request, reg *prometheus.Registry, wrap func(map[string]metricJSON) any) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "prometheus" {
		h.fail(w, r, waent.NewError(waent.CodeInvalidParameter, "Parameter 'format' has invalid value '"+format+"': use 'prometheus' or leave it out"))
		return
	}
	mfs, err := reg.Gather()
	if err != nil {
		h.fail(w, r, gatherError(err))
		return
	}
	if format != "prometheus" {
		h.respond(w, http.StatusOK, wrap(familiesJSON(mfs)))
		return
	}
	w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	w.WriteHeader(http.StatusOK)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			// The status is sent; all that is left is to stop.
			return
		}
	}
}

// gatherError finds the Client's error (a store failure, say) among
// what a registry's Gather collected.
func gatherError(err error) error {
	errs := []error{err}
	var me prometheus.MultiError
	if errors.As(err, &me) {
		errs = me
	}
	for _, e := range errs {
		var we *waent.Error
		if errors.As(e, &we) {
			return we
		}
	}
	return err
}
