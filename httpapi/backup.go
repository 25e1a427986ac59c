package httpapi

import "net/http"

func (h *Handler) backup(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) restore(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
