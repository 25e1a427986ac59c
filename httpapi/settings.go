package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/waent/waent"
)

// getSettings answers GET /v1/settings/application with every setting in
// effect, webhooks.message.* resolved and wa_id filled in.
func (h *Handler) getSettings(w http.ResponseWriter, r *http.Request) {
	s := h.c.Settings().Effective()
	h.respond(w, http.StatusOK, map[string]any{"settings": map[string]any{"application": s}})
}

// patchSettings applies PATCH /v1/settings/application; the Client checks
// every field (1009 on a bad value or no documented field).
func (h *Handler) patchSettings(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := h.decodeJSON(w, r, &raw, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if _, err := h.c.PatchSettings(r.Context(), raw); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

// resetSettings restores the defaults (DELETE /v1/settings/application).
func (h *Handler) resetSettings(w http.ResponseWriter, r *http.Request) {
	if err := h.c.ResetSettings(r.Context()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

func (h *Handler) getProviders(w http.ResponseWriter, r *http.Request) {
	ps, err := h.c.MediaProviders(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, map[string]any{"settings": map[string]any{"application": map[string]any{
		"media": map[string]any{"providers": ps}}}})
}

// setProviders takes the documented one-element array of providers (a
// bare object is accepted too) and adds or replaces that provider.
func (h *Handler) setProviders(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := h.decodeJSON(w, r, &raw, false); err != nil {
		h.fail(w, r, err)
		return
	}
	var list []waent.MediaProvider
	var err error
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		list = make([]waent.MediaProvider, 1)
		err = json.Unmarshal(t, &list[0])
	} else {
		err = json.Unmarshal(t, &list)
	}
	switch {
	case err != nil:
		h.fail(w, r, waent.NewError(waent.CodeInvalidRequest, "Unable to decode the request: "+jsonErrorText(err)))
		return
	case len(list) == 0:
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Request had no (empty) content"))
		return
	case len(list) > 1:
		h.fail(w, r, waent.NewError(waent.CodeInvalidParameter, "Only one media provider can be set per request"))
		return
	}
	if err := h.c.SetMediaProvider(r.Context(), list[0]); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

func (h *Handler) deleteProvider(w http.ResponseWriter, r *http.Request) {
	if err := h.c.DeleteMediaProvider(r.Context(), r.PathValue("name")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}
