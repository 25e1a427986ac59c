package catalog_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/waent/waent/templates/catalog"
)

func shipping() catalog.Template {
	return catalog.Template{
		Namespace: "ns", Name: "shipping_update", Language: "en_US", Status: "approved",
		Components: []catalog.Component{
			{Type: catalog.Header, Format: catalog.FormatText, Text: "Order {{1}}"},
			{Type: catalog.Body, Text: "Hi {{1}}, your order ships on {{2}}. Total {{3}}."},
			{Type: catalog.Footer, Text: "Reply STOP to opt out"},
			{Type: catalog.Buttons, Buttons: []catalog.Button{
				{Type: catalog.URLButton, Text: "Track", URL: "https://example.com/track/{{1}}"},
				{Type: catalog.QuickReply, Text: "Thanks"},
				{Type: catalog.PhoneButton, Text: "Call us", PhoneNumber: "+15550100"},
			}},
		},
	}
}

func TestSlotsAndRender(t *testing.T) {
	tp := shipping()
	if err := tp.Validate(); err != nil {
		t.Fatal(err)
	}
	s := tp.Slots()
	if s.HeaderText != 1 || s.Body != 3 || s.Text() != 4 || len(s.Buttons) != 3 || s.Buttons[0].Params != 1 || s.Buttons[2].Params != 0 {
		t.Fatalf("slots %+v", s)
	}
	if !tp.Rich() {
		t.Error("a template with buttons is rich")
	}
	r, err := tp.Render([]string{"#42", "Jane", "Monday", "$10", "AB12", "thanks-payload"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Header != "Order #42" || r.Body != "Hi Jane, your order ships on Monday. Total $10." || r.Footer != "Reply STOP to opt out" {
		t.Errorf("rendered %+v", r)
	}
	if r.Buttons[0].URL != "https://example.com/track/AB12" || r.Buttons[1].Payload != "thanks-payload" || r.Buttons[2].PhoneNumber != "+15550100" {
		t.Errorf("buttons %+v", r.Buttons)
	}
	want := "Order #42\nHi Jane, your order ships on Monday. Total $10.\nReply STOP to opt out\n[Track] [Thanks] [Call us]"
	if r.Text() != want {
		t.Errorf("text %q, want %q", r.Text(), want)
	}
	// The quick reply's payload may be left out.
	if _, err := tp.Render([]string{"#42", "Jane", "Monday", "$10", "AB12"}); err != nil {
		t.Errorf("without the payload: %v", err)
	}
	for _, params := range [][]string{
		{"#42", "Jane", "Monday"},                            // body short
		{"#42", "Jane", "Monday", "$10"},                     // URL parameter missing
		{"#42", "Jane", "Monday", "$10", "AB", "p", "extra"}, // one too many
	} {
		if _, err := tp.Render(params); !errors.Is(err, catalog.ErrParamCount) {
			t.Errorf("Render(%q): %v, want ErrParamCount", params, err)
		}
	}
}

func TestMediaHeaderTakesOneParameter(t *testing.T) {
	tp := catalog.Template{Namespace: "ns", Name: "invoice", Language: "en", Status: "approved", Components: []catalog.Component{
		{Type: catalog.Header, Format: catalog.FormatDocument},
		{Type: catalog.Body, Text: "Your invoice {{1}}"},
	}}
	if err := tp.Validate(); err != nil {
		t.Fatal(err)
	}
	if s := tp.Slots(); s.HeaderMedia != catalog.FormatDocument || s.Text() != 1 {
		t.Fatalf("slots %+v", s)
	}
	r, err := tp.Render([]string{"media-id-1", "INV-7"})
	if err != nil || r.HeaderMedia != catalog.FormatDocument || r.Body != "Your invoice INV-7" {
		t.Fatalf("render %+v %v", r, err)
	}
	if !strings.HasPrefix(r.Text(), "[document]\n") {
		t.Errorf("text %q", r.Text())
	}
}

func TestValidateDefinitions(t *testing.T) {
	base := func(cs ...catalog.Component) catalog.Template {
		return catalog.Template{Namespace: "ns", Name: "t", Language: "en", Status: "approved", Components: cs}
	}
	body := catalog.Component{Type: catalog.Body, Text: "Hello {{1}}"}
	for name, tp := range map[string]catalog.Template{
		"no body":             base(catalog.Component{Type: catalog.Footer, Text: "x"}),
		"gap in placeholders": base(catalog.Component{Type: catalog.Body, Text: "{{1}} and {{3}}"}),
		"bad placeholder":     base(catalog.Component{Type: catalog.Body, Text: "{{x}}"}),
		"unclosed":            base(catalog.Component{Type: catalog.Body, Text: "{{1"}),
		"two bodies":          base(body, body),
		"header two params":   base(catalog.Component{Type: catalog.Header, Text: "{{1}} {{2}}"}, body),
		"footer param":        base(body, catalog.Component{Type: catalog.Footer, Text: "{{1}}"}),
		"long body":           base(catalog.Component{Type: catalog.Body, Text: strings.Repeat("x", catalog.MaxBodyText+1)}),
		"unknown format":      base(catalog.Component{Type: catalog.Header, Format: "GIF"}, body),
		"four buttons": base(body, catalog.Component{Type: catalog.Buttons, Buttons: []catalog.Button{
			{Type: catalog.QuickReply, Text: "a"}, {Type: catalog.QuickReply, Text: "b"}, {Type: catalog.QuickReply, Text: "c"}, {Type: catalog.QuickReply, Text: "d"}}}),
		"url without scheme": base(body, catalog.Component{Type: catalog.Buttons, Buttons: []catalog.Button{{Type: catalog.URLButton, Text: "a", URL: "example.com"}}}),
		"no name":            {Namespace: "ns", Language: "en", Components: []catalog.Component{body}},
	} {
		if err := tp.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestHydrateAndSplit(t *testing.T) {
	if got := catalog.Hydrate("{{1}}-{{2}}-{{1}}-{{9}}", []string{"a", "b"}); got != "a-b-a-{{9}}" {
		t.Errorf("Hydrate %q", got)
	}
	if lg, lc := catalog.SplitLanguage("pt_BR"); lg != "pt" || lc != "BR" {
		t.Errorf("SplitLanguage %q %q", lg, lc)
	}
	if lg, lc := catalog.SplitLanguage("de"); lg != "de" || lc != "" {
		t.Errorf("SplitLanguage %q %q", lg, lc)
	}
}
