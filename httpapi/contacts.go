package httpapi

import (
	"fmt"
	"net/http"

	"github.com/waent/waent"
)

// contactEntry is one entry of the POST /v1/contacts answer; wa_id is
// there only for a valid number, as On-Premises answered.
type contactEntry struct {
	Input  string `json:"input"`
	Status string `json:"status"`
	WAID   string `json:"wa_id,omitempty"`
}

type contactsAnswer struct {
	Contacts []contactEntry `json:"contacts"`
}

// checkContacts serves POST /v1/contacts (onprem-api.md §3.3): which
// numbers, in any format, are on WhatsApp and under which wa_id.
// "blocking":"wait" answers after the check; "no_wait" (the default)
// answers "processing" for numbers not in the cache.
func (h *Handler) checkContacts(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Blocking   string   `json:"blocking"`
		Contacts   []string `json:"contacts"`
		ForceCheck bool     `json:"force_check"`
	}
	if err := h.decodeJSON(w, r, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	// The Client checks these too; checking here keeps the webapp's
	// detail strings whatever the Client says.
	switch {
	case len(req.Contacts) == 0:
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'contacts'"))
		return
	case req.Blocking != "" && req.Blocking != "wait" && req.Blocking != "no_wait":
		h.fail(w, r, waent.NewError(waent.CodeInvalidParameter,
			fmt.Sprintf("Parameter 'blocking' has invalid value '%s'", clipValue(req.Blocking))))
		return
	}
	res, err := h.c.CheckContacts(r.Context(), waent.ContactsRequest{
		Blocking: req.Blocking, Contacts: req.Contacts, ForceCheck: req.ForceCheck,
	})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := contactsAnswer{Contacts: make([]contactEntry, len(res))}
	for i, c := range res {
		out.Contacts[i] = contactEntry{Input: c.Input, Status: string(c.Status), WAID: c.WAID}
	}
	h.respond(w, http.StatusOK, out)
}

// identityEntry is a peer's identity as GET .../identity shows it.
// created_timestamp is in milliseconds, as On-Premises documented.
type identityEntry struct {
	Hash             string `json:"hash"`
	CreatedTimestamp int64  `json:"created_timestamp"`
	Acknowledged     bool   `json:"acknowledged"`
}

// identityAnswer carries "contacts" as one object, not an array: that is
// the shape of every published example of this endpoint (the reference
// page and the Postman collection), and one wa_id has one identity.
type identityAnswer struct {
	Contacts identityEntry `json:"contacts"`
}

// identityWAID returns the {wa_id} path parameter, or a 1009 when it
// cannot be a WhatsApp id: the Client strips non-digits, which would turn
// "abc" into an empty address the store rejects as an internal error.
func identityWAID(r *http.Request) (string, error) {
	id := r.PathValue("wa_id")
	digits := id
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	ok := len(digits) > 0 && len(digits) <= 20
	for i := 0; ok && i < len(digits); i++ {
		ok = digits[i] >= '0' && digits[i] <= '9'
	}
	if !ok {
		return "", waent.NewError(waent.CodeInvalidParameter,
			fmt.Sprintf("Parameter 'wa_id' has invalid value '%s'", clipValue(id)))
	}
	return digits, nil
}

// getIdentity serves GET /v1/contacts/{wa_id}/identity: the peer's
// current identity hash and whether its latest change was acknowledged.
// 404 / 1006 when no identity is on record.
func (h *Handler) getIdentity(w http.ResponseWriter, r *http.Request) {
	waID, err := identityWAID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := h.c.Identity(r.Context(), waID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, identityAnswer{Contacts: identityEntry{
		Hash: id.Hash, CreatedTimestamp: id.CreatedAt, Acknowledged: id.Acknowledged,
	}})
}

// ackIdentity serves PUT /v1/contacts/{wa_id}/identity {"hash":…}: it
// acknowledges the peer's latest identity change, so sends to it are
// accepted again. A hash other than the current one is 1009.
func (h *Handler) ackIdentity(w http.ResponseWriter, r *http.Request) {
	waID, err := identityWAID(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var req struct {
		Hash string `json:"hash"`
	}
	if err := h.decodeJSON(w, r, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if req.Hash == "" {
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'hash'"))
		return
	}
	if err := h.c.AcknowledgeIdentity(r.Context(), waID, req.Hash); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}
