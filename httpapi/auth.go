package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
)

// authenticate establishes the principal of a request for rt: Basic for
// login (checked by the login handler), Bearer tokens, and the API key
// on routes open to RoleAPI. The status is 401 for missing or bad
// credentials.
func (h *Handler) authenticate(r *http.Request, rt *route) (principal, int, error) {
	if rt.role == RoleNone {
		return principal{}, 0, nil
	}
	header := strings.TrimSpace(r.Header.Get("Authorization"))
	if header == "" {
		return denied("Missing Authorization header: send 'Bearer <token>' from POST /v1/users/login")
	}
	scheme, cred, _ := strings.Cut(header, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		if cred == "" {
			return denied("Invalid credentials")
		}
		u, err := h.c.Authenticate(r.Context(), cred)
		if err != nil {
			var we *waent.Error
			if errors.As(err, &we) {
				return principal{}, http.StatusUnauthorized, err
			}
			return principal{}, 0, err
		}
		if u.MustChangePassword {
			return principal{}, http.StatusUnauthorized, waent.NewError(waent.CodePasswordChange,
				"Password change required: log in with 'new_password'")
		}
		p := principal{username: u.Username, role: RoleUser, token: cred}
		if u.Role == store.RoleAdmin {
			p.role = RoleAdmin
		}
		return p, 0, nil
	case strings.EqualFold(scheme, "Apikey"):
		if h.opts.APIKey == "" || !keyEqual(cred, h.opts.APIKey) {
			return denied("Invalid API key")
		}
		if rt.role != RoleAPI {
			return principal{}, http.StatusForbidden, waent.NewError(waent.CodeAccessDenied,
				"The API key is accepted only on the health, stats and metrics paths")
		}
		return principal{role: RoleAPI, apiKey: true}, 0, nil
	case strings.EqualFold(scheme, "Basic"):
		return denied("Basic credentials are accepted only by POST /v1/users/login: send 'Bearer <token>'")
	}
	return denied("Unsupported Authorization scheme: send 'Bearer <token>'")
}

func denied(details string) (principal, int, error) {
	return principal{}, http.StatusUnauthorized, waent.NewError(waent.CodeAccessDenied, details)
}

// keyEqual compares API keys in constant time; hashing first hides the
// configured key's length too.
func keyEqual(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
