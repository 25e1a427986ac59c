package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

// The business number every test registers.
const (
	businessCC     = "1"
	businessNumber = "5550100"
	// adminPassword is what newAPI sets at the first admin login.
	adminPassword = "N3w-Secret!pass"
)

// api is a Client on the simulated network behind the /v1 handler,
// served over loopback HTTP.
type api struct {
	t      testing.TB
	net    *waenttest.Network
	st     store.Store
	client *waent.Client
	h      *httpapi.Handler
	srv    *httptest.Server
	// admin is a bearer token of the admin user.
	admin string
}

type apiOptions struct {
	unregistered bool // skip registering the business number
	opts         httpapi.Options
	cfg          func(*waent.Config)
}

// newAPI starts a network, a registered Client (unless told not to) and
// the handler, and logs the admin in (changing the default password).
func newAPI(t testing.TB, o apiOptions) *api {
	t.Helper()
	ctx := context.Background()
	net, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { net.Close() })
	st := memstore.New()
	cfg := waent.Config{
		Store: st, Dialer: net.Dialer(), ChatRootKey: net.RootKey(), RegistrationURL: net.RegistrationURL(),
		Logger: slog.New(slog.DiscardHandler),
	}
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if !o.unregistered {
		if _, err := c.Register(ctx, waent.RegisterRequest{CC: businessCC, PhoneNumber: businessNumber, Method: "sms"}); err != nil {
			t.Fatalf("register: %v", err)
		}
		code, _ := net.Registration().IssuedCode(businessCC, businessNumber)
		if err := c.Verify(ctx, code); err != nil {
			t.Fatalf("verify: %v", err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for !c.Ready() {
			if time.Now().After(deadline) {
				t.Fatal("client not ready")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if o.opts.Logger == nil {
		o.opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := httpapi.New(c, o.opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := &api{t: t, net: net, st: st, client: c, h: h, srv: srv}
	a.admin = a.login("admin", "secret", adminPassword)
	return a
}

// login does POST /v1/users/login with Basic credentials (and a new
// password when newPassword is set) and returns the token.
func (a *api) login(user, pass, newPassword string) string {
	a.t.Helper()
	var body any
	if newPassword != "" {
		body = map[string]string{"new_password": newPassword}
	}
	res := a.do("POST", "/v1/users/login", body, basic(user, pass))
	if res.status != http.StatusOK {
		a.t.Fatalf("login %s: %d %s", user, res.status, res.raw)
	}
	var out struct {
		Users []struct {
			Token        string `json:"token"`
			ExpiresAfter string `json:"expires_after"`
		} `json:"users"`
	}
	res.decode(&out)
	if len(out.Users) != 1 || out.Users[0].Token == "" {
		a.t.Fatalf("login %s: no token in %s", user, res.raw)
	}
	return out.Users[0].Token
}

// response is a decoded answer of the handler.
type response struct {
	t      testing.TB
	status int
	header http.Header
	raw    []byte
}

// decode unmarshals the body into v.
func (r response) decode(v any) {
	r.t.Helper()
	if err := json.Unmarshal(r.raw, v); err != nil {
		r.t.Fatalf("decode %s: %v", r.raw, err)
	}
}

// errorCode is the first On-Prem error code of the body, or 0.
func (r response) errorCode() int {
	r.t.Helper()
	var env struct {
		Errors []struct {
			Code    int    `json:"code"`
			Title   string `json:"title"`
			Details string `json:"details"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(r.raw, &env); err != nil || len(env.Errors) == 0 {
		return 0
	}
	return env.Errors[0].Code
}

// wantError fails the test unless the answer is status with code.
func (r response) wantError(status, code int) {
	r.t.Helper()
	if r.status != status || r.errorCode() != code {
		r.t.Fatalf("got %d %s, want %d with code %d", r.status, r.raw, status, code)
	}
}

// auth is an Authorization header value.
type auth string

func basic(user, pass string) auth {
	return auth("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

func bearer(token string) auth { return auth("Bearer " + token) }

// do sends a request to the handler over HTTP. body is JSON-encoded
// unless it is a []byte or string (sent as is); authz is an auth value
// or a plain token (sent as Bearer).
func (a *api) do(method, path string, body any, authz any) response {
	a.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
		ct = "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	switch v := authz.(type) {
	case auth:
		req.Header.Set("Authorization", string(v))
	case string:
		if v != "" {
			req.Header.Set("Authorization", "Bearer "+v)
		}
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{t: a.t, status: res.StatusCode, header: res.Header, raw: raw}
}

// stream sends body as is, with contentType (none when empty), the
// admin token and a declared length (-1: chunked).
func (a *api) stream(method, path, contentType string, body io.Reader, length int64) response {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, body)
	if err != nil {
		a.t.Fatal(err)
	}
	req.ContentLength = length
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+a.admin)
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{t: a.t, status: res.StatusCode, header: res.Header, raw: raw}
}
