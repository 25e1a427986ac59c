package httpapi

import "net/http"

func (h *Handler) checkContacts(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getIdentity(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) ackIdentity(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
