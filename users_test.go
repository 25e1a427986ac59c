package waent_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

type usersClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *usersClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *usersClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newUsersClient is a Client over st that is never started: users need
// only the store. Argon2 is made cheap unless tune says otherwise.
func newUsersClient(t *testing.T, st store.Store, clk *usersClock, tune func(*waent.UsersConfig)) *waent.Client {
	t.Helper()
	cfg := waent.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Now: clk.Now}
	cfg.Users = waent.UsersConfig{HashTime: 1, HashMemoryKiB: 64, HashThreads: 1}
	if tune != nil {
		tune(&cfg.Users)
	}
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newClock() *usersClock {
	return &usersClock{now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
}

// wantCode fails unless err is a *waent.Error with code.
func wantCode(t *testing.T, err error, code int) *waent.Error {
	t.Helper()
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != code {
		t.Fatalf("got %v, want code %d", err, code)
	}
	return we
}

const adminPass = "Adm1n-Secret!"

// TestDefaultAdminFirstLogin: admin/secret exists on first use, must be
// changed, and only once changed does it give a token.
func TestDefaultAdminFirstLogin(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, nil)
	_, err := c.Login(ctx, "admin", "secret", "")
	wantCode(t, err, waent.CodePasswordChange)
	_, err = c.Login(ctx, "admin", "wrong", "")
	wantCode(t, err, waent.CodeAccessDenied)
	_, err = c.Login(ctx, "admin", "secret", "weak")
	wantCode(t, err, waent.CodeInvalidParameter)

	res, err := c.Login(ctx, "admin", "secret", adminPass)
	if err != nil {
		t.Fatal(err)
	}
	if want := clk.Now().Add(7 * 24 * time.Hour); !res.ExpiresAfter.Equal(want) {
		t.Fatalf("expires %v, want %v", res.ExpiresAfter, want)
	}
	u, err := c.Authenticate(ctx, res.Token)
	if err != nil || u.Username != "admin" || u.Role != store.RoleAdmin || u.MustChangePassword || u.PasswordHash != "" {
		t.Fatalf("authenticate: %+v %v", u, err)
	}
	// The old password is gone; the new one needs no change.
	_, err = c.Login(ctx, "admin", "secret", "")
	wantCode(t, err, waent.CodeAccessDenied)
	if _, err := c.Login(ctx, "admin", adminPass, ""); err != nil {
		t.Fatal(err)
	}
	// The password is stored as a salted argon2id PHC string.
	su, err := st.GetUser(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(su.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(su.PasswordHash, adminPass) {
		t.Fatalf("stored hash %q", su.PasswordHash)
	}
}

// TestDefaultAdminTwoInstances: two Clients on one store racing to make
// the default admin both succeed, and there is one admin.
func TestDefaultAdminTwoInstances(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	cs := []*waent.Client{newUsersClient(t, st, clk, nil), newUsersClient(t, st, clk, nil)}
	var wg sync.WaitGroup
	errs := make([]error, len(cs))
	for i, c := range cs {
		wg.Go(func() { _, errs[i] = c.Login(ctx, "admin", "secret", "") })
	}
	wg.Wait()
	for _, err := range errs {
		wantCode(t, err, waent.CodePasswordChange)
	}
	all, err := st.ListUsers(ctx)
	if err != nil || len(all) != 1 || all[0].Username != "admin" || !all[0].MustChangePassword || all[0].Role != store.RoleAdmin {
		t.Fatalf("users: %+v %v", all, err)
	}
}

// TestNoDefaultAdminWhenUsersExist: an admin row removed by hand is not
// recreated with the well-known password while other users exist.
func TestNoDefaultAdminWhenUsersExist(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	if err := st.CreateUser(ctx, store.User{Username: "ops1", PasswordHash: "x", Role: store.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	c := newUsersClient(t, st, clk, nil)
	_, err := c.Login(ctx, "admin", "secret", adminPass)
	wantCode(t, err, waent.CodeAccessDenied)
}

func TestValidatePassword(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		code int // 0: valid
		want string
	}{
		{"", waent.CodeMissingParameter, "Missing mandatory parameter 'password'"},
		{"Aa1!aaa", waent.CodeInvalidParameter, "8 to 64 characters"},
		{"Aa1!aaaa", 0, ""},
		{"Aa1!" + strings.Repeat("a", 60), 0, ""},
		{"Aa1!" + strings.Repeat("a", 61), waent.CodeInvalidParameter, "8 to 64 characters"},
		{"Aa1!" + strings.Repeat("é", 60), 0, ""}, // characters, not bytes
		{"aaaaaa1!", waent.CodeInvalidParameter, "one upper case letter"},
		{"AAAAAA1!", waent.CodeInvalidParameter, "one lower case letter"},
		{"Aaaaaaa!", waent.CodeInvalidParameter, "one digit"},
		{"Aaaaaaa1", waent.CodeInvalidParameter, "one special character"},
		{"aaaaaaaa", waent.CodeInvalidParameter, "one digit, one upper case letter, one special character"},
		{"Aa1 aaaa", 0, ""}, // space is special
		{"Aa1`aaaa", 0, ""}, // so is the backtick
		{"Aa1éaaaa", waent.CodeInvalidParameter, "one special character"}, // non-ASCII is not special
		{"Aa1!aa\naa", waent.CodeInvalidParameter, "control characters"},
		{"Aa1!aa\xffa", waent.CodeInvalidParameter, "UTF-8"},
	} {
		err := waent.ValidatePassword("password", tc.pw)
		if tc.code == 0 {
			if err != nil {
				t.Errorf("%q: %v", tc.pw, err)
			}
			continue
		}
		var we *waent.Error
		if !errors.As(err, &we) || we.Code != tc.code || !strings.Contains(we.Details, tc.want) {
			t.Errorf("%q: got %v, want %d containing %q", tc.pw, err, tc.code, tc.want)
		}
	}
	// Every listed special character counts.
	for _, r := range waent.PasswordSpecials {
		if err := waent.ValidatePassword("p", "Aa1aaaa"+string(r)); err != nil {
			t.Errorf("special %q: %v", r, err)
		}
	}
}

func TestValidateUsername(t *testing.T) {
	for name, ok := range map[string]bool{
		"bob": false, "bob1": true, strings.Repeat("u", 32): true, strings.Repeat("u", 33): false,
		"bo b1": false, "bob:1": false, "bob/1": false, "bob\x001": false, "bøb1": false, "bob.smith@x-y_z": true,
	} {
		if err := waent.ValidateUsername(name); (err == nil) != ok {
			t.Errorf("%q: %v, want ok=%v", name, err, ok)
		}
	}
	wantCode(t, waent.ValidateUsername(""), waent.CodeMissingParameter)
}

// TestUserLifecycle: create, duplicate, read, change password, delete.
func TestUserLifecycle(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, nil)
	if err := c.CreateUser(ctx, "bob1", "B0b-password"); err != nil {
		t.Fatal(err)
	}
	we := wantCode(t, c.CreateUser(ctx, "bob1", "B0b-password"), waent.CodeInternal)
	if we.Details != "Unable to create user. Already exist?" {
		t.Fatalf("duplicate details %q", we.Details)
	}
	wantCode(t, c.CreateUser(ctx, "bob2", "password"), waent.CodeInvalidParameter)
	u, err := c.GetUser(ctx, "bob1")
	if err != nil || u.Role != store.RoleUser || u.MustChangePassword || u.PasswordHash != "" {
		t.Fatalf("get: %+v %v", u, err)
	}
	_, err = c.GetUser(ctx, "nobody")
	wantCode(t, err, waent.CodeResourceNotFound)
	// The default admin was made alongside the first user.
	if _, err := c.GetUser(ctx, "admin"); err != nil {
		t.Fatal(err)
	}

	tok, err := c.Login(ctx, "bob1", "B0b-password", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePassword(ctx, "bob1", "N3w-bob-pass"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Authenticate(ctx, tok.Token)
	wantCode(t, err, waent.CodeAccessDenied) // a password change revokes tokens
	_, err = c.Login(ctx, "bob1", "B0b-password", "")
	wantCode(t, err, waent.CodeAccessDenied)
	tok, err = c.Login(ctx, "bob1", "N3w-bob-pass", "")
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, c.ChangePassword(ctx, "nobody", "N3w-bob-pass"), waent.CodeResourceNotFound)

	if err := c.DeleteUser(ctx, "bob1"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Authenticate(ctx, tok.Token)
	wantCode(t, err, waent.CodeAccessDenied)
	wantCode(t, c.DeleteUser(ctx, "bob1"), waent.CodeResourceNotFound)
	wantCode(t, c.DeleteUser(ctx, "admin"), waent.CodeAccessDenied)
	if _, err := st.GetUser(ctx, "admin"); err != nil {
		t.Fatalf("admin gone: %v", err)
	}
}

// TestTokens: tokens are random, stored hashed, revoked by Logout (all
// of them), and expire.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, func(u *waent.UsersConfig) { u.TokenTTL = time.Hour })
	if err := c.CreateUser(ctx, "bob1", "B0b-password"); err != nil {
		t.Fatal(err)
	}
	t1, err := c.Login(ctx, "bob1", "B0b-password", "")
	if err != nil {
		t.Fatal(err)
	}
	t2, err := c.Login(ctx, "bob1", "B0b-password", "")
	if err != nil {
		t.Fatal(err)
	}
	if t1.Token == t2.Token {
		t.Fatal("two logins gave the same token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(t1.Token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q", t1.Token)
	}
	sum := sha256.Sum256(raw)
	if stt, err := st.GetToken(ctx, sum[:]); err != nil || stt.Username != "bob1" {
		t.Fatalf("token not stored as its SHA-256: %+v %v", stt, err)
	}
	if _, err := st.GetToken(ctx, raw); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("raw secret stored: %v", err)
	}
	for _, bad := range []string{"", "x", t1.Token[:42], t1.Token + "A", strings.Repeat("*", 43)} {
		_, err := c.Authenticate(ctx, bad)
		wantCode(t, err, waent.CodeAccessDenied)
	}

	clk.advance(59 * time.Minute)
	if _, err := c.Authenticate(ctx, t1.Token); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	clk.advance(time.Minute)
	_, err = c.Authenticate(ctx, t1.Token)
	if we := wantCode(t, err, waent.CodeAccessDenied); !strings.Contains(we.Details, "expired") {
		t.Fatalf("details %q", we.Details)
	}

	t3, err := c.Login(ctx, "bob1", "B0b-password", "")
	if err != nil {
		t.Fatal(err)
	}
	t4, err := c.Login(ctx, "bob1", "B0b-password", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Logout(ctx, "bob1"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{t3.Token, t4.Token} {
		_, err := c.Authenticate(ctx, tok)
		if we := wantCode(t, err, waent.CodeAccessDenied); !strings.Contains(we.Details, "revoked") {
			t.Fatalf("details %q", we.Details)
		}
	}
}

// TestLoginThrottling: failures lock one username for the window; the
// lock refuses even the right password; other names are unaffected; a
// success clears the count.
func TestLoginThrottling(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, nil) // defaults: 5 in 15 minutes
	for _, u := range []string{"bob1", "carol"} {
		if err := c.CreateUser(ctx, u, "B0b-password"); err != nil {
			t.Fatal(err)
		}
	}
	// Four failures, then a success: the count starts over.
	for range 4 {
		_, err := c.Login(ctx, "bob1", "nope", "")
		wantCode(t, err, waent.CodeAccessDenied)
	}
	if _, err := c.Login(ctx, "bob1", "B0b-password", ""); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_, err := c.Login(ctx, "bob1", "nope", "")
		wantCode(t, err, waent.CodeAccessDenied)
		clk.advance(time.Minute * time.Duration(i)) // failures at 0, 0, 1, 3, 6 minutes
	}
	_, err := c.Login(ctx, "bob1", "B0b-password", "")
	wantCode(t, err, waent.CodeTooManyRequests)
	if _, err := c.Login(ctx, "carol", "B0b-password", ""); err != nil {
		t.Fatalf("other user throttled: %v", err)
	}
	// Unknown usernames are throttled the same way.
	for range 5 {
		_, err := c.Login(ctx, "ghost", "nope", "")
		wantCode(t, err, waent.CodeAccessDenied)
	}
	_, err = c.Login(ctx, "ghost", "nope", "")
	wantCode(t, err, waent.CodeTooManyRequests)

	// The first failure leaves the window 15 minutes after it happened.
	clk.advance(15*time.Minute - 10*time.Minute - time.Second)
	_, err = c.Login(ctx, "bob1", "B0b-password", "")
	wantCode(t, err, waent.CodeTooManyRequests)
	clk.advance(time.Second)
	if _, err := c.Login(ctx, "bob1", "B0b-password", ""); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestThrottleMemoryBounded: past MaxTracked names the stalest record is
// forgotten rather than the table growing.
func TestThrottleMemoryBounded(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, func(u *waent.UsersConfig) { u.MaxFailures, u.MaxTracked = 2, 3 })
	for range 2 {
		_, err := c.Login(ctx, "victim", "nope", "")
		wantCode(t, err, waent.CodeAccessDenied)
	}
	_, err := c.Login(ctx, "victim", "nope", "")
	wantCode(t, err, waent.CodeTooManyRequests)
	for i := range 3 {
		clk.advance(time.Second)
		_, err := c.Login(ctx, fmt.Sprintf("name%d", i), "nope", "")
		wantCode(t, err, waent.CodeAccessDenied)
	}
	// victim was the stalest of four names in a table of three.
	_, err = c.Login(ctx, "victim", "nope", "")
	wantCode(t, err, waent.CodeAccessDenied)
}

// TestHashUpgradedOnLogin: a hash made with weaker parameters is
// replaced at the next successful login.
func TestHashUpgradedOnLogin(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	weak := newUsersClient(t, st, clk, nil)
	if err := weak.CreateUser(ctx, "bob1", "B0b-password"); err != nil {
		t.Fatal(err)
	}
	strong := newUsersClient(t, st, clk, func(u *waent.UsersConfig) { u.HashMemoryKiB, u.HashTime = 256, 2 })
	if _, err := strong.Login(ctx, "bob1", "B0b-password", ""); err != nil {
		t.Fatal(err)
	}
	u, _ := st.GetUser(ctx, "bob1")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=256,t=2,p=1$") {
		t.Fatalf("hash not upgraded: %q", u.PasswordHash)
	}
	// Both instances still accept the password.
	if _, err := weak.Login(ctx, "bob1", "B0b-password", ""); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptHashIsNotAMatch: a stored hash that is not argon2id (or
// asks for absurd parameters) fails the login with an error instead of
// matching or allocating.
func TestCorruptHashIsNotAMatch(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, nil)
	for i, h := range []string{"plain", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5"} {
		name := fmt.Sprintf("user%d", i)
		if err := st.CreateUser(ctx, store.User{Username: name, PasswordHash: h, Role: store.RoleUser}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, name, "B0b-password", ""); err == nil {
			t.Fatalf("hash %q: login succeeded", h)
		}
	}
}

// TestDefaultHashCost: the default parameters are what the doc says and
// a login with them stays fast enough for an interactive API.
func TestDefaultHashCost(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	cfg := waent.Config{Store: st, Logger: slog.New(slog.DiscardHandler), Now: clk.Now}
	c, err := waent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Login(ctx, "admin", "secret", adminPass); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Login(ctx, "admin", adminPass, ""); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	t.Logf("login with default argon2id parameters: %v", d)
	if d > 2*time.Second {
		t.Fatalf("login took %v", d)
	}
	u, _ := st.GetUser(ctx, "admin")
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q", u.PasswordHash)
	}
}

// TestThrottleParallelBurst: guesses sent at once cannot all be checked
// before the first failures are recorded; attempts in flight count.
func TestThrottleParallelBurst(t *testing.T) {
	ctx := context.Background()
	st, clk := memstore.New(), newClock()
	c := newUsersClient(t, st, clk, func(u *waent.UsersConfig) { u.HashMemoryKiB = 2048 })
	if err := c.CreateUser(ctx, "bob1", "B0b-password"); err != nil {
		t.Fatal(err)
	}
	const n = 24
	start := make(chan struct{})
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := c.Login(ctx, "bob1", fmt.Sprintf("guess-%d", i), "")
			var we *waent.Error
			if errors.As(err, &we) {
				codes[i] = we.Code
			}
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, code := range codes {
		count[code]++
	}
	if count[waent.CodeAccessDenied] > 5 || count[waent.CodeAccessDenied]+count[waent.CodeTooManyRequests] != n {
		t.Fatalf("outcomes %v: more than 5 guesses were checked", count)
	}
	_, err := c.Login(ctx, "bob1", "B0b-password", "")
	wantCode(t, err, waent.CodeTooManyRequests)
}

// A token issued before the user's last change is void even when the
// revocation of that change did not reach it (a login racing a password
// change).
func TestTokenOlderThanUserChangeIsVoid(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	clk := newClock()
	c := newUsersClient(t, st, clk, nil)
	if err := c.CreateUser(ctx, "clerk", "Cl3rk-password!"); err != nil {
		t.Fatal(err)
	}
	res, err := c.Login(ctx, "clerk", "Cl3rk-password!", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, res.Token); err != nil {
		t.Fatal(err)
	}
	// The user changes behind the token's back, without revoking it.
	clk.advance(time.Second)
	u, err := st.GetUser(ctx, "clerk")
	if err != nil {
		t.Fatal(err)
	}
	u.UpdatedAt = clk.Now()
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, err = c.Authenticate(ctx, res.Token)
	if we := wantCode(t, err, waent.CodeAccessDenied); !strings.Contains(we.Details, "revoked") {
		t.Fatalf("details %q", we.Details)
	}
	// A new login works.
	res, err = c.Login(ctx, "clerk", "Cl3rk-password!", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, res.Token); err != nil {
		t.Fatalf("fresh token: %v", err)
	}
}
