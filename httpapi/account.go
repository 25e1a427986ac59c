package httpapi

import (
	"net/http"

	"github.com/waent/waent"
)

type registerBody struct {
	CC          *string `json:"cc"`
	PhoneNumber *string `json:"phone_number"`
	Method      *string `json:"method"`
	Cert        string  `json:"cert"`
	VNameCert   string  `json:"vname_cert"` // the old webapp's name for cert
	Pin         string  `json:"pin"`
}

// requestCode is POST /v1/account: 202 with the display name when a code
// was sent, 201 with no payload when the number is already registered
// here. cert is optional here (the simulated network does not check it).
func (h *Handler) requestCode(w http.ResponseWriter, r *http.Request) {
	var b registerBody
	if err := h.decodeJSON(w, r, &b, false); err != nil {
		h.fail(w, r, err)
		return
	}
	for _, p := range []struct {
		name string
		v    *string
	}{{"cc", b.CC}, {"phone_number", b.PhoneNumber}, {"method", b.Method}} {
		if p.v == nil || *p.v == "" {
			h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter '"+p.name+"'"))
			return
		}
	}
	if b.Cert != "" && b.VNameCert != "" {
		h.fail(w, r, waent.NewError(waent.CodeParamNotRequired, "Exactly one of the following parameters must be present: cert, vname_cert"))
		return
	}
	cert := b.Cert
	if cert == "" {
		cert = b.VNameCert
	}
	res, err := h.c.Register(r.Context(), waent.RegisterRequest{CC: *b.CC, PhoneNumber: *b.PhoneNumber, Method: *b.Method, Cert: cert, Pin: b.Pin})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.AlreadyRegistered {
		h.respond(w, http.StatusCreated, nil)
		return
	}
	h.respond(w, http.StatusAccepted, map[string]any{"account": []map[string]string{{"vname": res.VName}}})
}

// verify is POST /v1/account/verify: 201 with no payload.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Code string `json:"code"`
	}
	if err := h.decodeJSON(w, r, &b, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.c.Verify(r.Context(), b.Code); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, nil)
}

func (h *Handler) getShards(w http.ResponseWriter, r *http.Request) {
	n, err := h.c.Shards(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, map[string]any{"account": map[string]int{"shards": n}})
}

// setShards stores the shard count; this build has no Multiconnect, so it
// changes nothing else.
func (h *Handler) setShards(w http.ResponseWriter, r *http.Request) {
	var b waent.ShardsRequest
	if err := h.decodeJSON(w, r, &b, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.c.SetShards(r.Context(), b); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, nil)
}
