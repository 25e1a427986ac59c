package httpapi

import "net/http"

func (h *Handler) setExternalCert(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getExternalCA(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getWebhookCA(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setWebhookCA(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) deleteWebhookCA(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
