package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

// The /v1 API mounted under a prefix of an application's own mux, with
// one application route that shares its authentication and envelope.
func Example() {
	net, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()
	client, err := waent.New(waent.Config{Store: memstore.New(), Dialer: net.Dialer(), ChatRootKey: net.RootKey(),
		RegistrationURL: net.RegistrationURL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if err := client.Start(context.Background()); err != nil {
		log.Fatal(err)
	}

	var api *httpapi.Handler
	api, err = httpapi.New(client, httpapi.Options{
		Logger: slog.New(slog.DiscardHandler),
		Routes: []httpapi.Route{{Method: "GET", Pattern: "/shop/status", Role: httpapi.RoleUser,
			Handler: func(w http.ResponseWriter, r *http.Request) {
				api.Respond(w, http.StatusOK, map[string]string{"shop": "open"})
			}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/wa/", http.StripPrefix("/wa", api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// First login: the default admin must choose a new password.
	req, _ := http.NewRequest("POST", srv.URL+"/wa/v1/users/login", strings.NewReader(`{"new_password":"Ex4mple-pass!"}`))
	req.SetBasicAuth("admin", "secret")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	token := strings.Split(strings.Split(string(body), `"token":"`)[1], `"`)[0]

	for _, path := range []string{"/wa/shop/status", "/wa/v1/nowhere"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Print(res.StatusCode, " ", string(body))
	}
	// Output:
	// 200 {"shop":"open","meta":{"version":"v2.45.1","api_status":"stable"}}
	// 404 {"meta":{"version":"v2.45.1","api_status":"stable"},"errors":[{"code":1006,"title":"Resource not found","details":"URL path not found"}]}
}
