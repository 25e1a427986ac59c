package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestRegisterVerifyShards(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})
	reg := map[string]string{"cc": businessCC, "phone_number": businessNumber, "method": "sms", "cert": "Q2VydA=="}
	without := func(k string) map[string]string {
		m := map[string]string{}
		for kk, v := range reg {
			if kk != k {
				m[kk] = v
			}
		}
		return m
	}
	// Verify before any code was requested.
	a.do("POST", "/v1/account/verify", map[string]string{"code": "123456"}, a.admin).wantError(403, 1005)
	for _, k := range []string{"cc", "phone_number", "method"} {
		res := a.do("POST", "/v1/account", without(k), a.admin)
		res.wantError(400, 1008)
		if d := errorDetails(res); d != "Missing mandatory parameter '"+k+"'" {
			t.Fatalf("details %q", d)
		}
	}
	bad := without("method")
	bad["method"] = "pigeon"
	a.do("POST", "/v1/account", bad, a.admin).wantError(400, 1009)
	both := without("")
	both["vname_cert"] = "Q2VydA=="
	a.do("POST", "/v1/account", both, a.admin).wantError(400, 1010)

	res := a.do("POST", "/v1/account", reg, a.admin)
	if res.status != http.StatusAccepted {
		t.Fatalf("POST /v1/account: %d %s", res.status, res.raw)
	}
	var out struct {
		Account []map[string]any `json:"account"`
	}
	res.decode(&out)
	if _, ok := out.Account[0]["vname"]; len(out.Account) != 1 || !ok {
		t.Fatalf("202 body %s", res.raw)
	}
	code, ok := a.net.Registration().IssuedCode(businessCC, businessNumber)
	if !ok {
		t.Fatal("no code issued")
	}
	a.do("POST", "/v1/account/verify", map[string]string{}, a.admin).wantError(400, 1008)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	a.do("POST", "/v1/account/verify", map[string]string{"code": wrong}, a.admin).wantError(403, 1005)
	res = a.do("POST", "/v1/account/verify", map[string]string{"code": code}, a.admin)
	if res.status != http.StatusCreated || strings.TrimSpace(string(res.raw)) != `{"meta":{"version":"v2.45.1","api_status":"stable"}}` {
		t.Fatalf("verify: %d %s", res.status, res.raw)
	}
	if a.client.WAID() != businessCC+businessNumber {
		t.Fatalf("WAID %q", a.client.WAID())
	}
	// Asking again for the registered number: 201, nothing to do.
	if res := a.do("POST", "/v1/account", reg, a.admin); res.status != http.StatusCreated {
		t.Fatalf("re-register: %d %s", res.status, res.raw)
	}

	shards := func() float64 {
		res := a.do("GET", "/v1/account/shards", nil, a.admin)
		var out struct {
			Account struct {
				Shards float64 `json:"shards"`
			} `json:"account"`
		}
		res.decode(&out)
		if res.status != 200 {
			t.Fatalf("GET shards: %d %s", res.status, res.raw)
		}
		return out.Account.Shards
	}
	if n := shards(); n != 1 {
		t.Fatalf("default shards %v", n)
	}
	sreq := map[string]any{"cc": businessCC, "phone_number": businessNumber, "shards": 8, "cert": "Q2VydA=="}
	sreq["shards"] = 5
	res = a.do("POST", "/v1/account/shards", sreq, a.admin)
	res.wantError(400, 1009)
	if d := errorDetails(res); d != "Parameter 'shards' has invalid value '5'" {
		t.Fatalf("details %q", d)
	}
	sreq["shards"] = 8
	delete(sreq, "cert")
	a.do("POST", "/v1/account/shards", sreq, a.admin).wantError(400, 1008)
	sreq["cert"] = "Q2VydA=="
	if res := a.do("POST", "/v1/account/shards", sreq, a.admin); res.status != http.StatusCreated {
		t.Fatalf("POST shards: %d %s", res.status, res.raw)
	}
	if n := shards(); n != 8 {
		t.Fatalf("shards %v", n)
	}
}
