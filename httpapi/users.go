package httpapi

import (
	"errors"
	"net/http"

	"github.com/waent/waent"
)

// expiresAfterLayout renders a token's expiry in the form of Meta's
// login page, "2018-03-01 15:29:26+00:00" (onprem-api.md §3.1), rather
// than the Postman collection's ISO form: it is the documented one, and
// integrations that parsed either already accept an offset.
const expiresAfterLayout = "2006-01-02 15:04:05-07:00"

type userEntry struct {
	Username string `json:"username"`
}

type usersPayload struct {
	Users []userEntry `json:"users"`
}

// login is POST /v1/users/login: HTTP Basic credentials and an optional
// {"new_password"} in, a bearer token out.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		h.failStatus(w, r, http.StatusUnauthorized, waent.NewError(waent.CodeAccessDenied,
			"Missing Basic credentials: send 'Authorization: Basic base64(username:password)'"))
		return
	}
	var body struct {
		NewPassword string `json:"new_password"`
	}
	if err := h.decodeJSON(w, r, &body, true); err != nil {
		h.fail(w, r, err)
		return
	}
	res, err := h.c.Login(r.Context(), user, pass, body.NewPassword)
	if err != nil {
		h.failStatus(w, r, credStatus(err), err)
		return
	}
	type tokenEntry struct {
		Token        string `json:"token"`
		ExpiresAfter string `json:"expires_after"`
	}
	h.respond(w, http.StatusOK, struct {
		Users []tokenEntry `json:"users"`
	}{[]tokenEntry{{Token: res.Token, ExpiresAfter: res.ExpiresAfter.UTC().Format(expiresAfterLayout)}}})
}

// credStatus is 401 for bad credentials (On-Premises answers a failed
// login with 401, not the 403 of a role failure), else the code's own.
func credStatus(err error) int {
	var we *waent.Error
	if errors.As(err, &we) && we.Code == waent.CodeAccessDenied {
		return http.StatusUnauthorized
	}
	return 0
}

// logout is POST /v1/users/logout: every token of the caller stops
// working, not only the one presented.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if err := h.c.Logout(r.Context(), p.username); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, nil)
}

// createUser is POST /v1/users (admin).
func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	if err := h.decodeJSON(w, r, &body, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.c.CreateUser(r.Context(), body.Username, body.Password); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusCreated, usersPayload{[]userEntry{{body.Username}}})
}

// selfOrAdmin answers 403 unless the caller is an admin or the user the
// path names.
func (h *Handler) selfOrAdmin(w http.ResponseWriter, r *http.Request, username string) bool {
	p := principalOf(r)
	if p.role.atLeast(RoleAdmin) || (p.username != "" && p.username == username) {
		return true
	}
	h.failStatus(w, r, http.StatusForbidden, waent.NewError(waent.CodeAccessDenied, "User doesn't have permission"))
	return false
}

// getUser is GET /v1/users/{username}: any user may read themselves, an
// admin anyone.
func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if !h.selfOrAdmin(w, r, name) {
		return
	}
	u, err := h.c.GetUser(r.Context(), name)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	type entry struct {
		Roles    string `json:"ROLES"`
		Username string `json:"username"`
	}
	h.respond(w, http.StatusOK, struct {
		Users []entry `json:"users"`
	}{[]entry{{Roles: string(u.Role), Username: u.Username}}})
}

// updateUser is PUT /v1/users/{username} {"password"}. The user's tokens
// are revoked, the caller's own included when changing their own.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if !h.selfOrAdmin(w, r, name) {
		return
	}
	var body struct {
		Password string `json:"password"`
	}
	if err := h.decodeJSON(w, r, &body, false); err != nil {
		h.fail(w, r, err)
		return
	}
	if err := h.c.ChangePassword(r.Context(), name, body.Password); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, usersPayload{[]userEntry{{name}}})
}

// deleteUser is DELETE /v1/users/{username} (admin); the user's tokens
// stop working.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	if err := h.c.DeleteUser(r.Context(), name); err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, usersPayload{[]userEntry{{name}}})
}
