package httpapi

import (
	"context"
	"net/http"
)

// gcStarted is the answer to a garbage collection request: the run goes
// on in the background and reports through a services webhook.
func gcStarted(kind string) map[string]any {
	return map[string]any{"services": map[string]any{kind: map[string]any{"gc": map[string]string{"status": "processing"}}}}
}

// messageGC is PUT /v1/services/message/gc.
func (h *Handler) messageGC(w http.ResponseWriter, r *http.Request) {
	h.startGC(w, r, "message", h.c.RunMessageGC)
}

// mediaGC is PUT /v1/services/media/gc.
func (h *Handler) mediaGC(w http.ResponseWriter, r *http.Request) {
	h.startGC(w, r, "media", h.c.RunMediaGC)
}

func (h *Handler) startGC(w http.ResponseWriter, r *http.Request, kind string, run func(context.Context) error) {
	if err := run(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, gcStarted(kind))
}
