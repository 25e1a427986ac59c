package httpapi

import "net/http"

func (h *Handler) sendMessage(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) markRead(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
