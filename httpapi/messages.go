package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/waent/waent"
	"github.com/waent/waent/content"
)

// sentMessage is one entry of the POST /v1/messages answer.
type sentMessage struct {
	ID string `json:"id"`
}

type sendAnswer struct {
	Messages []sentMessage `json:"messages"`
}

// sendMessage serves POST /v1/messages (onprem-api.md §3.4): decode and
// validate as the webapp did, then hand the message to the Client, whose
// id means the message is durable. Answers 201, as the old webapp did.
func (h *Handler) sendMessage(w http.ResponseWriter, r *http.Request) {
	var raw json.RawMessage
	if err := h.decodeJSON(w, r, &raw, false); err != nil {
		h.fail(w, r, err)
		return
	}
	msg, err := decodeMessage(raw)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	id, err := h.c.Send(r.Context(), msg)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, sendAnswer{Messages: []sentMessage{{ID: id}}})
}

// decodeMessage turns a syntactically valid JSON body into a validated
// message. Validation runs here, before the Client is asked, so a bad
// request gets its parameter error whatever state the Client is in (the
// webapp checked requests before it spoke to the coreapp).
func decodeMessage(raw []byte) (*content.Outgoing, error) {
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		// DecodeOutgoing would name a Go type here; integrations only
		// need to know that the body has the wrong shape.
		return nil, waent.NewError(waent.CodeInvalidRequest, "Unable to decode the request: the body must be a JSON object")
	}
	msg, err := content.DecodeOutgoing(raw)
	if err != nil {
		return nil, fromContent(err)
	}
	if err := msg.Validate(); err != nil {
		var ce *content.Error
		if errors.As(err, &ce) && ce.Code == content.CodeUnsupportedType {
			// content reports an unknown type with 501, the webhook's code
			// for an unsupported inbound type; the webapp's request check
			// answered the parameter error.
			return nil, waent.NewError(waent.CodeInvalidParameter,
				fmt.Sprintf("Parameter 'type' has invalid value '%s'", clipValue(msg.Type)))
		}
		return nil, fromContent(err)
	}
	if msg.RecipientType == "group" {
		// Accepted by the request format, but this build has no group
		// support: say so plainly rather than fail later in the outbox.
		return nil, waent.NewError(1002, "recipient_type 'group' is not supported: this build does not implement groups")
	}
	return msg, nil
}

// fromContent converts a content validation error to the *waent.Error the
// error envelope is built from; anything else passes through (and is an
// internal error there).
func fromContent(err error) error {
	var ce *content.Error
	if errors.As(err, &ce) {
		return &waent.Error{Code: ce.Code, Title: ce.Title, Details: ce.Details}
	}
	return err
}

// clipValue bounds a client-supplied value quoted back in an error detail.
func clipValue(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// markRead serves PUT /v1/messages/{message_id} {"status":"read"}: the
// sender of that inbound message sees it read. 404 / 1006 for an id that
// is not a received message.
func (h *Handler) markRead(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Status *string `json:"status"`
	}
	if err := h.decodeJSON(w, r, &req, false); err != nil {
		h.fail(w, r, err)
		return
	}
	switch {
	case req.Status == nil || *req.Status == "":
		h.fail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'status'"))
		return
	case *req.Status != "read":
		h.fail(w, r, waent.NewError(waent.CodeInvalidParameter,
			fmt.Sprintf("Parameter 'status' has invalid value '%s'", clipValue(*req.Status))))
		return
	}
	if err := h.c.MarkRead(r.Context(), r.PathValue("message_id")); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}
