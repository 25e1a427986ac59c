package httpapi

import "net/http"

func (h *Handler) requestCode(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) verify(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getShards(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setShards(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
