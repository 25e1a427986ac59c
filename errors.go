package waent

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/waent/waent/content"
)

// Error is an error with an On-Premises API code (onprem-api.md §5). The
// REST layer renders it as {"errors":[{code,title,details}]} with
// HTTPStatus.
type Error struct {
	Code    int
	Title   string
	Details string
	Err     error // the cause, if any
}

func (e *Error) Error() string {
	s := fmt.Sprintf("waent: %d %s", e.Code, e.Title)
	if e.Details != "" {
		s += ": " + e.Details
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status On-Premises answered with for this code.
func (e *Error) HTTPStatus() int { return HTTPStatus(e.Code) }

// On-Premises error codes the Client returns.
const (
	CodeGeneric            = 1000
	CodeMessageTooLong     = 1001
	CodeResourceNotFound   = 1006
	CodeMissingParameter   = 1008
	CodeInvalidParameter   = 1009
	CodeServiceNotReady    = 1011
	CodeUserNotValid       = 1013
	CodeInternal           = 1014
	CodeOverloaded         = 1016
	CodeBadUser            = 1021
	CodeDatabase           = 1023
	CodeIdentityNotAcked   = 1028
	CodeAccessDenied       = 1005
	CodeResourceExists     = 1004
	CodeTooManyRequests    = 1015
	CodeInvalidRequest     = 1025
	CodeReceiverIncapable  = 1026
	CodeUserIdentityStatus = 480
	CodeParamNotRequired   = 1010
	CodeWebhookURLMissing  = 1022
	CodePasswordChange     = 1024
	CodeNotPrimaryMaster   = 1017
	CodeNotPrimaryCoreapp  = 1018
)

// NewError builds an *Error with the documented title of code, for the
// layers above the Client (httpapi) that report their own failures.
func NewError(code int, details string) *Error { return newError(code, details, nil) }

func newError(code int, details string, cause error) *Error {
	return &Error{Code: code, Title: content.Title(code), Details: details, Err: cause}
}

// HTTPStatus maps an On-Premises code to the webapp's HTTP status (§4).
func HTTPStatus(code int) int {
	switch {
	case code == 1024:
		return http.StatusUnauthorized
	case code == 1005 || code == 1007:
		return http.StatusForbidden
	case code == 1006 || code == 1012 || (code >= 2001 && code <= 2003):
		return http.StatusNotFound
	case code == 1004:
		return http.StatusConflict
	case code == 1022:
		return http.StatusPreconditionFailed
	case code == 1015:
		return http.StatusTooManyRequests
	case code == 0 || code == 1000 || code == 1011 || code == 1014 || code == 1017 || code == 1018 || code == 1023:
		return http.StatusInternalServerError
	case code == 1026 || code == 2013:
		return http.StatusNotImplemented
	case code == 1016:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// asError converts a content validation error to an *Error.
func asError(err error) error {
	var ce *content.Error
	if errors.As(err, &ce) {
		return &Error{Code: ce.Code, Title: ce.Title, Details: ce.Details}
	}
	return err
}
