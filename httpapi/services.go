package httpapi

import "net/http"

func (h *Handler) messageGC(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) mediaGC(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
