package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
)

func TestFirstLoginMustChangePassword(t *testing.T) {
	a, clk := newAuthAPI(t, httpapi.Options{}, nil)
	// The default password alone gets no token.
	a.do("POST", "/v1/users/login", nil, basic("admin", "secret")).wantError(http.StatusUnauthorized, waent.CodePasswordChange)
	a.do("POST", "/v1/users/login", map[string]string{}, basic("admin", "secret")).wantError(http.StatusUnauthorized, waent.CodePasswordChange)
	// A new password must follow the rules.
	res := a.do("POST", "/v1/users/login", map[string]string{"new_password": "secret12"}, basic("admin", "secret"))
	res.wantError(http.StatusBadRequest, waent.CodeInvalidParameter)
	if d := res.errorDetails(); !strings.Contains(d, "'new_password'") {
		t.Fatalf("details %q do not name new_password", d)
	}
	// Wrong credentials are 401, not the 403 of a role failure.
	a.do("POST", "/v1/users/login", map[string]string{"new_password": adminPassword}, basic("admin", "Secret")).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.do("POST", "/v1/users/login", nil, nil).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.do("POST", "/v1/users/login", "{not json", basic("admin", "secret")).wantError(http.StatusBadRequest, waent.CodeInvalidRequest)

	res = a.do("POST", "/v1/users/login", map[string]string{"new_password": adminPassword}, basic("admin", "secret"))
	if res.status != http.StatusOK {
		t.Fatalf("first login: %d %s", res.status, res.raw)
	}
	var out struct {
		Users []struct {
			Token        string `json:"token"`
			ExpiresAfter string `json:"expires_after"`
		} `json:"users"`
		Meta struct {
			Version string `json:"version"`
		} `json:"meta"`
	}
	res.decode(&out)
	if len(out.Users) != 1 || len(out.Users[0].Token) != 43 || out.Meta.Version == "" {
		t.Fatalf("login body %s", res.raw)
	}
	exp, err := time.Parse("2006-01-02 15:04:05-07:00", out.Users[0].ExpiresAfter)
	if err != nil || !exp.Equal(clk.Now().Add(7*24*time.Hour)) {
		t.Fatalf("expires_after %q (%v), want 7 days from now in the form 2018-03-01 15:29:26+00:00", out.Users[0].ExpiresAfter, err)
	}
	if res := a.do("GET", "/v1/users/admin", nil, out.Users[0].Token); res.status != http.StatusOK {
		t.Fatalf("token: %d %s", res.status, res.raw)
	}
	// From now on the old password is wrong and the new one needs no change.
	a.do("POST", "/v1/users/login", nil, basic("admin", "secret")).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.login("admin", adminPassword, "")
}

func TestCreateUserRules(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	for _, tc := range []struct {
		name     string
		body     any
		status   int
		code     int
		contains string
	}{
		{"ok", map[string]string{"username": "bob1", "password": "B0b-password"}, http.StatusCreated, 0, ""},
		{"duplicate", map[string]string{"username": "bob1", "password": "B0b-password"}, http.StatusInternalServerError, waent.CodeInternal, "Unable to create user. Already exist?"},
		{"no body", nil, http.StatusBadRequest, waent.CodeMissingParameter, ""},
		{"no username", map[string]string{"password": "B0b-password"}, http.StatusBadRequest, waent.CodeMissingParameter, "'username'"},
		{"no password", map[string]string{"username": "bob2"}, http.StatusBadRequest, waent.CodeMissingParameter, "'password'"},
		{"username too short", map[string]string{"username": "bob", "password": "B0b-password"}, http.StatusBadRequest, waent.CodeInvalidParameter, "4 to 32"},
		{"username too long", map[string]string{"username": strings.Repeat("b", 33), "password": "B0b-password"}, http.StatusBadRequest, waent.CodeInvalidParameter, "4 to 32"},
		{"username with colon", map[string]string{"username": "bob:2", "password": "B0b-password"}, http.StatusBadRequest, waent.CodeInvalidParameter, "':'"},
		{"password too short", map[string]string{"username": "bob2", "password": "B0b-pas"}, http.StatusBadRequest, waent.CodeInvalidParameter, "8 to 64"},
		{"password too long", map[string]string{"username": "bob2", "password": "B0b-" + strings.Repeat("p", 61)}, http.StatusBadRequest, waent.CodeInvalidParameter, "8 to 64"},
		{"password 64", map[string]string{"username": "bob64", "password": "B0b-" + strings.Repeat("p", 60)}, http.StatusCreated, 0, ""},
		{"no digit", map[string]string{"username": "bob2", "password": "Bob-password"}, http.StatusBadRequest, waent.CodeInvalidParameter, "one digit"},
		{"no upper", map[string]string{"username": "bob2", "password": "b0b-password"}, http.StatusBadRequest, waent.CodeInvalidParameter, "one upper case letter"},
		{"no lower", map[string]string{"username": "bob2", "password": "B0B-PASSWORD"}, http.StatusBadRequest, waent.CodeInvalidParameter, "one lower case letter"},
		{"no special", map[string]string{"username": "bob2", "password": "B0bpassword"}, http.StatusBadRequest, waent.CodeInvalidParameter, "one special character"},
		{"wrong type", `{"username":"bob2","password":12345678}`, http.StatusBadRequest, waent.CodeInvalidRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := a.do("POST", "/v1/users", tc.body, a.admin)
			if tc.code == 0 {
				var out struct {
					Users []map[string]string `json:"users"`
				}
				res.decode(&out)
				if res.status != tc.status || len(out.Users) != 1 || out.Users[0]["username"] == "" {
					t.Fatalf("%d %s", res.status, res.raw)
				}
				return
			}
			res.wantError(tc.status, tc.code)
			if d := res.errorDetails(); !strings.Contains(d, tc.contains) {
				t.Fatalf("details %q do not contain %q", d, tc.contains)
			}
		})
	}
	// A created user is a ROLE_USER who logs in without a forced change.
	tok := a.login("bob64", "B0b-"+strings.Repeat("p", 60), "")
	var out struct {
		Users []map[string]string `json:"users"`
	}
	a.do("GET", "/v1/users/bob64", nil, tok).decode(&out)
	if len(out.Users) != 1 || out.Users[0]["ROLES"] != "ROLE_USER" {
		t.Fatalf("created user %+v", out)
	}
}

func TestLogoutRevokesEveryTokenOfTheUser(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	a.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, a.admin)
	t1 := a.login("bob1", "B0b-password", "")
	t2 := a.login("bob1", "B0b-password", "")
	if res := a.do("POST", "/v1/users/logout", nil, t1); res.status != http.StatusOK {
		t.Fatalf("logout: %d %s", res.status, res.raw)
	}
	for _, tok := range []string{t1, t2} {
		a.do("GET", "/v1/users/bob1", nil, tok).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	}
	a.do("POST", "/v1/users/logout", nil, t2).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	// Other users keep their sessions.
	if res := a.do("GET", "/v1/users/admin", nil, a.admin); res.status != http.StatusOK {
		t.Fatalf("admin after bob's logout: %d %s", res.status, res.raw)
	}
	a.login("bob1", "B0b-password", "")
}

func TestDeleteUser(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	a.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, a.admin)
	bob := a.login("bob1", "B0b-password", "")

	res := a.do("DELETE", "/v1/users/bob1", nil, a.admin)
	var out struct {
		Users []map[string]string `json:"users"`
	}
	res.decode(&out)
	if res.status != http.StatusOK || len(out.Users) != 1 || out.Users[0]["username"] != "bob1" {
		t.Fatalf("delete: %d %s", res.status, res.raw)
	}
	a.do("GET", "/v1/users/bob1", nil, bob).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.do("POST", "/v1/users/login", nil, basic("bob1", "B0b-password")).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.do("DELETE", "/v1/users/bob1", nil, a.admin).wantError(http.StatusNotFound, waent.CodeResourceNotFound)
	a.do("GET", "/v1/users/bob1", nil, a.admin).wantError(http.StatusNotFound, waent.CodeResourceNotFound)

	// The default admin stays.
	a.do("DELETE", "/v1/users/admin", nil, a.admin).wantError(http.StatusForbidden, waent.CodeAccessDenied)
	if res := a.do("GET", "/v1/users/admin", nil, a.admin); res.status != http.StatusOK {
		t.Fatalf("admin after refused delete: %d %s", res.status, res.raw)
	}
}

func TestUpdateUserPassword(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	a.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, a.admin)
	bob := a.login("bob1", "B0b-password", "")

	a.do("PUT", "/v1/users/bob1", map[string]string{"password": "weakpass"}, bob).wantError(http.StatusBadRequest, waent.CodeInvalidParameter)
	a.do("PUT", "/v1/users/bob1", map[string]string{}, bob).wantError(http.StatusBadRequest, waent.CodeMissingParameter)
	res := a.do("PUT", "/v1/users/bob1", map[string]string{"password": "B0b-new-pass"}, bob)
	var out struct {
		Users []map[string]string `json:"users"`
	}
	res.decode(&out)
	if res.status != http.StatusOK || len(out.Users) != 1 || out.Users[0]["username"] != "bob1" {
		t.Fatalf("update: %d %s", res.status, res.raw)
	}
	// A changed password ends the sessions made with the old one.
	a.do("GET", "/v1/users/bob1", nil, bob).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.do("POST", "/v1/users/login", nil, basic("bob1", "B0b-password")).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	bob = a.login("bob1", "B0b-new-pass", "")

	// The admin may set anyone's password; an unknown user is 404.
	if res := a.do("PUT", "/v1/users/bob1", map[string]string{"password": "Adm1n-set-it"}, a.admin); res.status != http.StatusOK {
		t.Fatalf("admin update: %d %s", res.status, res.raw)
	}
	a.login("bob1", "Adm1n-set-it", "")
	a.do("PUT", "/v1/users/nobody", map[string]string{"password": "Adm1n-set-it"}, a.admin).wantError(http.StatusNotFound, waent.CodeResourceNotFound)
}

// TestAuthWithDefaultParameters runs the shared newAPI (default argon2
// parameters, real client) and checks the admin token it got is an
// admin's.
func TestAuthWithDefaultParameters(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})
	start := time.Now()
	tok := a.login("admin", adminPassword, "")
	t.Logf("login with default parameters: %v", time.Since(start))
	var out struct {
		Users []map[string]string `json:"users"`
	}
	res := a.do("GET", "/v1/users/admin", nil, tok)
	res.decode(&out)
	if res.status != http.StatusOK || out.Users[0]["ROLES"] != "ROLE_ADMIN" {
		t.Fatalf("%d %s", res.status, res.raw)
	}
	if res := a.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, a.admin); res.status != http.StatusCreated {
		t.Fatalf("admin create: %d %s", res.status, res.raw)
	}
}
