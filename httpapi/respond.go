package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/waent/waent"
	"github.com/waent/waent/content"
)

// meta is the envelope's meta object (onprem-api.md §1.2).
type meta struct {
	Version   string `json:"version"`
	APIStatus string `json:"api_status"`
}

type errorEntry struct {
	Code    int    `json:"code"`
	Title   string `json:"title"`
	Details string `json:"details,omitempty"`
	Href    string `json:"href,omitempty"`
}

// respond writes payload (a struct or map marshalling to a JSON object,
// or nil for the bare {"meta":…} of calls that return "null or {}")
// with its keys at the top level and meta after them, as On-Premises
// does.
func (h *Handler) respond(w http.ResponseWriter, status int, payload any) {
	m, _ := json.Marshal(meta{Version: h.opts.Version, APIStatus: "stable"})
	var body []byte
	if payload != nil {
		b, err := json.Marshal(payload)
		if err == nil && string(b) == "null" { // a nil map or pointer
			b = []byte("{}")
		}
		if err != nil || len(b) < 2 || b[0] != '{' {
			h.log.Error("httpapi: response is not a JSON object", "err", err)
			h.failStatus(w, nil, http.StatusInternalServerError, waent.NewError(waent.CodeInternal, "response encoding failed"))
			return
		}
		if inner := bytes.TrimSpace(b[1 : len(b)-1]); len(inner) > 0 {
			body = append(append(append(body, '{'), inner...), ',')
		}
	}
	if body == nil {
		body = []byte{'{'}
	}
	body = append(append(append(body, `"meta":`...), m...), '}', '\n')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fail writes err as the errors envelope with the HTTP status its code
// maps to (§4). Errors without a code are internal errors (500 / 1014)
// and are logged, since the caller learns nothing from them.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.failStatus(w, r, 0, err)
}

// failStatus is fail with an explicit HTTP status (401 for bad
// credentials, 405), or 0 for the code's own.
func (h *Handler) failStatus(w http.ResponseWriter, r *http.Request, status int, err error) {
	var we *waent.Error
	var ce *content.Error
	if !errors.As(err, &we) && errors.As(err, &ce) {
		we = &waent.Error{Code: ce.Code, Title: ce.Title, Details: ce.Details}
	}
	if we == nil {
		if r != nil && r.Context().Err() != nil {
			// The client went away; nobody reads this answer.
			we = waent.NewError(waent.CodeGeneric, "request cancelled")
		} else {
			h.log.Error("httpapi: internal error", "err", err, "path", pathOf(r))
			we = waent.NewError(waent.CodeInternal, "")
		}
	}
	if status == 0 {
		status = we.HTTPStatus()
	}
	title := we.Title
	if title == "" {
		title = waent.NewError(we.Code, "").Title
	}
	m := meta{Version: h.opts.Version, APIStatus: "stable"}
	body, _ := json.Marshal(struct {
		Meta   meta         `json:"meta"`
		Errors []errorEntry `json:"errors"`
	}{m, []errorEntry{{Code: we.Code, Title: title, Details: we.Details}}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func pathOf(r *http.Request) string {
	if r == nil {
		return ""
	}
	return r.URL.Path
}

// decodeJSON reads a JSON request body into v, bounded by MaxBodyBytes.
// Malformed JSON is 400 / 1025 "Unable to decode the request: …" as the
// old webapp said; an oversized body is 400 / 1009. An empty body
// decodes as {} when allowEmpty, else it is 1008.
func (h *Handler) decodeJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) error {
	return h.decodeJSONLimit(w, r, v, allowEmpty, h.opts.MaxBodyBytes)
}

// decodeJSONLimit is decodeJSON with its own size bound, for the bodies
// that carry data rather than parameters (a backup to restore).
func (h *Handler) decodeJSONLimit(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool, limit int64) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "text/plain") {
			return waent.NewError(waent.CodeInvalidRequest, fmt.Sprintf("Unsupported Content-Type %q: send application/json", ct))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return waent.NewError(waent.CodeInvalidParameter, fmt.Sprintf("Request content exceeds size of %d bytes", limit))
		}
		return waent.NewError(waent.CodeInvalidRequest, "Unable to read the request: "+err.Error())
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return waent.NewError(waent.CodeMissingParameter, "Request had no (empty) content")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return waent.NewError(waent.CodeInvalidRequest, "Unable to decode the request: "+jsonErrorText(err))
	}
	return nil
}

// jsonErrorText describes a decoding error without Go type names, which
// mean nothing to an integration written in another language.
func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "(root)"
		}
		return fmt.Sprintf("parameter '%s' has the wrong type (%s given)", field, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}
