// Package chi mounts the waent /v1 API in a chi router at a prefix,
// behind the application's own middleware, next to its own routes.
//
// chi's Mount does not strip the prefix from the request path, so the
// handler is told it (httpapi.Options.Prefix); with net/http's
// StripPrefix the option stays empty (see examples/embed).
package chi

import (
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
)

// Prefix is where the /v1 API lives in this application.
const Prefix = "/wa"

// NewRouter returns the application's router: its own routes, and the
// On-Premises API under Prefix (so POST /wa/v1/messages sends).
func NewRouter(c *waent.Client, log *slog.Logger) (http.Handler, error) {
	api, err := httpapi.New(c, httpapi.Options{Prefix: Prefix, Logger: log})
	if err != nil {
		return nil, err
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer)
	r.Get("/", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("my application\n"))
	})
	r.Mount(Prefix, api)
	return r, nil
}
