package httpapi

import "net/http"

func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
