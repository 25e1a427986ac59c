package httpapi

import (
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/waent/waent"
)

// health answers GET /v1/health for a single instance (onprem-api.md
// §3.11). It reads only memory, so orchestrators may poll it freely.
func (h *Handler) health(w http.ResponseWriter, r *http.Request) {
	type gateway struct {
		GatewayStatus string `json:"gateway_status"`
	}
	h.respond(w, http.StatusOK, struct {
		Health gateway `json:"health"`
	}{gateway{gatewayStatus(h.c.Stats())}})
}

// statsApp answers GET /v1/stats/app (and /internal, which a single
// instance has nothing more to add to): the coreapp's in-memory stats.
func (h *Handler) statsApp(w http.ResponseWriter, r *http.Request) {
	h.serveRegistry(w, r, h.obs.app, func(m map[string]metricJSON) any {
		return map[string]any{"stats": map[string]any{"app": m}}
	})
}

// statsDB answers GET /v1/stats/db (and /internal): row counts of the
// store, counted when asked.
func (h *Handler) statsDB(w http.ResponseWriter, r *http.Request) {
	h.serveRegistry(w, r, h.obs.db, func(m map[string]metricJSON) any {
		return map[string]any{"stats": map[string]any{"db": m}}
	})
}

// metrics answers GET /metrics and /v1/metrics: the webapp's request
// metrics.
func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) {
	h.serveRegistry(w, r, h.obs.web, func(m map[string]metricJSON) any {
		return map[string]any{"metrics": m}
	})
}

// supportInfo is the single-instance payload of GET /v1/support. Fields
// On-Premises had that mean nothing here (free space of its volumes,
// schema versions of its databases, the build's expiry, the HA shard
// table and role) are left out.
type supportInfo struct {
	DBEngine      string    `json:"db_engine"`
	DebugInfo     string    `json:"debug_info"`
	Description   string    `json:"description"`
	DeviceISO8601 string    `json:"device_iso8601"`
	E2E           e2eInfo   `json:"e2e"`
	MultiConnect  bool      `json:"multi_connect"`
	OSName        string    `json:"os_name"`
	OSVersion     string    `json:"os_version,omitempty"`
	SocketConn    string    `json:"socket_conn"`
	GoVersion     string    `json:"go_version"`
	Callbacks     queueInfo `json:"callbacks"`
}

type e2eInfo struct {
	IdentityTimestamp int64  `json:"identity_timestamp,omitempty"`
	RegistrationID    uint32 `json:"registration_id,omitempty"`
}

type queueInfo struct {
	Queued          int    `json:"queued"`
	Delivered       uint64 `json:"delivered"`
	FailedRequests  uint64 `json:"failed_requests"`
	DecryptFailures int64  `json:"decrypt_failures"`
}

// support answers GET /v1/support with what a support ticket needs.
func (h *Handler) support(w http.ResponseWriter, r *http.Request) {
	s := h.c.Stats()
	// A database that does not answer is worth reporting, not failing
	// the request over: the backend name comes without a query.
	db, _ := h.c.DBStats(r.Context())
	info := supportInfo{
		DBEngine:      dbEngine(db.Backend),
		DebugInfo:     s.WAID,
		Description:   "waent " + h.opts.Version,
		DeviceISO8601: h.opts.Now().UTC().Format(time.RFC3339),
		E2E:           e2eInfo{RegistrationID: s.RegistrationID},
		MultiConnect:  s.Shards > 1,
		OSName:        runtime.GOOS + "/" + runtime.GOARCH,
		OSVersion:     osVersion(),
		SocketConn:    socketConn(s),
		GoVersion:     runtime.Version(),
		Callbacks: queueInfo{Queued: s.Callbacks.Queued, Delivered: s.Callbacks.Events,
			FailedRequests: s.Callbacks.Failure, DecryptFailures: s.DecryptFailures},
	}
	if info.DebugInfo == "" {
		info.DebugInfo = "unregistered"
	}
	if !s.IdentityCreatedAt.IsZero() {
		info.E2E.IdentityTimestamp = s.IdentityCreatedAt.Unix()
	}
	h.respond(w, http.StatusOK, struct {
		Support supportInfo `json:"support"`
	}{info})
}

// dbEngine names a backend as On-Premises' db_engine did.
func dbEngine(backend string) string {
	switch backend {
	case "mysql":
		return "MYSQL"
	case "postgres":
		return "PGSQL"
	case "sqlite":
		return "SQLITE"
	}
	return "UNKNOWN"
}

// socketConn is On-Premises' socket_conn: UP, UP receiving offline
// (connected, backlog not yet processed), SC (connecting), DN (down), UNK.
func socketConn(s waent.Stats) string {
	switch {
	case !s.Initialized:
		return "UNK"
	case s.Health == waent.HealthConnected && s.Ready:
		return "UP"
	case s.Health == waent.HealthConnected:
		return "UP receiving offline"
	case s.Health == waent.HealthConnecting:
		return "SC"
	}
	return "DN"
}

// osVersion is the kernel release where the OS publishes it without a
// system call that would tie this file to one platform.
func osVersion() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
