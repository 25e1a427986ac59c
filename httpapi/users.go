package httpapi

import "net/http"

func (h *Handler) login(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
