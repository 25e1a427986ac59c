package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store/memstore"
)

// The envelope: payload keys first, then meta; errors after meta.
func TestEnvelopeShape(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})
	res := a.do("GET", "/v1/nope", nil, a.admin)
	res.wantError(http.StatusNotFound, 1006)
	want := `{"meta":{"version":"v2.45.1","api_status":"stable"},"errors":[{"code":1006,"title":"Resource not found","details":"URL path not found"}]}`
	if got := strings.TrimSpace(string(res.raw)); got != want {
		t.Errorf("404 body\n got %s\nwant %s", got, want)
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	// A success with a payload: keys first, meta last.
	res = a.do("POST", "/v1/users", map[string]string{"username": "operator", "password": "Op3rator-pass!"}, a.admin)
	if res.status != http.StatusCreated {
		t.Fatalf("create user: %d %s", res.status, res.raw)
	}
	if got := strings.TrimSpace(string(res.raw)); got != `{"users":[{"username":"operator"}],"meta":{"version":"v2.45.1","api_status":"stable"}}` {
		t.Errorf("create user body %s", got)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})
	for _, c := range []struct {
		method, path string
		status, code int
	}{
		{"GET", "/v2/health", 404, 1006},
		{"GET", "/v1/messages/abc/extra", 404, 1006},
		{"GET", "/", 404, 1006},
		{"DELETE", "/v1/messages", 405, 1006},
		{"PATCH", "/v1/users/login", 405, 1006},
	} {
		res := a.do(c.method, c.path, nil, a.admin)
		if res.status != c.status || res.errorCode() != c.code {
			t.Errorf("%s %s: %d %s, want %d/%d", c.method, c.path, res.status, res.raw, c.status, c.code)
		}
	}
	res := a.do("DELETE", "/v1/messages", nil, a.admin)
	if allow := res.header.Get("Allow"); allow != "POST" {
		t.Errorf("Allow %q", allow)
	}
	// A trailing slash names the same resource.
	if res := a.do("GET", "/v1/health/", nil, a.admin); res.status == 404 {
		t.Errorf("trailing slash: %d %s", res.status, res.raw)
	}
}

func TestBodyLimitsAndBadJSON(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true, opts: httpapi.Options{MaxBodyBytes: 64}})
	res := a.do("POST", "/v1/users", `{"username":"operator","password":"Op3rator-pass!","padding":"`+strings.Repeat("x", 100)+`"}`, a.admin)
	res.wantError(http.StatusBadRequest, 1009)
	res = a.do("POST", "/v1/users", `{"username":`, a.admin)
	res.wantError(http.StatusBadRequest, 1025)
	if !strings.Contains(string(res.raw), "Unable to decode the request") {
		t.Errorf("bad JSON details: %s", res.raw)
	}
	res = a.do("POST", "/v1/users", `{"username":5}`, a.admin)
	res.wantError(http.StatusBadRequest, 1025)
	if !strings.Contains(string(res.raw), "'username'") {
		t.Errorf("wrong type details: %s", res.raw)
	}
}

func TestOptionsValidation(t *testing.T) {
	c, err := waent.New(waent.Config{Store: memstore.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, o := range []httpapi.Options{{APIKey: "short"}, {APIKey: strings.Repeat("k", 129)}, {Prefix: "wa"}} {
		if _, err := httpapi.New(c, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
	if _, err := httpapi.New(nil, httpapi.Options{}); err == nil {
		t.Error("New(nil) accepted")
	}
	h, err := httpapi.New(c, httpapi.Options{Version: "v9.9.9", Prefix: "/wa/"})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/wa/v1/nope", nil))
	if !strings.Contains(rec.Body.String(), `"version":"v9.9.9"`) || rec.Code != 404 {
		t.Errorf("custom version: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/wax/v1/health", nil))
	if rec.Code != 404 {
		t.Errorf("path outside the prefix: %d", rec.Code)
	}
}

// The same handler works mounted under the standard library's mux (with
// StripPrefix) and under chi (with Options.Prefix, as chi's Mount does
// not strip the path for a plain http.Handler).
func TestMountedUnderStdlibAndChi(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})

	std := http.NewServeMux()
	std.Handle("/wa/", http.StripPrefix("/wa", a.h))
	std.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mine") })

	chiH, err := httpapi.New(a.client, httpapi.Options{Prefix: "/wa", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Mount("/wa", chiH)
	r.Get("/other", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "mine") })

	for name, mux := range map[string]http.Handler{"stdlib": std, "chi": r} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(mux)
			defer srv.Close()
			get := func(path string, token string) (int, []byte) {
				req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+path, nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				res, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res.StatusCode, b
			}
			// Authenticated routes work through the mount.
			status, body := get("/wa/v1/users/admin", a.admin)
			var out struct {
				Users []struct {
					Roles    string `json:"ROLES"`
					Username string `json:"username"`
				} `json:"users"`
			}
			if status != 200 || json.Unmarshal(body, &out) != nil || len(out.Users) != 1 || out.Users[0].Username != "admin" {
				t.Fatalf("GET /wa/v1/users/admin: %d %s", status, body)
			}
			// Unknown paths under the mount are On-Prem 404s.
			status, body = get("/wa/v1/unknown", a.admin)
			if status != 404 || !bytes.Contains(body, []byte(`"code":1006`)) {
				t.Errorf("unknown under mount: %d %s", status, body)
			}
			// The application's own routes are untouched.
			if status, body = get("/other", ""); status != 200 || string(body) != "mine" {
				t.Errorf("other route: %d %s", status, body)
			}
		})
	}
}

// Application routes get the /v1 authentication, roles and envelope.
func TestApplicationRoutes(t *testing.T) {
	var h *httpapi.Handler
	routes := []httpapi.Route{
		{Method: "GET", Pattern: "/app/things/{id}", Role: httpapi.RoleUser, Handler: func(w http.ResponseWriter, r *http.Request) {
			if r.PathValue("id") == "missing" {
				h.Fail(w, r, waent.NewError(waent.CodeResourceNotFound, "no such thing"))
				return
			}
			h.Respond(w, http.StatusOK, map[string]any{"things": []string{r.PathValue("id")}})
		}},
		{Method: "POST", Pattern: "/app/admin", Role: httpapi.RoleAdmin, Handler: func(w http.ResponseWriter, r *http.Request) {
			var body struct{ N int }
			if err := h.DecodeJSON(w, r, &body); err != nil {
				h.Fail(w, r, err)
				return
			}
			h.Respond(w, http.StatusCreated, nil)
		}},
	}
	a := newAPI(t, apiOptions{unregistered: true, opts: httpapi.Options{Routes: routes}})
	h = a.h
	res := a.do("GET", "/app/things/42", nil, a.admin)
	if res.status != 200 || !strings.HasPrefix(string(res.raw), `{"things":["42"],"meta":`) {
		t.Fatalf("GET: %d %s", res.status, res.raw)
	}
	a.do("GET", "/app/things/missing", nil, a.admin).wantError(404, 1006)
	a.do("GET", "/app/things/42", nil, "").wantError(401, 1005)
	a.do("POST", "/app/admin", `{"N":`, a.admin).wantError(400, 1025)
	if res := a.do("POST", "/app/admin", `{"N":1}`, a.admin); res.status != 201 {
		t.Fatalf("POST as admin: %d %s", res.status, res.raw)
	}
	// A plain user may read but not reach the admin route.
	if res := a.do("POST", "/v1/users", map[string]string{"username": "clerk", "password": "Cl3rk-password!"}, a.admin); res.status != 201 {
		t.Fatal(res.status)
	}
	clerk := a.login("clerk", "Cl3rk-password!", "")
	if res := a.do("GET", "/app/things/1", nil, clerk); res.status != 200 {
		t.Fatalf("clerk GET: %d", res.status)
	}
	a.do("POST", "/app/admin", `{"N":1}`, clerk).wantError(403, 1005)

	c, _ := waent.New(waent.Config{Store: memstore.New(), Logger: slog.New(slog.DiscardHandler)})
	defer c.Close()
	for _, bad := range []httpapi.Route{
		{Method: "GET", Pattern: "/v1/mine", Handler: routes[0].Handler},
		{Method: "GET", Pattern: "relative", Handler: routes[0].Handler},
		{Method: "GET", Pattern: "/x"},
	} {
		if _, err := httpapi.New(c, httpapi.Options{Routes: []httpapi.Route{bad}}); err == nil {
			t.Errorf("route %+v accepted", bad)
		}
	}
}
