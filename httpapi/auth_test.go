package httpapi_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// cheapUsers keeps argon2 fast in tests that log in many times.
func cheapUsers(c *waent.Config) {
	c.Users.HashTime, c.Users.HashMemoryKiB, c.Users.HashThreads = 1, 64, 1
}

// newAuthAPI is the handler over a Client that is neither started nor
// registered: users and auth need only the store, so these tests skip
// the simulated network. The admin has not logged in yet.
func newAuthAPI(t *testing.T, opts httpapi.Options, cfg func(*waent.Config)) (*api, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	st := memstore.New()
	c := waent.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Now: clk.Now}
	cheapUsers(&c)
	if cfg != nil {
		cfg(&c)
	}
	client, err := waent.New(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := httpapi.New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{t: t, st: st, client: client, h: h, srv: srv}, clk
}

// errorDetails is the details of the first error of the body.
func (r response) errorDetails() string {
	r.t.Helper()
	var env struct {
		Errors []struct {
			Details string `json:"details"`
		} `json:"errors"`
	}
	r.decode(&env)
	if len(env.Errors) == 0 {
		return ""
	}
	return env.Errors[0].Details
}

func TestAuthMissingOrMalformedCredentials(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	for _, tc := range []struct {
		name  string
		authz any
	}{
		{"none", nil},
		{"empty bearer", auth("Bearer ")},
		{"garbage bearer", auth("Bearer not-a-token")},
		{"well-formed unknown token", bearer(base64.RawURLEncoding.EncodeToString(make([]byte, 32)))},
		{"basic outside login", basic("admin", adminPassword)},
		{"unknown scheme", auth("Token " + a.admin)},
		{"apikey without a configured key", auth("Apikey 0123456789abcdef")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := a.do("GET", "/v1/users/admin", nil, tc.authz)
			res.wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
			if res.errorDetails() == "" {
				t.Errorf("no details in %s", res.raw)
			}
		})
	}
	// The scheme is case-insensitive (RFC 9110).
	if res := a.do("GET", "/v1/users/admin", nil, auth("bearer "+a.admin)); res.status != http.StatusOK {
		t.Fatalf("lower-case bearer: %d %s", res.status, res.raw)
	}
}

func TestTokenExpiresAfterTTL(t *testing.T) {
	a, clk := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	clk.advance(7*24*time.Hour - time.Second)
	if res := a.do("GET", "/v1/users/admin", nil, a.admin); res.status != http.StatusOK {
		t.Fatalf("just before expiry: %d %s", res.status, res.raw)
	}
	clk.advance(time.Second)
	res := a.do("GET", "/v1/users/admin", nil, a.admin)
	res.wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	if d := res.errorDetails(); !strings.Contains(d, "expired") {
		t.Fatalf("details %q do not say the token expired", d)
	}
	// A fresh login works again.
	tok := a.login("admin", adminPassword, "")
	if res := a.do("GET", "/v1/users/admin", nil, tok); res.status != http.StatusOK {
		t.Fatalf("after new login: %d %s", res.status, res.raw)
	}
}

func TestTokenTTLConfigurable(t *testing.T) {
	a, clk := newAuthAPI(t, httpapi.Options{}, func(c *waent.Config) { c.Users.TokenTTL = time.Hour })
	a.admin = a.login("admin", "secret", adminPassword)
	clk.advance(time.Hour)
	a.do("GET", "/v1/users/admin", nil, a.admin).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
}

func TestMustChangePasswordBlocksTokens(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	// An operator forces a change while the admin holds a token.
	ctx := t.Context()
	u, err := a.st.GetUser(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	u.MustChangePassword = true
	if err := a.st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	a.do("GET", "/v1/users/admin", nil, a.admin).wantError(http.StatusUnauthorized, waent.CodePasswordChange)
	a.do("POST", "/v1/users/login", nil, basic("admin", adminPassword)).wantError(http.StatusUnauthorized, waent.CodePasswordChange)
	tok := a.login("admin", adminPassword, "An0ther-Secret")
	if res := a.do("GET", "/v1/users/admin", nil, tok); res.status != http.StatusOK {
		t.Fatalf("after change: %d %s", res.status, res.raw)
	}
}

func TestRolesEnforced(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	a.admin = a.login("admin", "secret", adminPassword)
	if res := a.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, a.admin); res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.raw)
	}
	bob := a.login("bob1", "B0b-password", "")
	for _, tc := range []struct{ method, path string }{
		{"POST", "/v1/users"},
		{"DELETE", "/v1/users/admin"},
		{"GET", "/v1/settings/application"},
		{"POST", "/v1/account"},
		{"GET", "/v1/users/admin"}, // another user's record
		{"PUT", "/v1/users/admin"}, // another user's password
	} {
		res := a.do(tc.method, tc.path, map[string]string{"username": "eve12", "password": "Ev3-password"}, bob)
		if res.status != http.StatusForbidden || res.errorCode() != waent.CodeAccessDenied {
			t.Errorf("%s %s as user: %d %s, want 403/1005", tc.method, tc.path, res.status, res.raw)
		}
	}
	// The admin's password was not changed by the refused PUT.
	a.login("admin", adminPassword, "")
	if _, err := a.st.GetUser(t.Context(), "eve12"); err == nil {
		t.Fatal("a user created a user")
	}
	// A user reads themselves; the admin reads anyone.
	var out struct {
		Users []map[string]string `json:"users"`
	}
	res := a.do("GET", "/v1/users/bob1", nil, bob)
	if res.status != http.StatusOK {
		t.Fatalf("self read: %d %s", res.status, res.raw)
	}
	res.decode(&out)
	if len(out.Users) != 1 || out.Users[0]["ROLES"] != "ROLE_USER" || out.Users[0]["username"] != "bob1" {
		t.Fatalf("self read: %s", res.raw)
	}
	res = a.do("GET", "/v1/users/admin", nil, a.admin)
	res.decode(&out)
	if res.status != http.StatusOK || out.Users[0]["ROLES"] != "ROLE_ADMIN" {
		t.Fatalf("admin read: %d %s", res.status, res.raw)
	}
}

func TestAPIKey(t *testing.T) {
	const key = "k3y-0123456789-abcdef"
	a, _ := newAuthAPI(t, httpapi.Options{APIKey: key}, nil)
	a.admin = a.login("admin", "secret", adminPassword)

	// Health is served to the key (the route may still be a stub; what
	// matters is that authentication and the role check passed).
	res := a.do("GET", "/v1/health", nil, auth("Apikey "+key))
	if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
		t.Fatalf("health with API key: %d %s", res.status, res.raw)
	}
	for _, p := range []string{"/v1/stats/app", "/v1/stats/db", "/v1/metrics", "/metrics"} {
		if res := a.do("GET", p, nil, auth("Apikey "+key)); res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
			t.Errorf("%s with API key: %d %s", p, res.status, res.raw)
		}
	}
	// A user token is enough for health too (ROLE_USER > ROLE_API).
	if res := a.do("GET", "/v1/health", nil, a.admin); res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
		t.Fatalf("health with token: %d %s", res.status, res.raw)
	}
	// Wrong keys, of the same length and otherwise.
	for _, k := range []string{"k3y-0123456789-abcdeF", "k3y-0123456789-abcde", key + "x", ""} {
		a.do("GET", "/v1/health", nil, auth("Apikey "+k)).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	}
	// The key is only ROLE_API: refused on everything else.
	for _, rt := range []struct{ method, path string }{
		{"POST", "/v1/messages"}, {"GET", "/v1/users/admin"}, {"GET", "/v1/settings/application"}, {"POST", "/v1/users/logout"},
	} {
		a.do(rt.method, rt.path, map[string]string{}, auth("Apikey "+key)).wantError(http.StatusForbidden, waent.CodeAccessDenied)
	}
}

func TestAPIKeyLengthChecked(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	for _, k := range []string{"short", strings.Repeat("k", 11), strings.Repeat("k", 129)} {
		if _, err := httpapi.New(a.client, httpapi.Options{APIKey: k}); err == nil {
			t.Errorf("API key of %d characters accepted", len(k))
		}
	}
	for _, k := range []string{strings.Repeat("k", 12), strings.Repeat("k", 128)} {
		if _, err := httpapi.New(a.client, httpapi.Options{APIKey: k}); err != nil {
			t.Errorf("API key of %d characters: %v", len(k), err)
		}
	}
}

func TestLoginThrottled(t *testing.T) {
	a, clk := newAuthAPI(t, httpapi.Options{}, func(c *waent.Config) {
		c.Users.MaxFailures, c.Users.FailureWindow = 3, 10*time.Minute
	})
	a.admin = a.login("admin", "secret", adminPassword)
	a.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, a.admin)
	for range 3 {
		a.do("POST", "/v1/users/login", nil, basic("bob1", "Wr0ng-password")).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	}
	// Now even the right password is refused, without revealing it was right.
	a.do("POST", "/v1/users/login", nil, basic("bob1", "B0b-password")).wantError(http.StatusTooManyRequests, waent.CodeTooManyRequests)
	// Other users are not affected.
	a.login("admin", adminPassword, "")
	clk.advance(10 * time.Minute)
	a.login("bob1", "B0b-password", "")
}

// TestTokenStoredHashed checks the store never holds a usable token.
func TestTokenStoredHashed(t *testing.T) {
	a, _ := newAuthAPI(t, httpapi.Options{}, nil)
	tok := a.login("admin", "secret", adminPassword)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes of base64url", tok)
	}
	sum := sha256.Sum256(raw)
	st, err := a.st.GetToken(t.Context(), sum[:])
	if err != nil || st.Username != "admin" {
		t.Fatalf("stored token: %+v %v", st, err)
	}
	// A token planted with some other hash scheme (the raw secret as
	// "hash") is not accepted.
	planted := make([]byte, 32)
	_, _ = rand.Read(planted)
	if err := a.st.CreateToken(t.Context(), store.Token{Hash: planted, Username: "admin", CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour * 1e4)}); err != nil {
		t.Fatal(err)
	}
	a.do("GET", "/v1/users/admin", nil, base64.RawURLEncoding.EncodeToString(planted)).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
}
