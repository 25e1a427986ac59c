package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/waenttest"
)

func TestShopShipsAndHonoursStop(t *testing.T) {
	ctx := context.Background()
	simNet := waenttest.New(t)
	shop, err := NewShop(ctx, Config{DBFile: filepath.Join(t.TempDir(), "shop.db"), WA: waent.Config{
		Dialer: simNet.Dialer(), ChatRootKey: simNet.RootKey(), RegistrationURL: simNet.RegistrationURL(),
		Logger: slog.New(slog.DiscardHandler),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer shop.Close()
	if err := Register(ctx, shop.Client(), simNet, "1", "5550100"); err != nil {
		t.Fatal(err)
	}
	alice, err := simNet.NewUser("447700900001", waenttest.UserOptions{PushName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(shop)
	defer srv.Close()

	post := func(path, body string) map[string]any {
		t.Helper()
		res, err := http.Post(srv.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		if res.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %d %v", path, res.StatusCode, out)
		}
		return out
	}

	// Shipping an order messages the customer.
	post("/orders", `{"phone":"447700900001"}`)
	out := post("/orders/1/ship", "")
	if out["message_id"] == "" || out["whatsapp_error"] != nil {
		t.Fatalf("ship: %v", out)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	got, err := alice.WaitReceived(wctx, 1)
	if err != nil || got[0].Text != "Order 1 has shipped" {
		t.Fatalf("Alice got %+v, %v", got, err)
	}

	// She answers STOP: the callback reaches the shop's Go function and
	// the next shipment sends nothing.
	if _, err := alice.SendText(wctx, shop.Client().WAID(), "stop"); err != nil {
		t.Fatal(err)
	}
	for {
		if ok, err := shop.OptedOut(ctx, "447700900001"); err != nil {
			t.Fatal(err)
		} else if ok {
			break
		}
		if wctx.Err() != nil {
			t.Fatal("STOP never reached the shop")
		}
		time.Sleep(10 * time.Millisecond)
	}
	post("/orders", `{"phone":"447700900001"}`)
	if out := post("/orders/2/ship", ""); out["message_id"] != nil {
		t.Fatalf("messaged an opted-out customer: %v", out)
	}

	// The /v1 API is mounted under /whatsapp on the same mux.
	req, _ := http.NewRequest("POST", srv.URL+"/whatsapp/v1/users/login", bytes.NewBufferString(`{"new_password":"Shop-Pass-1"}`))
	req.SetBasicAuth("admin", "secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login through the mounted API: %d", res.StatusCode)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(alice.Received()); n != 1 {
		t.Fatalf("Alice has %d messages, want 1", n)
	}
}
