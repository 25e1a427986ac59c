package chi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"

	example "github.com/waent/waent/examples/chi"
)

func TestMountedUnderChi(t *testing.T) {
	ctx := context.Background()
	simNet := waenttest.New(t)
	c, err := waent.New(waent.Config{Store: memstore.New(), Dialer: simNet.Dialer(), ChatRootKey: simNet.RootKey(),
		RegistrationURL: simNet.RegistrationURL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	router, err := example.NewRouter(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(router)
	defer srv.Close()

	do := func(method, path, token string, body any, basic ...string) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if len(basic) == 2 {
			req.SetBasicAuth(basic[0], basic[1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	first := func(out map[string]any, key, field string) string {
		t.Helper()
		arr, _ := out[key].([]any)
		if len(arr) == 0 {
			t.Fatalf("no %s in %v", key, out)
		}
		v, _ := arr[0].(map[string]any)[field].(string)
		return v
	}

	// Everything through the prefix: login, registration, a send.
	st, out := do("POST", "/wa/v1/users/login", "", map[string]string{"new_password": "Chi-Pass-1"}, "admin", "secret")
	if st != 200 {
		t.Fatalf("login: %d %v", st, out)
	}
	tok := first(out, "users", "token")
	if st, out := do("POST", "/wa/v1/account", tok, map[string]string{"cc": "1", "phone_number": "5550100", "method": "sms"}); st/100 != 2 {
		t.Fatalf("register: %d %v", st, out)
	}
	code, _ := simNet.Registration().IssuedCode("1", "5550100")
	if st, out := do("POST", "/wa/v1/account/verify", tok, map[string]string{"code": code}); st/100 != 2 {
		t.Fatalf("verify: %d %v", st, out)
	}
	bob, err := simNet.NewUser("447700900002", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, out := do("POST", "/wa/v1/messages", tok, map[string]any{"to": bob.Phone(), "type": "text", "text": map[string]string{"body": "via chi"}})
		if st == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send: %d %v", st, out)
		}
		time.Sleep(20 * time.Millisecond) // 1011 until connected
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if got, err := bob.WaitReceived(wctx, 1); err != nil || got[0].Text != "via chi" {
		t.Fatalf("Bob got %+v, %v", got, err)
	}

	// The application's own routes still answer; /v1 without the prefix
	// is not the API.
	if st, _ := do("GET", "/", "", nil); st != 200 {
		t.Fatalf("app route: %d", st)
	}
	if st, _ := do("GET", "/v1/health", tok, nil); st != 404 {
		t.Fatalf("unprefixed /v1/health: %d, want 404", st)
	}
	if st, out := do("GET", "/wa/v1/health", tok, nil); st != 200 {
		t.Fatalf("health: %d %v", st, out)
	}
}
