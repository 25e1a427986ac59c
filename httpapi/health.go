package httpapi

import "net/http"

func (h *Handler) health(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) statsApp(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) statsDB(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) support(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
