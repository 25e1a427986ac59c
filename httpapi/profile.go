package httpapi

import "net/http"

func (h *Handler) getAbout(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setAbout(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getPhoto(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setPhoto(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) deletePhoto(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) getBusinessProfile(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setBusinessProfile(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) setPIN(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }

func (h *Handler) deletePIN(w http.ResponseWriter, r *http.Request) { h.notImplemented(w, r) }
