package httpapi

import (
	"net/http"

	"github.com/waent/waent"
)

// backup is POST /v1/settings/backup {"password"} →
// {"settings":{"data":"<base64 sealed backup>"}} (onprem-api.md §3.9).
// The key derivation is deliberately slow (argon2id, 64 MiB): about a
// second of CPU per call.
func (h *Handler) backup(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Password *string `json:"password"`
	}
	if err := h.decodeJSON(w, r, &b, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if b.Password == nil {
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'password'"))
		return
	}
	data, err := h.c.Backup(r.Context(), *b.Password)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, map[string]any{"settings": map[string]string{"data": data}})
}

// restore is POST /v1/settings/restore {"password","data"} → 200 with
// an empty payload. The body counts against Options.MaxBodyBytes like any
// other; a backup is typically well under 1 MiB (about 80 KB plus the
// profile photo and certificates).
func (h *Handler) restore(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Password *string `json:"password"`
		Data     *string `json:"data"`
	}
	if err := h.decodeJSONLimit(w, r, &b, false, max(h.opts.MaxBodyBytes, maxRestoreBody)); err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case b.Password == nil:
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'password'"))
		return
	case b.Data == nil:
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'data'"))
		return
	}
	if err := h.c.Restore(r.Context(), *b.Password, *b.Data); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

// maxRestoreBody bounds a restore request: a backup carries the profile
// photo and certificate bundles besides the keys, so it may outgrow the
// limit on parameter bodies.
const maxRestoreBody = 32 << 20
