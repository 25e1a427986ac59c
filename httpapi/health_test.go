package httpapi_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// hmAPIKey is the API key of the monitoring tests.
const hmAPIKey = "monitoring-key-0123"

func hmKey() auth { return auth("Apikey " + hmAPIKey) }

// hmUnstarted serves the handler of a Client that was never started,
// over st, with the API key; it needs no network and no login.
func hmUnstarted(t *testing.T, st store.Store) *api {
	t.Helper()
	c, err := waent.New(waent.Config{Store: st, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h, err := httpapi.New(c, httpapi.Options{APIKey: hmAPIKey, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{t: t, st: st, client: c, h: h, srv: srv}
}

func hmGatewayStatus(t *testing.T, a *api, authz any) string {
	t.Helper()
	res := a.do("GET", "/v1/health", nil, authz)
	if res.status != http.StatusOK {
		t.Fatalf("health: %d %s", res.status, res.raw)
	}
	var out struct {
		Health struct {
			GatewayStatus string `json:"gateway_status"`
		} `json:"health"`
		Meta struct {
			Version string `json:"version"`
		} `json:"meta"`
	}
	res.decode(&out)
	if out.Meta.Version == "" {
		t.Errorf("health without meta: %s", res.raw)
	}
	return out.Health.GatewayStatus
}

// TestHealthStates: gateway_status follows the Client from never started
// through unregistered and connected to closed.
func TestHealthStates(t *testing.T) {
	t.Run("uninitialized", func(t *testing.T) {
		a := hmUnstarted(t, memstore.New())
		if got := hmGatewayStatus(t, a, hmKey()); got != "uninitialized" {
			t.Errorf("never started: %q", got)
		}
	})
	t.Run("unregistered", func(t *testing.T) {
		a := newAPI(t, apiOptions{unregistered: true})
		if got := hmGatewayStatus(t, a, a.admin); got != "unregistered" {
			t.Errorf("unregistered client: %q", got)
		}
	})
	t.Run("connected then closed", func(t *testing.T) {
		a := newAPI(t, apiOptions{opts: httpapi.Options{APIKey: hmAPIKey}})
		if got := hmGatewayStatus(t, a, hmKey()); got != "connected" {
			t.Errorf("registered client: %q", got)
		}
		if got := hmGatewayStatus(t, a, a.admin); got != "connected" {
			t.Errorf("with a token: %q", got)
		}
		a.client.Close()
		if got := hmGatewayStatus(t, a, hmKey()); got != "disconnected" {
			t.Errorf("closed client: %q", got)
		}
	})
}

// TestHealthNeedsCredentials: health is open to the API key, not to
// anonymous callers or wrong keys.
func TestHealthNeedsCredentials(t *testing.T) {
	a := hmUnstarted(t, memstore.New())
	a.do("GET", "/v1/health", nil, nil).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
	a.do("GET", "/v1/health", nil, auth("Apikey not-the-right-key")).wantError(http.StatusUnauthorized, waent.CodeAccessDenied)
}

type hmSupport struct {
	Support struct {
		DBEngine   string `json:"db_engine"`
		DebugInfo  string `json:"debug_info"`
		SocketConn string `json:"socket_conn"`
		OSName     string `json:"os_name"`
		E2E        struct {
			RegistrationID    uint32 `json:"registration_id"`
			IdentityTimestamp int64  `json:"identity_timestamp"`
		} `json:"e2e"`
		Callbacks struct {
			Queued int `json:"queued"`
		} `json:"callbacks"`
	} `json:"support"`
}

// TestSupport: the number, the connection and the Signal registration
// id of the running client; users only, not the API key.
func TestSupport(t *testing.T) {
	a := newAPI(t, apiOptions{opts: httpapi.Options{APIKey: hmAPIKey}})
	res := a.do("GET", "/v1/support", nil, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("support: %d %s", res.status, res.raw)
	}
	var out hmSupport
	res.decode(&out)
	s := out.Support
	acct, err := a.st.GetAccount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.DebugInfo != businessCC+businessNumber || s.SocketConn != "UP" || s.DBEngine != "UNKNOWN" || s.OSName == "" {
		t.Errorf("support: %s", res.raw)
	}
	if s.E2E.RegistrationID != acct.RegistrationID || s.E2E.IdentityTimestamp != acct.CreatedAt.Unix() {
		t.Errorf("e2e %+v, account has registration id %d created %v", s.E2E, acct.RegistrationID, acct.CreatedAt)
	}
	a.do("GET", "/v1/support", nil, hmKey()).wantError(http.StatusForbidden, waent.CodeAccessDenied)

	u := newAPI(t, apiOptions{unregistered: true})
	res = u.do("GET", "/v1/support", nil, u.admin)
	out = hmSupport{}
	res.decode(&out)
	if out.Support.DebugInfo != "unregistered" || out.Support.SocketConn != "DN" {
		t.Errorf("unregistered support: %s", res.raw)
	}
}
