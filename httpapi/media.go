package httpapi

import "net/http"

func (h *Handler) uploadMedia(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) downloadMedia(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) deleteMedia(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
