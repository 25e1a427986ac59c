package register_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waent/waent/conn/register"
	"github.com/waent/waent/waenttest/regserver"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newIdentity(t testing.TB, cc, phone string) register.Identity {
	t.Helper()
	id := register.Identity{CC: cc, Phone: phone, RegistrationID: 0xdeadbeef, SignedPreKeyID: 0xabcdef}
	for _, b := range [][]byte{id.InstallID[:], id.NoisePub[:], id.IdentityPub[:], id.SignedPreKeyPub[:], id.SignedPreKeySig[:]} {
		rand.Read(b)
	}
	return id
}

func startServer(t *testing.T, opts regserver.Options) (*regserver.Server, *register.Client) {
	t.Helper()
	s := regserver.New(opts)
	web := httptest.NewServer(s)
	t.Cleanup(web.Close)
	return s, &register.Client{BaseURL: web.URL + "/"}
}

func TestRegisterFlow(t *testing.T) {
	for _, method := range []string{"sms", "voice"} {
		t.Run(method, func(t *testing.T) {
			ctx := t.Context()
			srv, c := startServer(t, regserver.Options{})
			id := newIdentity(t, "1", "6315550000")

			if ok, err := c.Exists(ctx, id); err != nil || ok {
				t.Fatalf("Exists before registering = %v, %v; want false", ok, err)
			}
			res, err := c.RequestCode(ctx, id, method)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != "sent" || res.Method != method || res.Length != 6 || res.AlreadyRegistered {
				t.Fatalf("RequestCode = %+v", res)
			}
			code, ok := srv.IssuedCode("1", "6315550000")
			if !ok || len(code) != 6 || strings.Trim(code, "0123456789") != "" {
				t.Fatalf("IssuedCode = %q, %v; want 6 digits", code, ok)
			}
			if _, ok := srv.Registered("16315550000"); ok {
				t.Fatal("registered before the code was submitted")
			}
			// Codes are displayed as 123-456; the dash is accepted.
			if err := c.Register(ctx, id, code[:3]+"-"+code[3:]); err != nil {
				t.Fatal(err)
			}
			key, ok := srv.Registered("16315550000")
			if !ok || key != id.NoisePub {
				t.Fatalf("Registered = %x, %v; want the identity's noise key", key, ok)
			}
			if ok, err := c.Exists(ctx, id); err != nil || !ok {
				t.Fatalf("Exists after registering = %v, %v; want true", ok, err)
			}
			// Another installation's key is not "this installation".
			other := newIdentity(t, "1", "6315550000")
			if ok, err := c.Exists(ctx, other); err != nil || ok {
				t.Fatalf("Exists for another key = %v, %v; want false", ok, err)
			}
			res, err = c.RequestCode(ctx, id, method)
			if err != nil || !res.AlreadyRegistered {
				t.Fatalf("RequestCode when registered = %+v, %v; want AlreadyRegistered", res, err)
			}
			if err := c.Register(ctx, id, code); !errors.Is(err, register.ErrStaleCode) {
				t.Fatalf("reusing the code: err = %v, want ErrStaleCode", err)
			}
		})
	}
}

func TestRegisterWrongCode(t *testing.T) {
	ctx := t.Context()
	srv, c := startServer(t, regserver.Options{})
	id := newIdentity(t, "44", "7700900123")
	if _, err := c.RequestCode(ctx, id, "sms"); err != nil {
		t.Fatal(err)
	}
	code, _ := srv.IssuedCode("44", "7700900123")
	wrong := wrongCode(code)

	err := c.Register(ctx, id, wrong)
	var re *register.Error
	if !errors.Is(err, register.ErrIncorrectCode) || !errors.As(err, &re) || re.Status != "fail" || re.Reason != "incorrect" {
		t.Fatalf("wrong code: err = %#v, want fail/incorrect", err)
	}
	if _, ok := srv.Registered("447700900123"); ok {
		t.Fatal("a wrong code registered the number")
	}
	if err := c.Register(ctx, id, code); err != nil {
		t.Fatalf("the right code after a wrong one: %v", err)
	}

	// Guessing is capped: after five wrong codes even the right one fails.
	id2 := newIdentity(t, "44", "7700900124")
	if _, err := c.RequestCode(ctx, id2, "sms"); err != nil {
		t.Fatal(err)
	}
	code, _ = srv.IssuedCode("44", "7700900124")
	for range 5 {
		if err := c.Register(ctx, id2, wrongCode(code)); !errors.Is(err, register.ErrIncorrectCode) {
			t.Fatalf("guess: %v", err)
		}
	}
	if err := c.Register(ctx, id2, code); !errors.Is(err, register.ErrStaleCode) {
		t.Fatalf("after five wrong guesses: err = %v, want ErrStaleCode", err)
	}
}

func wrongCode(code string) string {
	b := []byte(code)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

func TestRegisterWithoutCodeIsStale(t *testing.T) {
	_, c := startServer(t, regserver.Options{})
	id := newIdentity(t, "1", "6315550001")
	if err := c.Register(t.Context(), id, "123456"); !errors.Is(err, register.ErrStaleCode) {
		t.Fatalf("err = %v, want ErrStaleCode", err)
	}
}

func TestRegisterTakesOverNumber(t *testing.T) {
	ctx := t.Context()
	srv, c := startServer(t, regserver.Options{})
	old := newIdentity(t, "1", "6315550002")
	srv.Register("16315550002", old.NoisePub)
	if ok, err := c.Exists(ctx, old); err != nil || !ok {
		t.Fatalf("pre-registered: Exists = %v, %v", ok, err)
	}

	fresh := newIdentity(t, "1", "6315550002")
	res, err := c.RequestCode(ctx, fresh, "sms")
	if err != nil || res.AlreadyRegistered || res.Status != "sent" {
		t.Fatalf("new install's code request = %+v, %v; want a code sent", res, err)
	}
	code, _ := srv.IssuedCode("1", "6315550002")
	if err := c.Register(ctx, fresh, code); err != nil {
		t.Fatal(err)
	}
	if key, _ := srv.Registered("16315550002"); key != fresh.NoisePub {
		t.Fatal("the new installation's key did not replace the old one")
	}
	if ok, _ := c.Exists(ctx, old); ok {
		t.Fatal("the old installation still exists")
	}
}

func TestRegisterBlocked(t *testing.T) {
	ctx := t.Context()
	srv, c := startServer(t, regserver.Options{})
	id := newIdentity(t, "1", "6315550003")
	srv.Register("16315550003", id.NoisePub)
	srv.Block("16315550003")

	if _, ok := srv.Registered("16315550003"); ok {
		t.Fatal("a blocked number can still log in")
	}
	_, err := c.Exists(ctx, id)
	if !errors.Is(err, register.ErrBlocked) {
		t.Fatalf("Exists: err = %v, want ErrBlocked", err)
	}
	if _, err := c.RequestCode(ctx, id, "sms"); !errors.Is(err, register.ErrBlocked) {
		t.Fatalf("RequestCode: err = %v, want ErrBlocked", err)
	}
	if err := c.Register(ctx, id, "123456"); !errors.Is(err, register.ErrBlocked) {
		t.Fatalf("Register: err = %v, want ErrBlocked", err)
	}
	srv.Unblock("16315550003")
	if key, ok := srv.Registered("16315550003"); !ok || key != id.NoisePub {
		t.Fatal("Unblock did not restore the registration")
	}
}

func TestRegisterRetryAfter(t *testing.T) {
	ctx := t.Context()
	clock := newTestClock()
	srv, c := startServer(t, regserver.Options{Now: clock.Now, RetryAfter: time.Minute})
	id := newIdentity(t, "49", "15123456789")

	res, err := c.RequestCode(ctx, id, "sms")
	if err != nil || res.RetryAfter != time.Minute {
		t.Fatalf("first request = %+v, %v; want RetryAfter 1m", res, err)
	}
	first, _ := srv.IssuedCode("49", "15123456789")

	clock.Advance(20 * time.Second)
	_, err = c.RequestCode(ctx, id, "voice")
	var re *register.Error
	if !errors.Is(err, register.ErrTooRecent) || !errors.As(err, &re) || re.RetryAfter != 40*time.Second {
		t.Fatalf("early request: err = %v, want ErrTooRecent with RetryAfter 40s", err)
	}

	clock.Advance(40 * time.Second)
	if res, err := c.RequestCode(ctx, id, "voice"); err != nil || res.Method != "voice" {
		t.Fatalf("request after the gap = %+v, %v", res, err)
	}
	second, _ := srv.IssuedCode("49", "15123456789")
	if first == second {
		t.Skip("two random codes coincided; nothing to distinguish")
	}
	// Both outstanding codes are good: the SMS may land after the call.
	if err := c.Register(ctx, id, first); err != nil {
		t.Fatalf("the earlier code: %v", err)
	}
}

func TestRegisterCodeExpires(t *testing.T) {
	ctx := t.Context()
	clock := newTestClock()
	srv, c := startServer(t, regserver.Options{Now: clock.Now, CodeTTL: time.Minute})
	id := newIdentity(t, "1", "6315550004")
	if _, err := c.RequestCode(ctx, id, "sms"); err != nil {
		t.Fatal(err)
	}
	code, _ := srv.IssuedCode("1", "6315550004")
	clock.Advance(time.Minute)
	if _, ok := srv.IssuedCode("1", "6315550004"); ok {
		t.Fatal("IssuedCode returns an expired code")
	}
	if err := c.Register(ctx, id, code); !errors.Is(err, register.ErrStaleCode) {
		t.Fatalf("expired code: err = %v, want ErrStaleCode", err)
	}
}

func TestClientRejectsBadInputLocally(t *testing.T) {
	var hits atomic.Int32
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer web.Close()
	c := &register.Client{BaseURL: web.URL}
	good := newIdentity(t, "1", "6315550000")
	mod := func(f func(*register.Identity)) register.Identity { id := good; f(&id); return id }
	ctx := t.Context()

	for name, id := range map[string]register.Identity{
		"empty cc":       mod(func(id *register.Identity) { id.CC = "" }),
		"cc with +":      mod(func(id *register.Identity) { id.CC = "+1" }),
		"cc too long":    mod(func(id *register.Identity) { id.CC = "1234" }),
		"cc leading 0":   mod(func(id *register.Identity) { id.CC = "01" }),
		"phone letters":  mod(func(id *register.Identity) { id.Phone = "631555OOOO" }),
		"phone short":    mod(func(id *register.Identity) { id.Phone = "123" }),
		"number too big": mod(func(id *register.Identity) { id.Phone = "63155500001234" + "5" }),
		"zero noise key": mod(func(id *register.Identity) { id.NoisePub = [32]byte{} }),
		"skey id 25 bit": mod(func(id *register.Identity) { id.SignedPreKeyID = 1 << 24 }),
	} {
		if _, err := c.Exists(ctx, id); !errors.Is(err, register.ErrBadParam) {
			t.Errorf("%s: err = %v, want ErrBadParam", name, err)
		}
	}
	if _, err := c.RequestCode(ctx, good, "fax"); !errors.Is(err, register.ErrBadParam) {
		t.Errorf("method fax: err = %v", err)
	}
	for _, code := range []string{"", "12a456", "12345678901", "---"} {
		if err := c.Register(ctx, good, code); !errors.Is(err, register.ErrBadParam) {
			t.Errorf("code %q: err = %v", code, err)
		}
	}
	for _, base := range []string{"", "ftp://x", "http://", "http://x/?q=1", "::"} {
		bc := &register.Client{BaseURL: base}
		if _, err := bc.Exists(ctx, good); err == nil {
			t.Errorf("BaseURL %q accepted", base)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}

func TestClientBadReplies(t *testing.T) {
	id := newIdentity(t, "1", "6315550000")
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"http error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }, "HTTP 503"},
		{"not json", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }, "malformed"},
		{"no status", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"login":"16315550000"}`)) }, "no status"},
		{"huge", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"ok","x":"` + strings.Repeat("a", 100<<10) + `"}`))
		}, "larger than"},
		{"other number", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"status":"ok","login":"15555550000"}`))
		}, "not 16315550000"},
		{"unexpected status", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"status":"sent"}`)) }, "register: sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			web := httptest.NewServer(tc.handler)
			defer web.Close()
			c := &register.Client{BaseURL: web.URL}
			_, err := c.Exists(t.Context(), id)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestClientHonoursContext(t *testing.T) {
	release := make(chan struct{})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer web.Close()
	defer close(release)
	c := &register.Client{BaseURL: web.URL}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	id := newIdentity(t, "1", "6315550000")
	_, err := c.RequestCode(ctx, id, "sms")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's deadline", err)
	}
	if strings.Contains(err.Error(), "authkey") {
		t.Fatalf("error %q leaks the request URL", err)
	}
}
