package httpapi

import (
	"net/http"
	"time"
)

// observer records request metrics.
type observer struct{}

func newObserver(h *Handler) *observer { return &observer{} }

// request records one served request; rt is nil for unknown paths.
func (o *observer) request(r *http.Request, rt *route, status int, took time.Duration) {}
