package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/waent/waent"
)

// APIVersion is the On-Premises release whose /v1 surface this package
// reproduces; it is what meta.version says unless Options.Version is set.
const APIVersion = "v2.45.1"

// Options tune a Handler. The zero value is usable.
type Options struct {
	// Version is reported in every response's meta.version. Default
	// APIVersion.
	Version string
	// APIKey, when set, is accepted as "Authorization: Apikey <key>" on
	// the health, stats and metrics paths (On-Premises: WA_API_KEY). It
	// must be 12–128 characters.
	APIKey string
	// Prefix is the path the handler is mounted under when the mux in
	// front of it does not strip it (chi's Mount, say): "/wa" makes
	// "/wa/v1/health" the health path. With http.StripPrefix leave it
	// empty.
	Prefix string
	// MaxBodyBytes bounds JSON request bodies. Default 1 MiB; larger
	// bodies get 400 / 1009.
	MaxBodyBytes int64
	// MaxMediaBytes bounds media and photo uploads. Default 100 MiB.
	MaxMediaBytes int64
	// Logger receives request failures (never bodies). Default the
	// Client's logger, else slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Node labels this handler's metrics (On-Premises: the container's
	// host name). Default os.Hostname().
	Node string
	// Routes are application routes served beside /v1 with its
	// authentication and envelope.
	Routes []Route
}

// Handler serves the /v1 API over one Client. It holds no global state:
// several Handlers (different clients, prefixes, keys) can share a
// process.
type Handler struct {
	c      *waent.Client
	opts   Options
	log    *slog.Logger
	routes []*route
	obs    *observer
}

// New returns the /v1 handler for c. It fails only on invalid Options.
func New(c *waent.Client, opts Options) (*Handler, error) {
	if c == nil {
		return nil, errors.New("httpapi: nil Client")
	}
	if opts.Version == "" {
		opts.Version = APIVersion
	}
	if opts.APIKey != "" && (len(opts.APIKey) < 12 || len(opts.APIKey) > 128) {
		return nil, errors.New("httpapi: Options.APIKey must be 12 to 128 characters")
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	if opts.Prefix != "" && !strings.HasPrefix(opts.Prefix, "/") {
		return nil, errors.New("httpapi: Options.Prefix must start with /")
	}
	for _, r := range opts.Routes {
		if err := r.check(); err != nil {
			return nil, err
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.MaxMediaBytes <= 0 {
		opts.MaxMediaBytes = 100 << 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{c: c, opts: opts, log: opts.Logger}
	h.routes = h.table()
	h.obs = newObserver(h)
	return h, nil
}

type ctxKey int

const principalKey ctxKey = iota

// principalOf is who made the request, as authenticated for its route.
func principalOf(r *http.Request) principal {
	p, _ := r.Context().Value(principalKey).(principal)
	return p
}

// ServeHTTP routes, authenticates and authorises a request, then runs its
// handler; every failure on the way is an On-Premises error envelope.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	defer h.obs.begin()()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	path := r.URL.Path
	if h.opts.Prefix != "" {
		rest, ok := strings.CutPrefix(path, h.opts.Prefix)
		if !ok || (rest != "" && rest[0] != '/') {
			h.fail(rec, r, waent.NewError(waent.CodeResourceNotFound, "URL path not found"))
			h.obs.request(r, nil, rec.status, h.opts.Now().Sub(start))
			return
		}
		path = rest
	}
	rt, params, allowed := h.match(r.Method, path)
	switch {
	case rt == nil && len(allowed) > 0:
		rec.Header().Set("Allow", strings.Join(allowed, ", "))
		h.failStatus(rec, r, http.StatusMethodNotAllowed, waent.NewError(waent.CodeResourceNotFound, "Method "+r.Method+" not allowed on this path"))
	case rt == nil:
		h.fail(rec, r, waent.NewError(waent.CodeResourceNotFound, "URL path not found"))
	default:
		for k, v := range params {
			r.SetPathValue(k, v)
		}
		p, status, err := h.authenticate(r, rt)
		if err != nil {
			h.failStatus(rec, r, status, err)
			break
		}
		if !p.role.atLeast(rt.role) {
			h.failStatus(rec, r, http.StatusForbidden, waent.NewError(waent.CodeAccessDenied, "User doesn't have permission"))
			break
		}
		r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		rt.serve(rec, r)
	}
	h.obs.request(r, rt, rec.status, h.opts.Now().Sub(start))
}

// statusRecorder remembers the status for the request metrics.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status, s.wroteHeader = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// principal is who a request authenticated as.
type principal struct {
	username string // "" for the API key
	role     Role
	apiKey   bool
	token    string // the bearer token presented, for logout
}

// notImplemented answers a route this build does not serve yet.
func (h *Handler) notImplemented(w http.ResponseWriter, r *http.Request) {
	h.failStatus(w, r, http.StatusNotImplemented, waent.NewError(waent.CodeGeneric, "not implemented in this build"))
}

// Respond writes a success in the /v1 envelope: payload's keys (a struct
// or map that marshals to a JSON object; nil for none), then meta. For
// the handlers of Options.Routes.
func (h *Handler) Respond(w http.ResponseWriter, status int, payload any) {
	h.respond(w, status, payload)
}

// Fail writes err in the /v1 errors envelope with the HTTP status its
// On-Premises code maps to; an error without a code is a 500 / 1014. For
// the handlers of Options.Routes.
func (h *Handler) Fail(w http.ResponseWriter, r *http.Request, err error) {
	h.fail(w, r, err)
}

// DecodeJSON reads a JSON request body into v as /v1 does: bounded by
// MaxBodyBytes, 400 / 1025 for malformed JSON. The error is ready for Fail.
func (h *Handler) DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return h.decodeJSON(w, r, v, false)
}
