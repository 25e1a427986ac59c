package httpapi

import "net/http"

func (h *Handler) getSettings(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) patchSettings(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) resetSettings(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getProviders(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setProviders(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) deleteProvider(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
