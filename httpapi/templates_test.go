package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

// tmplEnv is a registered business with a template catalogue on the
// network and a webhook that records status callbacks.
type tmplEnv struct {
	*api
	ns string

	mu       sync.Mutex
	statuses []map[string]any
}

func newTemplateAPI(t *testing.T) *tmplEnv {
	e := &tmplEnv{}
	e.api = newAPI(t, apiOptions{cfg: func(c *waent.Config) {
		c.Webhook = webhook.FuncSink(func(ctx context.Context, body []byte) error {
			var p struct {
				Statuses []map[string]any `json:"statuses"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				return err
			}
			e.mu.Lock()
			e.statuses = append(e.statuses, p.Statuses...)
			e.mu.Unlock()
			return nil
		})
	}})
	e.ns = e.net.Templates().Namespace(e.client.WAID())
	body := func(s string) catalog.Component { return catalog.Component{Type: catalog.Body, Text: s} }
	for _, tp := range []catalog.Template{
		{Name: "greeting", Language: "en", Components: []catalog.Component{body("Hello {{1}}!")}},
		{Name: "greeting", Language: "de", Components: []catalog.Component{body("Hallo {{1}}!")}},
		{Name: "order_update", Language: "en_US", Category: "UTILITY", Components: []catalog.Component{
			{Type: catalog.Header, Text: "Order {{1}}"},
			body("Hi {{1}}, your order ships {{2}}."),
			{Type: catalog.Footer, Text: "Acme Inc."},
			{Type: catalog.Buttons, Buttons: []catalog.Button{{Type: catalog.URLButton, Text: "Track", URL: "https://acme.example/t/{{1}}"}}},
		}},
		{Name: "invoice", Language: "en", Components: []catalog.Component{{Type: catalog.Header, Format: catalog.FormatDocument}, body("Invoice {{1}}")}},
		{Name: "promo", Language: "en", Status: "paused", Components: []catalog.Component{body("Sale!")}},
		{Name: "old_promo", Language: "en", Status: "disabled", Components: []catalog.Component{body("Sale!")}},
		{Name: "bad_promo", Language: "en", Status: "rejected", Components: []catalog.Component{body("Sale!")}},
	} {
		tp.Namespace = e.ns
		if err := e.net.Templates().Add(tp); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.client.RefreshTemplates(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(e.client.Templates()); n != 7 {
		t.Fatalf("%d templates loaded, want 7", n)
	}
	return e
}

func (e *tmplEnv) template(to, name, lang string, comps string) string {
	return `{"to":"` + to + `","type":"template","template":{"namespace":"` + e.ns + `","name":"` + name +
		`","language":{"policy":"deterministic","code":"` + lang + `"},"components":[` + comps + `]}}`
}

func (e *tmplEnv) hsm(to, name, lang, policy string, params ...string) string {
	var ps []string
	for _, p := range params {
		ps = append(ps, `{"default":"`+p+`"}`)
	}
	return `{"to":"` + to + `","type":"hsm","hsm":{"namespace":"` + e.ns + `","element_name":"` + name +
		`","language":{"policy":"` + policy + `","code":"` + lang + `"},"localizable_params":[` + strings.Join(ps, ",") + `]}}`
}

func TestTemplateSendErrors(t *testing.T) {
	e := newTemplateAPI(t)
	const to = "447700900123"
	body1 := `{"type":"body","parameters":[{"type":"text","text":"Jane"}]}`
	order := func(header, url string) string {
		return `{"type":"header","parameters":[{"type":"text","text":"` + header + `"}]},` +
			`{"type":"body","parameters":[{"type":"text","text":"Jane"},{"type":"text","text":"today"}]},` +
			`{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"` + url + `"}]}`
	}
	otherNS := strings.Replace(e.template(to, "greeting", "en", body1), e.ns, "f00_other_namespace", 1)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   int
		detail string
	}{
		{"template ok", e.template(to, "greeting", "de", body1), 201, 0, ""},
		{"rich template ok", e.template(to, "order_update", "en_US", order("#7", "AB7")), 201, 0, ""},
		{"hsm ok", e.hsm(to, "greeting", "en", "deterministic", "Jane"), 201, 0, ""},
		{"hsm fallback ok", e.hsm(to, "greeting", "fr", "fallback", "Jane"), 201, 0, ""},

		{"no templates in language", e.template(to, "greeting", "fr", body1), 404, 2003, "No message templates exist in language fr"},
		{"no templates in language and locale", e.template(to, "greeting", "de_AT", body1), 404, 2003, "No message templates exist in language de and locale AT"},
		{"template not in language", e.template(to, "invoice", "de", body1), 404, 2001, "Template invoice does not exist in language de"},
		{"template not in language and locale", e.template(to, "greeting", "en_US", body1), 404, 2001, "Template greeting does not exist in language en and locale US"},
		{"unknown template", e.template(to, "nope", "en", body1), 404, 2001, "Template nope does not exist in language en"},
		{"hsm count", e.hsm(to, "greeting", "en", "deterministic", "a", "b"), 400, 2000, "Number of localizable_params 2 does not match the expected number of params 1"},
		{"hsm rich", e.hsm(to, "order_update", "en_US", "deterministic", "1", "2", "3"), 400, 1009, "order_update is a rich template and requires the template message API to be used"},
		{"template count", e.template(to, "greeting", "en", `{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}`), 400, 2000, "does not match the expected number of params 1"},
		{"param too long", e.template(to, "greeting", "en", `{"type":"body","parameters":[{"type":"text","text":"`+strings.Repeat("x", 1025)+`"}]}`), 400, 2004, ""},
		{"hydrated too long", e.template(to, "greeting", "en", `{"type":"body","parameters":[{"type":"text","text":"`+strings.Repeat("x", 1020)+`"}]}`), 400, 2005, ""},
		{"whitespace", e.template(to, "greeting", "en", `{"type":"body","parameters":[{"type":"text","text":"a\nb"}]}`), 400, 2006, ""},
		{"format characters", e.template(to, "order_update", "en_US", order("*7*", "AB7")), 400, 2007, ""},
		{"media format", e.template(to, "invoice", "en", `{"type":"header","parameters":[{"type":"image","image":{"id":"m1"}}]},`+body1), 400, 2008, ""},
		{"required component", e.template(to, "invoice", "en", body1), 400, 2009, ""},
		{"hydrated url", e.template(to, "order_update", "en_US", order("#7", "A B")), 400, 2010, ""},
		{"format mismatch", e.template(to, "greeting", "en", `{"type":"body","parameters":[{"type":"image","image":{"id":"m1"}}]}`), 400, 2012, ""},
		{"paused", e.template(to, "promo", "en", ""), 400, 2061, ""},
		{"disabled", e.template(to, "old_promo", "en", ""), 400, 2062, ""},
		{"rejected", e.template(to, "bad_promo", "en", ""), 400, 2060, ""},
		{"namespace mismatch", otherNS, 400, 1009, "The namespace does not correspond to the WABA id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.do("POST", "/v1/messages", tc.body, e.admin)
			if tc.code == 0 {
				if res.status != tc.status {
					t.Fatalf("%d %s", res.status, res.raw)
				}
				return
			}
			res.wantError(tc.status, tc.code)
			if !strings.Contains(string(res.raw), tc.detail) {
				t.Errorf("details of %s lack %q", res.raw, tc.detail)
			}
		})
	}
}

// A template arrives rendered at the phone; a phone without the
// translation cannot render it, and the business gets a failed status
// saying the structure is unavailable.
func TestTemplateRenderedOrStructureUnavailable(t *testing.T) {
	e := newTemplateAPI(t)
	ctx := context.Background()
	alice, err := e.net.NewUser("447700900001", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := e.do("POST", "/v1/messages", e.template(alice.Phone(), "order_update", "en_US",
		`{"type":"body","parameters":[{"type":"text","text":"Alice"},{"type":"text","text":"tomorrow"}]},`+
			`{"type":"header","parameters":[{"type":"text","text":"#42"}]},`+
			`{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"X42"}]}`), e.admin)
	if res.status != http.StatusCreated {
		t.Fatalf("send: %d %s", res.status, res.raw)
	}
	got, err := alice.WaitReceived(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := "Order #42\nHi Alice, your order ships tomorrow.\nAcme Inc.\n[Track]"
	if got[0].Text != want || got[0].Template == nil || got[0].Template.Buttons[0].URL != "https://acme.example/t/X42" {
		t.Fatalf("Alice sees %q (%+v), want %q", got[0].Text, got[0].Template, want)
	}

	// Bob's phone has English only.
	bob, err := e.net.NewUser("447700900002", waenttest.UserOptions{TemplateLanguages: []string{"en"}})
	if err != nil {
		t.Fatal(err)
	}
	res = e.do("POST", "/v1/messages", e.template(bob.Phone(), "greeting", "de", `{"type":"body","parameters":[{"type":"text","text":"Bob"}]}`), e.admin)
	if res.status != http.StatusCreated {
		t.Fatalf("send: %d %s", res.status, res.raw)
	}
	var out struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	res.decode(&out)
	id := out.Messages[0].ID
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		var failed map[string]any
		for _, s := range e.statuses {
			if s["id"] == id && s["status"] == "failed" {
				failed = s
			}
		}
		e.mu.Unlock()
		if failed != nil {
			errs, _ := failed["errors"].([]any)
			first, _ := errs[0].(map[string]any)
			if len(errs) != 1 || first["code"] != float64(2003) || !strings.Contains(first["details"].(string), "structure unavailable") || failed["recipient_id"] != bob.Phone() {
				t.Fatalf("failed status %v", failed)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failed status for %s; statuses %v", id, e.statuses)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(bob.Received()); n != 0 {
		t.Errorf("Bob received %d messages", n)
	}
}

// A change on the server reaches the business without a restart.
func TestTemplateChangeNotified(t *testing.T) {
	e := newTemplateAPI(t)
	send := func() response {
		return e.do("POST", "/v1/messages", e.template("447700900123", "greeting", "de", `{"type":"body","parameters":[{"type":"text","text":"X"}]}`), e.admin)
	}
	if res := send(); res.status != http.StatusCreated {
		t.Fatalf("before: %d %s", res.status, res.raw)
	}
	if err := e.net.Templates().SetStatus(e.ns, "greeting", "de", "paused"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := send()
		if res.status == http.StatusBadRequest && res.errorCode() == 2061 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pause not seen: %d %s", res.status, res.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A business-initiated conversation opened by a template takes the
// template's category as its origin and pricing category.
func TestTemplateCategoryPricesConversation(t *testing.T) {
	e := newTemplateAPI(t)
	carol, err := e.net.NewUser("447700900003", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res := e.do("POST", "/v1/messages", e.template(carol.Phone(), "order_update", "en_US",
		`{"type":"header","parameters":[{"type":"text","text":"#1"}]},`+
			`{"type":"body","parameters":[{"type":"text","text":"Carol"},{"type":"text","text":"today"}]},`+
			`{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"C1"}]}`), e.admin)
	if res.status != http.StatusCreated {
		t.Fatalf("send: %d %s", res.status, res.raw)
	}
	var out struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	res.decode(&out)
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		var got map[string]any
		for _, s := range e.statuses {
			if s["id"] == out.Messages[0].ID && s["status"] == "delivered" {
				got = s
			}
		}
		e.mu.Unlock()
		if got != nil {
			conv, _ := got["conversation"].(map[string]any)
			origin, _ := conv["origin"].(map[string]any)
			pricing, _ := got["pricing"].(map[string]any)
			if origin["type"] != "utility" || pricing["category"] != "utility" {
				t.Fatalf("delivered status %v", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivered status")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
