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

// titles are the documented titles of every On-Prem code (onprem-api.md
// §5), so an error built anywhere carries the title integrations match on.
var titles = map[int]string{
	400: "Media download error", 401: "Group does not exist",
	402: "Business eligibility — Payment issue", 408: "Message is not valid",
	410: "Message expired", 429: "Rate limit hit", 430: "Unsigned certificate",
	432: "Certificate ID mismatch", 433: "Certificate signature invalid",
	470: "Re-engagement message", 471: "Spam rate limit hit",
	472: "User's number is part of an experiment", 480: "User potentially changed",
	500: "Generic error", 501: "Message type is not currently supported",
	1000: "Generic error", 1001: "Message too long", 1002: "Invalid recipient type",
	1003: "Not a group participant", 1004: "Resource already exists", 1005: "Access denied",
	1006: "Resource not found", 1007: "Recipient blocked to receive message",
	1008: "Required parameter is missing", 1009: "Parameter value is not valid",
	1010: "Parameter is not required", 1011: "Service not ready", 1012: "Group is unknown",
	1013: "User is not valid", 1014: "Internal error", 1015: "Too many requests",
	1016: "System overloaded", 1017: "Not Primary Master", 1018: "Not Primary Coreapp",
	1019: "Not a group admin", 1020: "Bad group", 1021: "Bad User",
	1022: "Webhooks URL is not configured", 1023: "Database error occurred",
	1024: "Password Change Required", 1025: "Invalid Request", 1026: "Receiver Incapable",
	1028: "A user_identity_changed system notification requires acknowledgement",
	1031: "Sender account has been locked",
	2000: "Template Param Count Mismatch", 2001: "Template Missing",
	2002: "Template Fetch Failed", 2003: "Template Pack Missing",
	2004: "Template Param Length Too Long", 2005: "Template Hydrated Text Too Long",
	2006: "Template White Space Policy Violated", 2007: "Template Format Character Policy Violated",
	2008: "Template Media Format Unsupported", 2009: "Template Required Component Missing",
	2010: "Template Invalid Hydrated URL", 2011: "Template Invalid Phone Number",
	2012: "Template Parameter Format Mismatch", 2013: "Template Buttons Unsupported",
	2014: "Expected Namespace is Empty", 2015: "Invalid number of sections",
	2016: "Invalid number of rows", 2017: "Character Policy Violated",
	2023: "Invalid number of product", 2024: "Catalog ID not found",
	2025: "Catalog ID not linked to API number", 2026: "Missing products",
	2027: "No products found", 2028: "List all products failed compliance",
	2029: "List some products failed compliance",
	2030: "List mixed products invalid and failed compliance", 2036: "Invalid Header Structure",
	2050: "Missing Compliance Info", 2060: "Template Rejected", 2061: "Template Paused",
	2062: "Template Disabled", 2068: "Flow is blocked", 2069: "Flow is throttled",
}

// Title is the documented title of an On-Prem error code, or "" for a
// code the documentation does not list.
func Title(code int) string { return titles[code] }

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
