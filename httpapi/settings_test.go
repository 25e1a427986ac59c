package httpapi_test

import (
	"net/http"
	"slices"
	"testing"
)

type appSettings struct {
	Settings struct {
		Application map[string]any `json:"application"`
	} `json:"settings"`
}

func (a *api) getSettings() map[string]any {
	a.t.Helper()
	res := a.do("GET", "/v1/settings/application", nil, a.admin)
	if res.status != http.StatusOK {
		a.t.Fatalf("GET settings: %d %s", res.status, res.raw)
	}
	var s appSettings
	res.decode(&s)
	if s.Settings.Application == nil {
		a.t.Fatalf("no settings.application in %s", res.raw)
	}
	return s.Settings.Application
}

func TestSettingsPatchGetDelete(t *testing.T) {
	a := newAPI(t, apiOptions{})
	s := a.getSettings()
	hooks, _ := s["webhooks"].(map[string]any)
	msg, _ := hooks["message"].(map[string]any)
	media, _ := s["media"].(map[string]any)
	gc, _ := s["garbagecollector_enable"].(map[string]any)
	if s["wa_id"] != businessCC+businessNumber || s["callback_persist"] != true || s["callback_backoff_delay_ms"] != 3000.0 ||
		s["max_callback_backoff_delay_ms"] != 900000.0 || hooks["max_concurrent_requests"] != 6.0 || hooks["url"] != nil ||
		msg["sent"] != false || msg["delivered"] != true || msg["read"] != true || s["heartbeat_interval"] != 5.0 ||
		s["unhealthy_interval"] != 30.0 || s["log_level"] != "info" || gc["media"] != false || gc["messages"] != true ||
		len(media["auto_download"].([]any)) != 6 || s["notify_user_change_number"] != true {
		t.Fatalf("default settings: %v", s)
	}
	for _, k := range []string{"pass_through", "show_security_notifications", "sent_status", "db_garbagecollector_enable",
		"axolotl_context_striping_disabled", "skip_referral_media_download", "webhook_payload_conversation_pricingmodel_disabled", "verbose_logging"} {
		if _, ok := s[k].(bool); !ok {
			t.Errorf("GET lacks boolean %s: %v", k, s[k])
		}
	}

	res := a.do("PATCH", "/v1/settings/application", map[string]any{
		"webhooks":                    map[string]any{"url": "https://hooks.example.com/in", "max_concurrent_requests": 12, "message": map[string]any{"sent": true, "read": false}},
		"show_security_notifications": true,
		"media":                       map[string]any{"auto_download": []string{"image", "document"}},
	}, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", res.status, res.raw)
	}
	s = a.getSettings()
	hooks, msg = s["webhooks"].(map[string]any), s["webhooks"].(map[string]any)["message"].(map[string]any)
	if hooks["url"] != "https://hooks.example.com/in" || hooks["max_concurrent_requests"] != 12.0 || msg["sent"] != true ||
		msg["read"] != false || msg["delivered"] != true || s["show_security_notifications"] != true {
		t.Fatalf("after PATCH: %v", s)
	}
	cs := a.client.Settings()
	if cs.Webhooks.URL != "https://hooks.example.com/in" || cs.Webhooks.MaxConcurrentRequests != 12 || !cs.ShowSecurityNotifications ||
		!slices.Equal(cs.Media.AutoDownload, []string{"image", "document"}) {
		t.Fatalf("Client.Settings after PATCH: %+v", cs)
	}

	a.do("PATCH", "/v1/settings/application", `{"webhooks":{"max_concurrent_requests":7}}`, a.admin).wantError(400, 1009)
	if d := errorDetails(a.do("PATCH", "/v1/settings/application", `{"webhooks":{"max_concurrent_requests":7}}`, a.admin)); d != "Parameter 'webhooks.max_concurrent_requests' has invalid value '7'" {
		t.Fatalf("details %q", d)
	}
	if d := errorDetails(a.do("PATCH", "/v1/settings/application", `{"webhooks":{"url":"http://insecure.example.com"}}`, a.admin)); d != "Parameter 'webhooks.url' has invalid value 'http://insecure.example.com'" {
		t.Fatalf("details %q", d)
	}
	if d := errorDetails(a.do("PATCH", "/v1/settings/application", `{"no_such":true}`, a.admin)); d != "No valid parameters provided" {
		t.Fatalf("details %q", d)
	}
	a.do("PATCH", "/v1/settings/application", `{}`, a.admin).wantError(400, 1009)
	a.do("PATCH", "/v1/settings/application", nil, a.admin).wantError(400, 1008)
	a.do("PATCH", "/v1/settings/application", `{"sent_status":`, a.admin).wantError(400, 1025)
	if a.client.Settings().Webhooks.MaxConcurrentRequests != 12 {
		t.Fatal("a rejected PATCH changed the settings")
	}

	res = a.do("DELETE", "/v1/settings/application", nil, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", res.status, res.raw)
	}
	s = a.getSettings()
	if hooks := s["webhooks"].(map[string]any); hooks["url"] != nil || hooks["max_concurrent_requests"] != 6.0 || s["show_security_notifications"] != false {
		t.Fatalf("after DELETE: %v", s)
	}
	if a.client.Settings().Webhooks.URL != "" {
		t.Fatal("Client.Settings not reset")
	}
}

// errorDetails is the details of the first error of a response.
func errorDetails(r response) string {
	var env struct {
		Errors []struct {
			Details string `json:"details"`
		} `json:"errors"`
	}
	r.decode(&env)
	if len(env.Errors) == 0 {
		r.t.Fatalf("no error in %d %s", r.status, r.raw)
	}
	return env.Errors[0].Details
}

func TestMediaProvidersAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	const path = "/v1/settings/application/media/providers"
	providers := func() []map[string]any {
		res := a.do("GET", path, nil, a.admin)
		var out struct {
			Settings struct {
				Application struct {
					Media struct {
						Providers []map[string]any `json:"providers"`
					} `json:"media"`
				} `json:"application"`
			} `json:"settings"`
		}
		res.decode(&out)
		if res.status != 200 || out.Settings.Application.Media.Providers == nil {
			t.Fatalf("GET providers: %d %s", res.status, res.raw)
		}
		return out.Settings.Application.Media.Providers
	}
	if p := providers(); len(p) != 0 {
		t.Fatalf("providers before any: %v", p)
	}
	ok := func(body string) {
		t.Helper()
		if res := a.do("POST", path, body, a.admin); res.status != 200 {
			t.Fatalf("POST %s: %d %s", body, res.status, res.raw)
		}
	}
	ok(`[{"name":"p1","type":"www","config":{"basic":{"username":"u","password":"pw"}}}]`)
	ok(`[{"name":"p2","type":"www","config":{"bearer":"tok"}}]`)
	ok(`[{"name":"p2","type":"www","config":{"bearer":"tok2"}}]`)
	p := providers()
	if len(p) != 2 || p[0]["name"] != "p1" || p[1]["config"].(map[string]any)["bearer"] != "tok2" {
		t.Fatalf("providers: %v", p)
	}
	basic := p[0]["config"].(map[string]any)["basic"].(map[string]any)
	if basic["username"] != "u" || basic["password"] != "pw" {
		t.Fatalf("basic: %v", basic)
	}
	a.do("POST", path, `[{"name":"a","type":"www","config":{"bearer":"x"}},{"name":"b","type":"www","config":{"bearer":"y"}}]`, a.admin).wantError(400, 1009)
	a.do("POST", path, `[{"name":"p3","type":"ftp","config":{"bearer":"x"}}]`, a.admin).wantError(400, 1009)
	a.do("POST", path, `[{"name":"p3","type":"www","config":{}}]`, a.admin).wantError(400, 1008)
	a.do("POST", path, `[]`, a.admin).wantError(400, 1008)
	a.do("DELETE", path+"/nope", nil, a.admin).wantError(404, 1006)
	if res := a.do("DELETE", path+"/p1", nil, a.admin); res.status != 200 {
		t.Fatalf("DELETE: %d %s", res.status, res.raw)
	}
	if p := providers(); len(p) != 1 || p[0]["name"] != "p2" {
		t.Fatalf("after DELETE: %v", p)
	}
}
