package content

import (
	"errors"
	"fmt"
)

// Error is an On-Prem error object, as it appears in API responses,
// webhook statuses and inbound messages' "errors".
type Error struct {
	Code    int    `json:"code"`
	Title   string `json:"title,omitempty"`
	Details string `json:"details,omitempty"`
	Href    string `json:"href,omitempty"`
}

func (e *Error) Error() string {
	if e.Details == "" {
		return fmt.Sprintf("%d %s", e.Code, e.Title)
	}
	return fmt.Sprintf("%d %s: %s", e.Code, e.Title, e.Details)
}

// On-Prem error codes used by this package (onprem-api.md §5).
const (
	CodeUnsupportedType    = 501
	CodeMessageTooLong     = 1001
	CodeInvalidRecipient   = 1002
	CodeMissingParameter   = 1008
	CodeInvalidParameter   = 1009
	CodeParamNotRequired   = 1010
	CodeInvalidSections    = 2015
	CodeInvalidRows        = 2016
	CodeInvalidProducts    = 2023
	CodeInvalidHeader      = 2036
	CodeInvalidRequest     = 1025
	CodeReceiverIncapable  = 1026
	CodeTemplateParamCount = 2000
)

// titles are the documented titles of the codes above (§5).
var titles = map[int]string{
	CodeUnsupportedType:    "Message type is not currently supported",
	CodeMessageTooLong:     "Message too long",
	CodeInvalidRecipient:   "Invalid recipient type",
	CodeMissingParameter:   "Required parameter is missing",
	CodeInvalidParameter:   "Parameter value is not valid",
	CodeParamNotRequired:   "Parameter is not required",
	CodeInvalidSections:    "Invalid number of sections",
	CodeInvalidRows:        "Invalid number of rows",
	CodeInvalidProducts:    "Invalid number of product",
	CodeInvalidHeader:      "Invalid Header Structure",
	CodeInvalidRequest:     "Invalid Request",
	CodeReceiverIncapable:  "Receiver Incapable",
	CodeTemplateParamCount: "Template Param Count Mismatch",
}

// NewError builds an Error with the documented title of code.
func NewError(code int, details string) *Error {
	return &Error{Code: code, Title: titles[code], Details: details}
}

// The detail strings of the old webapp's parameter validation (§1.2).
func errMissing(p string) *Error {
	return NewError(CodeMissingParameter, fmt.Sprintf("Missing mandatory parameter '%s'", p))
}

func errMandatoryFor(p, t string) *Error {
	return NewError(CodeMissingParameter, fmt.Sprintf("Parameter '%s' is mandatory for type '%s'", p, t))
}

func errInvalid(p, v string) *Error {
	return NewError(CodeInvalidParameter, fmt.Sprintf("Parameter '%s' has invalid value '%s'", p, v))
}

func errNotRequired(p, t string) *Error {
	return NewError(CodeParamNotRequired, fmt.Sprintf("Parameter '%s' is not required for type '%s'", p, t))
}

// errTooLong reports a value longer than its documented limit. The webapp's
// own wording for this case is unknown; quoting the value, as its 1009
// message does, would echo up to 4 KiB back.
func errTooLong(p string, limit int) *Error {
	return NewError(CodeInvalidParameter, fmt.Sprintf("Parameter '%s' is longer than %d characters", p, limit))
}

func errAtLeastOne(ps string) *Error {
	// "Atleast" is the webapp's spelling.
	return NewError(CodeMissingParameter, "Atleast one of the following parameters must be present: "+ps)
}

func errExactlyOne(ps string) *Error {
	return NewError(CodeParamNotRequired, "Exactly one of the following parameters must be present: "+ps)
}

// ErrNoContent is returned by FromProto for a message that carries no
// user-visible content (a sender key distribution, a revoke, an ephemeral
// setting): it is not a webhook message. Use Revoked for revokes, which
// On-Prem reports as a "deleted" status.
var ErrNoContent = errors.New("content: message carries no content")

// ErrNeedMedia is returned by ToProto for a media message without a MediaRef.
var ErrNeedMedia = errors.New("content: media message needs an uploaded MediaRef")
