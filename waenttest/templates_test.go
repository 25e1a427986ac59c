package waenttest_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/waproto/waE2E"
)

func bodyTemplate(ns, name, lang, body string) catalog.Template {
	return catalog.Template{Namespace: ns, Name: name, Language: lang, Category: "UTILITY",
		Components: []catalog.Component{{Type: catalog.Body, Text: body}}}
}

func templatesIQ(typ string, children ...wabin.Node) wabin.Node {
	return wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:biz:templates", "type": typ, "to": wabin.ServerJID}, Content: children}
}

// fetchTemplates fetches the client's catalogue over the wire.
func fetchTemplates(t *testing.T, c *client) (namespace, version string, list []catalog.Template) {
	t.Helper()
	reply, err := c.SendIQ(context.Background(), templatesIQ("get", wabin.Node{Tag: "templates"}))
	if err != nil {
		t.Fatalf("fetch templates: %v", err)
	}
	if reply.AttrString("type") != "result" || reply.AttrString("from") != wabin.ServerJID.String() {
		t.Fatalf("fetch reply %s", reply)
	}
	ts := mustChild(t, reply, "templates")
	for _, child := range ts.Children() {
		if child.Tag != "template" {
			t.Fatalf("unexpected <%s> in %s", child.Tag, reply)
		}
		var tm catalog.Template
		if err := json.Unmarshal(child.Bytes(), &tm); err != nil {
			t.Fatalf("template JSON %q: %v", child.Bytes(), err)
		}
		list = append(list, tm)
	}
	return ts.AttrString("namespace"), ts.AttrString("version"), list
}

var namespaceShape = regexp.MustCompile(`^[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}$`)

// A business fetches every translation of its own namespace, whatever the
// status, as catalog.Template JSON; other namespaces stay out, and bad
// definitions never enter the catalogue.
func TestTemplateFetch(t *testing.T) {
	n := waenttest.New(t)
	cat := n.Templates()
	b := newBiz(t, n, "16315550301")
	ns := cat.Namespace(b.phone)
	if !namespaceShape.MatchString(ns) {
		t.Fatalf("namespace %q does not look like an On-Prem one", ns)
	}
	if other := waenttest.New(t).Templates().Namespace("+1 631 555 0301"); other != ns {
		t.Fatalf("namespace differs across networks: %q vs %q", other, ns)
	}
	otherNS := cat.Namespace("16315550302")
	if otherNS == ns {
		t.Fatal("two numbers share a namespace")
	}

	gotNS, version, list := fetchTemplates(t, b.client)
	if gotNS != ns || version != "0" || len(list) != 0 {
		t.Fatalf("empty catalogue: namespace %q version %q %d templates", gotNS, version, len(list))
	}

	for _, tm := range []catalog.Template{
		bodyTemplate(ns, "shipping", "es", "Su pedido {{1}} ha sido enviado"),
		bodyTemplate(ns, "shipping", "en_US", "Your order {{1}} has shipped"),
		{Namespace: ns, Name: "promo", Language: "en", Status: "PENDING", Components: []catalog.Component{{Type: catalog.Body, Text: "Sale!"}}},
		bodyTemplate(otherNS, "shipping", "en_US", "not yours"),
	} {
		if err := cat.Add(tm); err != nil {
			t.Fatalf("add %s: %v", tm.Key(), err)
		}
	}
	if err := cat.Add(bodyTemplate(ns, "broken", "en", "gap {{2}}")); err == nil {
		t.Fatal("a template with a placeholder gap was accepted")
	}
	bad := bodyTemplate(ns, "odd", "en", "hi")
	bad.Status = "approvedish"
	if err := cat.Add(bad); err == nil {
		t.Fatal("an unknown status was accepted")
	}
	if err := cat.SetStatus(ns, "nothing", "en", "paused"); !errors.Is(err, waenttest.ErrTemplateUnknown) {
		t.Fatalf("SetStatus of a missing template: %v", err)
	}

	gotNS, version, list = fetchTemplates(t, b.client)
	want := cat.List(ns)
	if gotNS != ns || version != "3" || !reflect.DeepEqual(list, want) {
		t.Fatalf("fetch: namespace %q version %q\n%+v\nwant version 3 and\n%+v", gotNS, version, list, want)
	}
	var keys, statuses []string
	for _, tm := range list {
		keys, statuses = append(keys, tm.Name+"/"+tm.Language), append(statuses, tm.Status)
	}
	if strings.Join(keys, " ") != "promo/en shipping/en_US shipping/es" || strings.Join(statuses, " ") != "pending approved approved" {
		t.Fatalf("fetched %v with statuses %v", keys, statuses)
	}
	if len(cat.List("")) != 4 {
		t.Fatalf("List(\"\") has %d translations, want every namespace's 4", len(cat.List("")))
	}

	// Malformed requests and unregistered accounts get iq errors.
	var iqErr *conn.IQError
	if _, err := b.SendIQ(context.Background(), templatesIQ("set", wabin.Node{Tag: "templates"})); !errors.As(err, &iqErr) || iqErr.Code != 400 {
		t.Fatalf("set: %v, want iq error 400", err)
	}
	n.Registration().Block(b.phone)
	if _, err := b.SendIQ(context.Background(), templatesIQ("get", wabin.Node{Tag: "templates"})); !errors.As(err, &iqErr) || iqErr.Code != 401 {
		t.Fatalf("fetch by a blocked number: %v, want iq error 401", err)
	}
}

// nextTemplatesNote waits for the next templates notification and returns
// its version.
func nextTemplatesNote(t *testing.T, c *client) (wabin.Node, string) {
	t.Helper()
	note := nextStanza(t, c, "notification", func(n wabin.Node) bool { return n.AttrString("type") == "templates" })
	if note.AttrString("from") != wabin.ServerJID.String() || note.AttrString("id") == "" {
		t.Fatalf("notification %s", note)
	}
	return note, mustChild(t, note, "templates").AttrString("version")
}

func ackNote(t *testing.T, c *client, note wabin.Node) {
	t.Helper()
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": "notification", "id": note.AttrString("id"), "to": wabin.ServerJID, "type": "templates"}}
	if err := c.Send(context.Background(), ack); err != nil {
		t.Fatal(err)
	}
}

// Every change notifies the namespace's logged-in business with the new
// version, and only it; an unacked notification comes again on the next
// login, an acked one does not.
func TestTemplateChangesNotify(t *testing.T) {
	n := waenttest.New(t)
	cat := n.Templates()
	b := newBiz(t, n, "16315550311")
	other := newBiz(t, n, "16315550312")
	ns := cat.Namespace(b.phone)

	if err := cat.Add(bodyTemplate(ns, "hello", "en", "Hello {{1}}")); err != nil {
		t.Fatal(err)
	}
	note1, v := nextTemplatesNote(t, b.client)
	if v != "1" {
		t.Fatalf("after Add: version %s, want 1", v)
	}
	if err := cat.SetStatus(ns, "hello", "en", "paused"); err != nil {
		t.Fatal(err)
	}
	note2, v := nextTemplatesNote(t, b.client)
	if v != "2" {
		t.Fatalf("after SetStatus: version %s, want 2", v)
	}
	if err := cat.SetStatus(ns, "hello", "en", "paused"); err != nil || cat.Version(ns) != 2 {
		t.Fatalf("setting the same status: %v, version %d, want no change", err, cat.Version(ns))
	}
	if err := cat.Delete(ns, "hello", ""); err != nil {
		t.Fatal(err)
	}
	_, v = nextTemplatesNote(t, b.client)
	if v != "3" {
		t.Fatalf("after Delete: version %s, want 3", v)
	}
	if err := cat.Delete(ns, "hello", "en"); !errors.Is(err, waenttest.ErrTemplateUnknown) {
		t.Fatalf("deleting again: %v", err)
	}
	if _, version, list := fetchTemplates(t, b.client); version != "3" || len(list) != 0 {
		t.Fatalf("after Delete: version %s, %d templates", version, len(list))
	}

	// The other business heard nothing of it: the first notification it
	// gets is for its own namespace's first change.
	if err := cat.Add(bodyTemplate(cat.Namespace(other.phone), "hi", "en", "Hi")); err != nil {
		t.Fatal(err)
	}
	if _, v := nextTemplatesNote(t, other.client); v != "1" {
		t.Fatalf("other business's first notification has version %s, want 1 of its own namespace", v)
	}

	ackNote(t, b.client, note1)
	ackNote(t, b.client, note2)
	// An ack needs no answer; a round trip makes sure the server read them.
	fetchTemplates(t, b.client)
	n.DropConnection(b.phone)
	waitEvent[conn.Connected](t, b.client, 5*time.Second)
	if _, v := nextTemplatesNote(t, b.client); v != "3" {
		t.Fatalf("after re-login the server sent version %s, want only the unacked 3", v)
	}
}

// templateSender is a business that sends end-to-end encrypted template
// messages to one user.
type templateSender struct {
	*biz
	to      string
	started bool
}

func (s *templateSender) send(t *testing.T, id string, tm *content.Template) {
	t.Helper()
	m, err := content.ToProto(&content.Outgoing{To: s.to, Type: "template", Template: tm}, nil)
	if err != nil {
		t.Fatalf("ToProto: %v", err)
	}
	s.sendMessage(t, id, m)
}

func (s *templateSender) sendMessage(t *testing.T, id string, m *waE2E.Message) {
	t.Helper()
	var bundle *crypto.Bundle
	if !s.started {
		b, err := waenttest.ParseBundle(fetchBundle(t, s.client, s.to), nil)
		if err != nil {
			t.Fatal(err)
		}
		bundle, s.started = &b, true
	}
	ct := s.encrypt(t, s.to, bundle, m)
	s.sendEnc(t, s.to, id, wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": ct.Type}, Content: ct.Data})
}

func textParams(texts ...string) []content.Parameter {
	out := make([]content.Parameter, len(texts))
	for i, s := range texts {
		out[i] = content.Parameter{Type: "text", Text: s}
	}
	return out
}

func lang(code string) *content.Language {
	return &content.Language{Policy: "deterministic", Code: code}
}

// A phone renders a template message from the catalogue: the parameters
// fill header, body and buttons, the exact translation wins over the bare
// language, and the message gets a normal delivery receipt.
func TestUserRendersTemplate(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	cat := n.Templates()
	b := newBiz(t, n, "16315550321")
	bob := newUser(t, n, "16315550322", waenttest.UserOptions{})
	ns := cat.Namespace(b.phone)
	rich := catalog.Template{Namespace: ns, Name: "order", Language: "en_US", Components: []catalog.Component{
		{Type: catalog.Header, Format: catalog.FormatText, Text: "Order {{1}}"},
		{Type: catalog.Body, Text: "Hi {{1}}, your order ships {{2}}."},
		{Type: catalog.Footer, Text: "Reply STOP to opt out"},
		{Type: catalog.Buttons, Buttons: []catalog.Button{
			{Type: catalog.URLButton, Text: "Track", URL: "https://example.com/track/{{1}}"},
			{Type: catalog.QuickReply, Text: "Thanks"},
		}},
	}}
	for _, tm := range []catalog.Template{
		rich,
		bodyTemplate(ns, "greet", "en", "Hello {{1}}"),
		bodyTemplate(ns, "greet", "en_GB", "Good day {{1}}"),
		{Namespace: ns, Name: "photo", Language: "en", Components: []catalog.Component{
			{Type: catalog.Header, Format: catalog.FormatImage}, {Type: catalog.Body, Text: "Look, {{1}}"},
		}},
	} {
		if err := cat.Add(tm); err != nil {
			t.Fatal(err)
		}
	}
	s := &templateSender{biz: b, to: bob.Phone()}
	s.send(t, "3EB0000000000000000001", &content.Template{Namespace: ns, Name: "order", Language: lang("en_US"), Components: []content.Component{
		{Type: "button", SubType: "quick_reply", Index: "1", Parameters: []content.Parameter{{Type: "payload", Payload: "THX-42"}}},
		{Type: "body", Parameters: textParams("Ann", "today")},
		{Type: "button", SubType: "url", Index: "0", Parameters: textParams("A42")},
		{Type: "header", Parameters: textParams("A42")},
	}})
	s.send(t, "3EB0000000000000000002", &content.Template{Namespace: ns, Name: "greet", Language: lang("en_GB"), Components: []content.Component{{Type: "body", Parameters: textParams("Ann")}}})
	s.send(t, "3EB0000000000000000003", &content.Template{Namespace: ns, Name: "greet", Language: lang("en_AU"), Components: []content.Component{{Type: "body", Parameters: textParams("Ann")}}})
	s.send(t, "3EB0000000000000000004", &content.Template{Namespace: ns, Name: "greet", Language: &content.Language{Policy: "fallback", Code: "en"}, Components: []content.Component{{Type: "body", Parameters: textParams("Ann")}}})
	s.send(t, "3EB0000000000000000005", &content.Template{Namespace: ns, Name: "photo", Language: lang("en"), Components: []content.Component{
		{Type: "header", Parameters: []content.Parameter{{Type: "image", Image: &content.Media{Link: "https://example.com/p.jpg"}}}},
		{Type: "body", Parameters: textParams("Ann")},
	}})
	s.sendMessage(t, "3EB0000000000000000006", &waE2E.Message{Conversation: proto.String("plain text")})

	got := waitReceived(t, ctx, bob, 6)
	r := got[0]
	want := catalog.Rendered{Header: "Order A42", Body: "Hi Ann, your order ships today.", Footer: "Reply STOP to opt out", Buttons: []catalog.RenderedButton{
		{Type: catalog.URLButton, Text: "Track", URL: "https://example.com/track/A42"},
		{Type: catalog.QuickReply, Text: "Thanks", Payload: "THX-42"},
	}}
	if r.Template == nil || !reflect.DeepEqual(*r.Template, want) {
		t.Fatalf("rendered %+v, want %+v", r.Template, want)
	}
	if r.Text != want.Text() || r.Message.GetHighlyStructuredMessage().GetElementName() != "order" {
		t.Fatalf("text %q (message %v), want %q with the hsm kept", r.Text, r.Message, want.Text())
	}
	for i, w := range []string{"Good day Ann", "Hello Ann", "Hello Ann", "[image]\nLook, Ann", "plain text"} {
		if got[i+1].Text != w {
			t.Errorf("message %d: %q, want %q", i+2, got[i+1].Text, w)
		}
	}
	if got[5].Template != nil {
		t.Error("a plain text message has a rendered template")
	}
	if f := bob.TemplateFailures(); len(f) != 0 {
		t.Fatalf("template failures %+v", f)
	}
	for range 6 {
		if r := nextStanza(t, b.client, "receipt", func(wabin.Node) bool { return true }); r.AttrString("type") != "" {
			t.Fatalf("receipt %s, want delivery receipts only", r)
		}
	}
}

// A phone that cannot render a template message records why and answers
// with a 2003 error receipt instead of a delivery receipt, still acking
// the message: missing translation, parameter mismatch, unknown or
// forgotten template, and a template that is not approved.
func TestTemplateRenderFailures(t *testing.T) {
	n := waenttest.New(t)
	ctx := testCtx(t)
	cat := n.Templates()
	b := newBiz(t, n, "16315550331")
	bob := newUser(t, n, "16315550332", waenttest.UserOptions{TemplateLanguages: []string{"en"}})
	ns := cat.Namespace(b.phone)
	for _, tm := range []catalog.Template{
		bodyTemplate(ns, "ship", "en", "Order {{1}} shipped {{2}}"),
		bodyTemplate(ns, "ship", "es", "Pedido {{1}} enviado {{2}}"),
	} {
		if err := cat.Add(tm); err != nil {
			t.Fatal(err)
		}
	}
	s := &templateSender{biz: b, to: bob.Phone()}
	ship := func(id, code string, params ...string) {
		s.send(t, id, &content.Template{Namespace: ns, Name: "ship", Language: lang(code), Components: []content.Component{{Type: "body", Parameters: textParams(params...)}}})
	}
	cases := []struct {
		id     string
		send   func(id string)
		want   error
		reason string
	}{
		{"3EB0000000000000000011", func(id string) { ship(id, "es", "A1", "today") }, waenttest.ErrTemplateLanguage, "no translation in es"},
		{"3EB0000000000000000012", func(id string) { ship(id, "en", "A1") }, catalog.ErrParamCount, "parameter count"},
		{"3EB0000000000000000013", func(id string) { ship(id, "en", "A1", "today", "extra") }, catalog.ErrParamCount, "left over"},
		{"3EB0000000000000000014", func(id string) {
			s.send(t, id, &content.Template{Namespace: ns, Name: "nope", Language: lang("en")})
		}, waenttest.ErrTemplateUnknown, `"nope" not found`},
		{"3EB0000000000000000015", func(id string) {
			if err := cat.SetStatus(ns, "ship", "en", "paused"); err != nil {
				t.Fatal(err)
			}
			ship(id, "en", "A1", "today")
		}, waenttest.ErrTemplateNotApproved, "is paused"},
		{"3EB0000000000000000016", func(id string) {
			if err := cat.SetStatus(ns, "ship", "en", "approved"); err != nil {
				t.Fatal(err)
			}
			bob.ForgetTemplates(ns)
			ship(id, "en", "A1", "today")
		}, waenttest.ErrTemplateUnknown, "unknown"},
	}
	for i, c := range cases {
		c.send(c.id)
		r := nextStanza(t, b.client, "receipt", func(wabin.Node) bool { return true })
		e := mustChild(t, r, "error")
		if r.AttrString("id") != c.id || r.AttrString("type") != "error" || e.AttrString("code") != "2003" ||
			!strings.HasPrefix(e.AttrString("text"), "structure unavailable: ") || !strings.Contains(e.AttrString("text"), c.reason) {
			t.Fatalf("case %d: receipt %s, want a 2003 error mentioning %q for %s", i, r, c.reason, c.id)
		}
		fs, err := bob.WaitTemplateFailures(ctx, i+1)
		if err != nil {
			t.Fatal(err)
		}
		f := fs[i]
		if f.ID != c.id || f.From != b.phone || f.Namespace != ns || !errors.Is(f.Err, c.want) || "structure unavailable: "+f.Reason != e.AttrString("text") {
			t.Fatalf("case %d: failure %+v, want %v", i, f, c.want)
		}
	}
	// Back in sync, the phone renders again, and the delivery receipt is
	// the first receipt after the error ones: none of the failed messages
	// got one.
	bob.RefreshTemplates()
	ship("3EB0000000000000000017", "en", "A1", "today")
	if r := nextStanza(t, b.client, "receipt", func(wabin.Node) bool { return true }); r.AttrString("id") != "3EB0000000000000000017" || r.AttrString("type") != "" {
		t.Fatalf("receipt %s, want the delivery receipt of the rendered message", r)
	}
	got := waitReceived(t, ctx, bob, 1)
	if len(got) != 1 || got[0].Text != "Order A1 shipped today" {
		t.Fatalf("received %+v, want only the rendered message", got)
	}
	// The failed messages were acked: a reconnect brings none back.
	bob.SetOnline(false)
	bob.SetOnline(true)
	ship("3EB0000000000000000018", "en", "A2", "now")
	waitReceived(t, ctx, bob, 2)
	if d := bob.Duplicates(); d != 0 || len(bob.TemplateFailures()) != len(cases) {
		t.Fatalf("after a reconnect: %d duplicates, %d failures", d, len(bob.TemplateFailures()))
	}
}
