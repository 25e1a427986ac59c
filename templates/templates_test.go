package templates_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/content"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/templates"
	"github.com/waent/waent/templates/catalog"
)

const ns = "biz_namespace_1"

func catalogue() []catalog.Template {
	body := func(s string) catalog.Component { return catalog.Component{Type: catalog.Body, Text: s} }
	return []catalog.Template{
		{Namespace: ns, Name: "greeting", Language: "en", Status: "approved", Components: []catalog.Component{body("Hello {{1}}!")}},
		{Namespace: ns, Name: "greeting", Language: "de", Status: "approved", Components: []catalog.Component{body("Hallo {{1}}!")}},
		{Namespace: ns, Name: "order", Language: "en_US", Status: "approved", Category: "UTILITY", Components: []catalog.Component{
			{Type: catalog.Header, Text: "Order {{1}}"},
			body("Hi {{1}}, your total is {{2}}."),
			{Type: catalog.Buttons, Buttons: []catalog.Button{
				{Type: catalog.URLButton, Text: "Track", URL: "https://example.com/t/{{1}}"},
				{Type: catalog.QuickReply, Text: "OK"},
			}},
		}},
		{Namespace: ns, Name: "invoice", Language: "en", Status: "approved", Components: []catalog.Component{
			{Type: catalog.Header, Format: catalog.FormatDocument}, body("Invoice {{1}}"),
		}},
		{Namespace: ns, Name: "call", Language: "en", Status: "approved", Components: []catalog.Component{
			body("Call us"), {Type: catalog.Buttons, Buttons: []catalog.Button{{Type: catalog.PhoneButton, Text: "Call", PhoneNumber: "12"}}},
		}},
		{Namespace: ns, Name: "survey", Language: "en", Status: "approved", Components: []catalog.Component{
			body("Rate us"), {Type: catalog.Buttons, Buttons: []catalog.Button{
				{Type: catalog.QuickReply, Text: "Good"},
				{Type: catalog.URLButton, Text: "More", URL: "https://example.com/s/{{1}}"},
			}},
		}},
		{Namespace: ns, Name: "paused_one", Language: "en", Status: "paused", Components: []catalog.Component{body("x")}},
		{Namespace: ns, Name: "disabled_one", Language: "en", Status: "disabled", Components: []catalog.Component{body("x")}},
		{Namespace: ns, Name: "rejected_one", Language: "en", Status: "rejected", Components: []catalog.Component{body("x")}},
		{Namespace: ns, Name: "pending_one", Language: "en", Status: "pending", Components: []catalog.Component{body("x")}},
		{Namespace: "someone_else", Name: "greeting", Language: "fr", Status: "approved", Components: []catalog.Component{body("Salut {{1}}")}},
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newCatalogue(t *testing.T) (*templates.Catalogue, *memstore.Store, *clock) {
	t.Helper()
	st := memstore.New()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c, err := templates.New(templates.Config{Store: st, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(context.Background(), templates.Snapshot{Namespace: ns, Version: 3, Templates: catalogue()}); err != nil {
		t.Fatal(err)
	}
	return c, st, clk
}

func text(s string) content.Parameter { return content.Parameter{Type: "text", Text: s} }

func tmpl(name, lang string, comps ...content.Component) *content.Outgoing {
	return &content.Outgoing{To: "15550001", Type: "template", Template: &content.Template{
		Namespace: ns, Name: name, Language: &content.Language{Policy: "deterministic", Code: lang}, Components: comps}}
}

func body(ps ...content.Parameter) content.Component {
	return content.Component{Type: "body", Parameters: ps}
}

func hsm(name, lang string, policy string, params ...string) *content.Outgoing {
	var lp []content.LocalizableParam
	for _, p := range params {
		lp = append(lp, content.LocalizableParam{Default: p})
	}
	return &content.Outgoing{To: "15550001", Type: "hsm", HSM: &content.HSM{Namespace: ns, ElementName: name,
		Language: &content.Language{Policy: policy, Code: lang}, LocalizableParams: lp}}
}

func orderComps(header, url string) []content.Component {
	return []content.Component{
		{Type: "header", Parameters: []content.Parameter{text(header)}},
		body(text("Jane"), content.Parameter{Type: "currency", Currency: &content.Currency{FallbackValue: "$10", Code: "USD", Amount1000: 10000}}),
		{Type: "button", SubType: "url", Index: "0", Parameters: []content.Parameter{text(url)}},
	}
}

func TestValidate(t *testing.T) {
	c, _, _ := newCatalogue(t)
	wrongNS := tmpl("greeting", "en", body(text("Jane")))
	wrongNS.Template.Namespace = "someone_else"
	long := strings.Repeat("x", templates.MaxParamLength+1)
	for _, tc := range []struct {
		name   string
		msg    *content.Outgoing
		code   int
		detail string
	}{
		{"ok", tmpl("greeting", "en", body(text("Jane"))), 0, ""},
		{"ok german", tmpl("greeting", "de", body(text("Jane"))), 0, ""},
		{"ok other spelling", tmpl("order", "en-us", orderComps("#1", "AB12")...), 0, ""},
		{"ok order", tmpl("order", "en_US", orderComps("#1", "AB12")...), 0, ""},
		{"ok quick reply payload", tmpl("order", "en_US", append(orderComps("#1", "AB12"), content.Component{Type: "button", SubType: "quick_reply", Index: "1",
			Parameters: []content.Parameter{{Type: "payload", Payload: "yes"}}})...), 0, ""},
		{"ok invoice", tmpl("invoice", "en", content.Component{Type: "header", Parameters: []content.Parameter{{Type: "document", Document: &content.Media{ID: "m1"}}}}, body(text("7"))), 0, ""},
		{"ok hsm", hsm("greeting", "en", "deterministic", "Jane"), 0, ""},
		{"ok hsm fallback", hsm("greeting", "es", "fallback", "Jane"), 0, ""},

		{"namespace", wrongNS, 1009, "The namespace does not correspond to the WABA id"},
		{"no language", tmpl("greeting", "fr", body(text("Jane"))), 2003, "No message templates exist in language fr"},
		{"no language and locale", tmpl("greeting", "en_GB", body(text("Jane"))), 2003, "No message templates exist in language en and locale GB"},
		{"not in language", tmpl("order", "en", body(text("Jane"))), 2001, "Template order does not exist in language en"},
		{"not in language and locale", tmpl("greeting", "en_US", body(text("Jane"))), 2001, "Template greeting does not exist in language en and locale US"},
		{"unknown name", tmpl("nope", "en", body(text("Jane"))), 2001, "Template nope does not exist in language en"},
		{"hsm deterministic missing", hsm("greeting", "es", "deterministic", "Jane"), 2003, "No message templates exist in language es"},
		{"paused", tmpl("paused_one", "en"), 2061, ""},
		{"disabled", tmpl("disabled_one", "en"), 2062, ""},
		{"rejected", tmpl("rejected_one", "en"), 2060, ""},
		{"pending", tmpl("pending_one", "en"), 2001, "not active"},

		{"body count", tmpl("greeting", "en", body(text("a"), text("b"))), 2000, "Number of parameters 2 does not match the expected number of params 1"},
		{"body missing", tmpl("greeting", "en"), 2009, "requires a body component"},
		{"hsm count", hsm("greeting", "en", "deterministic", "a", "b"), 2000, "Number of localizable_params 2 does not match the expected number of params 1"},
		{"hsm rich", hsm("order", "en_US", "deterministic", "1", "2", "3"), 1009, "order is a rich template and requires the template message API to be used"},
		{"param too long", tmpl("greeting", "en", body(text(long))), 2004, ""},
		{"hydrated too long", tmpl("greeting", "en", body(text(strings.Repeat("y", 1020)))), 2005, ""},
		{"header hydrated too long", tmpl("order", "en_US", orderComps(strings.Repeat("h", 60), "AB12")...), 2005, "header"},
		{"newline", tmpl("greeting", "en", body(text("a\nb"))), 2006, ""},
		{"tab", tmpl("greeting", "en", body(text("a\tb"))), 2006, ""},
		{"five spaces", tmpl("greeting", "en", body(text("a     b"))), 2006, ""},
		{"header formatting", tmpl("order", "en_US", orderComps("*bold*", "AB12")...), 2007, ""},
		{"media format", tmpl("invoice", "en", content.Component{Type: "header", Parameters: []content.Parameter{{Type: "image", Image: &content.Media{ID: "m1"}}}}, body(text("7"))), 2008, ""},
		{"header missing", tmpl("invoice", "en", body(text("7"))), 2009, "requires a header"},
		{"text header missing", tmpl("order", "en_US", orderComps("#1", "AB12")[1:]...), 2009, "requires a header"},
		{"url button missing", tmpl("order", "en_US", orderComps("#1", "AB12")[:2]...), 2009, "url button"},
		{"bad hydrated url", tmpl("order", "en_US", orderComps("#1", "a b")...), 2010, ""},
		{"bad phone", tmpl("call", "en"), 2011, ""},
		{"body media", tmpl("greeting", "en", body(content.Parameter{Type: "image", Image: &content.Media{ID: "m"}})), 2012, ""},
		{"button type", tmpl("order", "en_US", append(orderComps("#1", "AB12")[:2], content.Component{Type: "button", SubType: "quick_reply", Index: "0"})...), 2012, ""},
		{"media header body too long", tmpl("invoice", "en", content.Component{Type: "header", Parameters: []content.Parameter{{Type: "document", Document: &content.Media{ID: "m1"}}}}, body(text(strings.Repeat("z", 1020)))), 2005, "body"},
		{"quick reply payload shifts", tmpl("survey", "en", content.Component{Type: "button", SubType: "url", Index: "1", Parameters: []content.Parameter{text("abc")}}), 2009, "quick_reply button component with a payload at index 0"},
		{"survey ok", tmpl("survey", "en", content.Component{Type: "button", SubType: "quick_reply", Index: "0", Parameters: []content.Parameter{{Type: "payload", Payload: "p"}}},
			content.Component{Type: "button", SubType: "url", Index: "1", Parameters: []content.Parameter{text("abc")}}), 0, ""},
		{"button index twice", tmpl("order", "en_US", append(orderComps("#1", "AB12"), content.Component{Type: "button", SubType: "url", Index: "00", Parameters: []content.Parameter{text("x")}})...), 1009, "repeats the button"},
		{"no such button", tmpl("order", "en_US", append(orderComps("#1", "AB12"), content.Component{Type: "button", SubType: "quick_reply", Index: "2"})...), 1009, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Validate(tc.msg)
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var ce *content.Error
			if !errors.As(err, &ce) || ce.Code != tc.code || !strings.Contains(ce.Details, tc.detail) {
				t.Fatalf("got %v, want %d %q", err, tc.code, tc.detail)
			}
			if ce.Title == "" {
				t.Errorf("no title for %d", ce.Code)
			}
		})
	}
	// Other types pass untouched.
	if _, err := c.Validate(&content.Outgoing{To: "1", Type: "text", Text: &content.Text{Body: "x"}}); err != nil {
		t.Fatal(err)
	}
}

func TestCacheAndAge(t *testing.T) {
	c, st, clk := newCatalogue(t)
	ctx := context.Background()
	if c.Namespace() != ns || c.Version() != 3 || !c.Fresh() {
		t.Fatalf("after Apply: %q %d %v", c.Namespace(), c.Version(), c.Fresh())
	}
	// Another namespace's templates are not kept.
	rows, err := st.ListTemplates(ctx, templatesFilter())
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(catalogue())-1 {
		t.Fatalf("%d cached templates", len(rows))
	}

	// A new Catalogue on the same store starts from the cache.
	clk.t = clk.t.Add(24 * time.Hour)
	c2, err := templates.New(templates.Config{Store: st, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := c2.LoadCache(ctx)
	if err != nil || !fresh {
		t.Fatalf("LoadCache: fresh=%v %v", fresh, err)
	}
	if _, err := c2.Validate(tmpl("greeting", "de", body(text("Jane")))); err != nil {
		t.Fatalf("from the cache: %v", err)
	}

	// A snapshot without a template deletes it from the cache.
	smaller := catalogue()[1:]
	if err := c2.Apply(ctx, templates.Snapshot{Namespace: ns, Version: 4, Templates: smaller}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Validate(tmpl("greeting", "en", body(text("Jane")))); err == nil {
		t.Fatal("a deleted translation still validates")
	}
	rows, _ = st.ListTemplates(ctx, templatesFilter())
	if len(rows) != len(smaller)-1 {
		t.Fatalf("%d cached templates after a smaller snapshot", len(rows))
	}

	// A snapshot older than the one in use (a racing pull) is ignored.
	if err := c2.Apply(ctx, templates.Snapshot{Namespace: ns, Version: 2, Templates: catalogue()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Validate(tmpl("greeting", "en", body(text("Jane")))); err == nil || c2.Version() != 4 {
		t.Fatalf("an older snapshot replaced version 4 (now %d)", c2.Version())
	}

	// Older than 7 days: not trusted until the next pull.
	clk.t = clk.t.Add(8 * 24 * time.Hour)
	c3, _ := templates.New(templates.Config{Store: st, Now: clk.now})
	fresh, err = c3.LoadCache(ctx)
	if err != nil || fresh {
		t.Fatalf("stale cache: fresh=%v %v", fresh, err)
	}
	var ce *content.Error
	if _, err := c3.Validate(tmpl("greeting", "de", body(text("Jane")))); !errors.As(err, &ce) || ce.Code != 2002 {
		t.Fatalf("stale cache: %v, want 2002", err)
	}
	if err := c3.Apply(ctx, templates.Snapshot{Namespace: ns, Version: 5, Templates: catalogue()}); err != nil {
		t.Fatal(err)
	}
	if _, err := c3.Validate(tmpl("greeting", "de", body(text("Jane")))); err != nil {
		t.Fatalf("after a pull: %v", err)
	}

	// Nothing loaded at all: the namespace is unknown.
	c4, _ := templates.New(templates.Config{Store: memstore.New(), Now: clk.now})
	if _, err := c4.Validate(tmpl("greeting", "de", body(text("Jane")))); !errors.As(err, &ce) || ce.Code != 2014 {
		t.Fatalf("nothing loaded: %v, want 2014", err)
	}
}

func TestApplySkipsInvalidTemplates(t *testing.T) {
	c, _, _ := newCatalogue(t)
	bad := catalog.Template{Namespace: ns, Name: "broken", Language: "en", Status: "approved",
		Components: []catalog.Component{{Type: catalog.Body, Text: "{{2}}"}}}
	odd := catalog.Template{Namespace: ns, Name: "odd", Language: "en", Status: "maybe",
		Components: []catalog.Component{{Type: catalog.Body, Text: "x"}}}
	if err := c.Apply(context.Background(), templates.Snapshot{Namespace: ns, Templates: append(catalogue(), bad, odd)}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"broken", "odd"} {
		if _, err := c.Validate(tmpl(name, "en", body(text("x")))); err == nil {
			t.Errorf("%s validates", name)
		}
	}
	got, _ := json.Marshal(len(c.Templates()))
	if string(got) != "10" {
		t.Errorf("%s templates in use, want 10", got)
	}
}

func templatesFilter() store.TemplateFilter { return store.TemplateFilter{} }
