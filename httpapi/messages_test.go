package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waenttest"
)

// msgEnvelope is an error answer with its details.
type msgEnvelope struct {
	Meta   map[string]any `json:"meta"`
	Errors []struct {
		Code    int    `json:"code"`
		Title   string `json:"title"`
		Details string `json:"details"`
	} `json:"errors"`
}

func msgErrorOf(t testing.TB, r response) msgEnvelope {
	t.Helper()
	var env msgEnvelope
	r.decode(&env)
	if len(env.Errors) != 1 || env.Meta == nil {
		t.Fatalf("not an error envelope: %d %s", r.status, r.raw)
	}
	return env
}

// msgSentID checks a 201 answer of POST /v1/messages and returns the id.
func msgSentID(t testing.TB, r response) string {
	t.Helper()
	if r.status != http.StatusCreated {
		t.Fatalf("POST /v1/messages: %d %s, want 201", r.status, r.raw)
	}
	var out struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		Meta struct {
			Version string `json:"version"`
		} `json:"meta"`
	}
	r.decode(&out)
	if len(out.Messages) != 1 || out.Messages[0].ID == "" || out.Meta.Version == "" {
		t.Fatalf("POST /v1/messages answer %s", r.raw)
	}
	return out.Messages[0].ID
}

func msgNewUser(t testing.TB, a *api, phone string) *waenttest.User {
	t.Helper()
	u, err := a.net.NewUser(phone, waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// msgWaitReceived waits until u has received the message id and returns
// what its phone shows.
func msgWaitReceived(t testing.TB, u *waenttest.User, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for n := 1; ; n++ {
		got, err := u.WaitReceived(ctx, n)
		if err != nil {
			t.Fatalf("message %s not received: %v (got %d)", id, err, len(got))
		}
		for _, r := range got {
			if r.ID == id {
				return r.Text
			}
		}
	}
}

// TestPostMessagesTextDelivered: a text sent through the API reaches the
// simulated user, whether "to" is a formatted phone number or a wa_id.
func TestPostMessagesTextDelivered(t *testing.T) {
	a := newAPI(t, apiOptions{})
	u := msgNewUser(t, a, "16315551004")
	for i, to := range []string{"+1 (631) 555-1004", "16315551004", "1-631-555-1004"} {
		body := map[string]any{"to": to, "type": "text", "text": map[string]string{"body": "hello " + to}}
		id := msgSentID(t, a.do("POST", "/v1/messages", body, a.admin))
		if !strings.HasPrefix(id, "gB") {
			t.Errorf("id %q is not On-Premises shaped", id)
		}
		if got := msgWaitReceived(t, u, id); !strings.Contains(got, "hello "+to) {
			t.Fatalf("message %d shows %q", i, got)
		}
		m, err := a.st.GetMessage(context.Background(), id)
		if err != nil || m.Peer != "16315551004" || m.Direction != store.Outbound {
			t.Fatalf("stored %+v, %v", m, err)
		}
	}
}

// TestPostMessagesTypes sends every message type, and the documented
// mistakes of each, through the handler: accepted types answer 201 and
// arrive; rejected ones answer the On-Premises code, HTTP status and
// detail.
func TestPostMessagesTypes(t *testing.T) {
	a := newAPI(t, apiOptions{})
	const phone = "16315551010"
	u := msgNewUser(t, a, phone)
	long := func(n int) string { return strings.Repeat("é", n) } // 1 character, 2 bytes
	// The template sends below name templates of the business's
	// catalogue on the network ("ns" stands for its namespace).
	ns := a.net.Templates().Namespace(a.client.WAID())
	for _, tp := range []catalog.Template{
		{Namespace: ns, Name: "order_update", Language: "en_US", Components: []catalog.Component{
			{Type: catalog.Body, Text: "Hi {{1}}, {{2}} due {{3}}"},
			{Type: catalog.Buttons, Buttons: []catalog.Button{{Type: catalog.QuickReply, Text: "OK"}}}}},
		{Namespace: ns, Name: "e", Language: "de", Components: []catalog.Component{{Type: catalog.Body, Text: "{{1}} {{2}}"}}},
	} {
		if err := a.net.Templates().Add(tp); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.client.RefreshTemplates(context.Background()); err != nil {
		t.Fatal(err)
	}
	msg := func(typ, obj string) string {
		return `{"to":"` + phone + `","type":"` + typ + `","` + typ + `":` + strings.ReplaceAll(obj, `"namespace":"ns"`, `"namespace":"`+ns+`"`) + `}`
	}
	iv := func(inner string) string { return msg("interactive", inner) }
	buttons := func(n int) string {
		var bs []string
		for i := range n {
			id := string(rune('a' + i))
			bs = append(bs, `{"type":"reply","reply":{"id":"`+id+`","title":"T`+id+`"}}`)
		}
		return `{"type":"button","body":{"text":"b"},"action":{"buttons":[` + strings.Join(bs, ",") + `]}}`
	}
	rows := func(n int) string {
		var rs []string
		for i := range n {
			rs = append(rs, `{"id":"r`+string(rune('a'+i))+`","title":"t"}`)
		}
		return strings.Join(rs, ",")
	}
	sections := func(n int) string {
		var ss []string
		for i := range n {
			ss = append(ss, `{"title":"s`+string(rune('a'+i))+`","rows":[{"id":"x`+string(rune('a'+i))+`","title":"t"}]}`)
		}
		return `{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[` + strings.Join(ss, ",") + `]}}`
	}
	products := func(n int) string {
		return `{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c",` +
			`"sections":[{"title":"s","product_items":[` + strings.TrimSuffix(strings.Repeat(`{"product_retailer_id":"p"},`, n), ",") + `]}]}}`
	}
	const (
		accepted = 201
		media    = -1 // 201 once the Client has a media service; 400 / 1009 saying so until then
	)
	tests := []struct {
		name    string
		body    string
		code    int    // accepted, media, or the On-Premises error code
		details string // when set, the exact error detail
	}{
		// Accepted, one per type.
		{"text", msg("text", `{"body":"plain"}`), accepted, ""},
		{"text without type", `{"to":"` + phone + `","text":{"body":"default type"}}`, accepted, ""},
		{"text preview_url", `{"to":"` + phone + `","preview_url":true,"recipient_type":"individual","text":{"body":"https://example.com"}}`, accepted, ""},
		{"text reply", `{"to":"` + phone + `","context":{"message_id":"gBEGkYiEB1VXAglK1ZEqA1YKPrU"},"text":{"body":"re"}}`, accepted, ""},
		{"text at the limit", msg("text", `{"body":"`+long(4096)+`"}`), accepted, ""},
		{"location", msg("location", `{"latitude":37.48,"longitude":"-122.15","name":"HQ","address":"1 Hacker Way"}`), accepted, ""},
		{"contacts", msg("contacts", `[{"name":{"formatted_name":"Ann Lee","first_name":"Ann"},"birthday":"1990-01-02",
			"phones":[{"phone":"+1 631 555 1010","type":"CELL","wa_id":"16315551010"}],"emails":[{"email":"ann@example.com","type":"WORK"}]}]`), accepted, ""},
		{"interactive button", iv(`{"type":"button","header":{"type":"text","text":"Hi"},"body":{"text":"Pick"},"footer":{"text":"f"},
			"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Yes"}},{"type":"reply","reply":{"id":"n","title":"No"}}]}}`), accepted, ""},
		{"interactive three buttons", iv(buttons(3)), accepted, ""},
		{"interactive list", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[{"title":"s","rows":[` + rows(10) + `]}]}}`), accepted, ""},
		{"interactive ten sections", iv(sections(10)), accepted, ""},
		{"interactive product", iv(`{"type":"product","body":{"text":"b"},"action":{"catalog_id":"c","product_retailer_id":"sku"}}`), accepted, ""},
		{"interactive product_list", iv(products(30)), accepted, ""},
		{"template", msg("template", `{"namespace":"ns","name":"order_update","language":{"policy":"deterministic","code":"en_US"},
			"components":[{"type":"body","parameters":[{"type":"text","text":"Jane"},
			{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":1000}},
			{"type":"date_time","date_time":{"fallback_value":"Feb 25"}}]},
			{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"p"}]}]}`), accepted, ""},
		{"hsm", msg("hsm", `{"namespace":"ns","element_name":"e","language":{"policy":"deterministic","code":"de"},
			"localizable_params":[{"default":"x"},{"default":"$1","currency":{"currency_code":"USD","amount_1000":1000}}]}`), accepted, ""},
		{"reaction", msg("reaction", `{"message_id":"gBEGkYiEB1VXAglK1ZEqA1YKPrU","emoji":"👍"}`), accepted, ""},
		{"image by id", msg("image", `{"id":"f3b1a6c2","caption":"c"}`), media, ""},
		{"document by link", msg("document", `{"link":"https://example.com/a.pdf","caption":"c","filename":"a.pdf"}`), media, ""},
		{"audio", msg("audio", `{"id":"a1"}`), media, ""},
		{"video", msg("video", `{"id":"v1","caption":"c"}`), media, ""},
		{"sticker", msg("sticker", `{"id":"s1"}`), media, ""},

		// Envelope.
		{"unknown type", `{"to":"` + phone + `","type":"poll","poll":{}}`, 1009, "Parameter 'type' has invalid value 'poll'"},
		{"no to", `{"type":"text","text":{"body":"x"}}`, 1008, "Missing mandatory parameter 'to'"},
		{"to not a number", `{"to":"abc","text":{"body":"x"}}`, 1009, "Parameter 'to' has invalid value 'abc'"},
		{"to the business itself", `{"to":"+1 555 0100","text":{"body":"x"}}`, 1021, ""},
		{"recipient_type group", `{"to":"` + phone + `-1600000000","recipient_type":"group","text":{"body":"x"}}`, 1002, ""},
		{"recipient_type unknown", `{"to":"` + phone + `","recipient_type":"broadcast","text":{"body":"x"}}`, 1002,
			"Parameter 'recipient_type' has invalid value 'broadcast'"},
		{"stray object", `{"to":"` + phone + `","text":{"body":"x"},"image":{"id":"1"}}`, 1010,
			"Parameter 'image' is not required for type 'text'"},
		{"empty ttl", `{"to":"` + phone + `","ttl":"","text":{"body":"x"}}`, 1009, "Empty TTL value not allowed"},
		// Text.
		{"text missing", `{"to":"` + phone + `","type":"text"}`, 1008, "Parameter 'text' is mandatory for type 'text'"},
		{"text body missing", msg("text", `{}`), 1008, "Missing mandatory parameter 'text.body'"},
		{"text too long", msg("text", `{"body":"`+long(4097)+`"}`), 1001, ""},
		// Media.
		{"media id and link", msg("image", `{"id":"1","link":"https://example.com/a.jpg"}`), 1010,
			"Exactly one of the following parameters must be present: image.id, image.link"},
		{"media neither id nor link", msg("video", `{"caption":"c"}`), 1008,
			"Atleast one of the following parameters must be present: video.id, video.link"},
		{"audio caption", msg("audio", `{"id":"1","caption":"c"}`), 1010, "Parameter 'audio.caption' is not required for type 'audio'"},
		{"sticker caption", msg("sticker", `{"id":"1","caption":"c"}`), 1010, "Parameter 'sticker.caption' is not required for type 'sticker'"},
		{"image filename", msg("image", `{"id":"1","filename":"a.jpg"}`), 1010, "Parameter 'image.filename' is not required for type 'image'"},
		{"media link not http", msg("document", `{"link":"file:///etc/passwd"}`), 1009, ""},
		// Location and contacts.
		{"location latitude missing", msg("location", `{"longitude":1}`), 1008, "Missing mandatory parameter 'location.latitude'"},
		{"location longitude missing", msg("location", `{"latitude":1}`), 1008, "Missing mandatory parameter 'location.longitude'"},
		{"location out of range", msg("location", `{"latitude":91,"longitude":1}`), 1009, ""},
		{"contacts empty", msg("contacts", `[]`), 1008, ""},
		{"contacts formatted_name missing", msg("contacts", `[{"name":{"first_name":"A"}}]`), 1008,
			"Missing mandatory parameter 'contacts[0].name.formatted_name'"},
		// Interactive.
		{"interactive type missing", iv(`{"body":{"text":"b"}}`), 1008, "Missing mandatory parameter 'interactive.type'"},
		{"interactive four buttons", iv(buttons(4)), 1009, ""},
		{"interactive button title too long", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"` + long(21) + `"}}]}}`), 1009, ""},
		{"interactive button id too long", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"` + long(257) + `","title":"t"}}]}}`), 1009, ""},
		{"interactive button titles repeat", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"t"}},{"type":"reply","reply":{"id":"2","title":"t"}}]}}`), 1009, ""},
		{"interactive body too long", iv(`{"type":"button","body":{"text":"` + long(1025) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"t"}}]}}`), 1009, ""},
		{"interactive footer too long", iv(`{"type":"button","body":{"text":"b"},"footer":{"text":"` + long(61) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"t"}}]}}`), 1009, ""},
		{"interactive header text too long", iv(`{"type":"button","header":{"type":"text","text":"` + long(61) + `"},"body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"t"}}]}}`), 2036, ""},
		{"interactive header type unknown", iv(`{"type":"button","header":{"type":"audio"},"body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"t"}}]}}`), 2036, ""},
		{"interactive media header on list", iv(`{"type":"list","header":{"type":"image","image":{"id":"1"}},"body":{"text":"b"},"action":{"button":"P","sections":[{"rows":[{"id":"1","title":"t"}]}]}}`), 2036, ""},
		{"interactive list no sections", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[]}}`), 2015, ""},
		{"interactive list eleven sections", iv(sections(11)), 2015, ""},
		{"interactive list empty section", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[{"title":"s","rows":[]}]}}`), 2016, ""},
		{"interactive list eleven rows", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"Pick","sections":[{"title":"s","rows":[` + rows(11) + `]}]}}`), 2016, ""},
		{"interactive list button too long", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"` + long(21) + `","sections":[{"rows":[{"id":"1","title":"t"}]}]}}`), 1009, ""},
		{"interactive section title too long", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"P","sections":[{"title":"` + long(25) + `","rows":[{"id":"1","title":"t"}]}]}}`), 1009, ""},
		{"interactive row title too long", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"P","sections":[{"rows":[{"id":"1","title":"` + long(25) + `"}]}]}}`), 1009, ""},
		{"interactive row description too long", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"P","sections":[{"rows":[{"id":"1","title":"t","description":"` + long(73) + `"}]}]}}`), 1009, ""},
		{"interactive product header", iv(`{"type":"product","header":{"type":"text","text":"h"},"action":{"catalog_id":"c","product_retailer_id":"s"}}`), 1010, ""},
		{"interactive product catalog missing", iv(`{"type":"product","action":{"product_retailer_id":"s"}}`), 1008, ""},
		{"interactive product_list 31 products", iv(products(31)), 2023, ""},
		{"interactive product_list empty section", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c","sections":[{"title":"s","product_items":[]}]}}`), 2023, ""},
		// Templates, reactions.
		{"template namespace missing", msg("template", `{"name":"t","language":{"code":"en"}}`), 1008, "Missing mandatory parameter 'template.namespace'"},
		{"template language missing", msg("template", `{"namespace":"ns","name":"t"}`), 1008, ""},
		{"hsm element_name missing", msg("hsm", `{"namespace":"ns","language":{"code":"en"}}`), 1008, "Missing mandatory parameter 'hsm.element_name'"},
		{"reaction message_id missing", msg("reaction", `{"emoji":"👍"}`), 1008, "Missing mandatory parameter 'reaction.message_id'"},
	}
	var sent []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := a.do("POST", "/v1/messages", tc.body, a.admin)
			switch tc.code {
			case accepted:
				sent = append(sent, msgSentID(t, res))
				return
			case media:
				if res.status == http.StatusCreated {
					msgSentID(t, res)
					return
				}
				env := msgErrorOf(t, res)
				if res.status != 400 || env.Errors[0].Code != 1009 || !strings.Contains(env.Errors[0].Details, "media") {
					t.Fatalf("media message: %d %s, want 201 or the 1009 of a build without media", res.status, res.raw)
				}
				return
			}
			env := msgErrorOf(t, res)
			e := env.Errors[0]
			if e.Code != tc.code || res.status != waent.HTTPStatus(tc.code) || res.status/100 != 4 {
				t.Fatalf("got %d %s, want %d with code %d", res.status, res.raw, waent.HTTPStatus(tc.code), tc.code)
			}
			if e.Title == "" {
				t.Errorf("no title in %s", res.raw)
			}
			if tc.details != "" && e.Details != tc.details {
				t.Errorf("details %q, want %q", e.Details, tc.details)
			}
		})
	}
	// Everything accepted is delivered.
	for _, id := range sent {
		msgWaitReceived(t, u, id)
	}
}

// TestPostMessagesBadRequests covers what fails before validation: the
// JSON itself, its shape and its value types.
func TestPostMessagesBadRequests(t *testing.T) {
	a := newAPI(t, apiOptions{unregistered: true})
	tests := []struct {
		name, body string
		status     int
		code       int
		detail     string // a substring of the details
	}{
		{"invalid JSON", `{"to":"1","text":{"body":"x"`, 400, 1025, "Unable to decode the request"},
		{"trailing garbage", `{"to":"1"} x`, 400, 1025, "Unable to decode the request"},
		{"array", `[{"to":"1"}]`, 400, 1025, "must be a JSON object"},
		{"string", `"hello"`, 400, 1025, "must be a JSON object"},
		{"null", `null`, 400, 1025, "must be a JSON object"},
		{"empty", ``, 400, 1008, ""},
		{"to is a number", `{"to":5,"text":{"body":"x"}}`, 400, 1009, "'to'"},
		{"text is a string", `{"to":"1","text":"x"}`, 400, 1009, "'text'"},
		{"body is a number", `{"to":"1","text":{"body":5}}`, 400, 1009, "'text.body'"},
		{"latitude not a number", `{"to":"1","type":"location","location":{"latitude":"north","longitude":1}}`, 400, 1009, "coordinate"},
		// Validation comes before the Client: an unregistered Client does
		// not hide a bad request behind "Service not ready".
		{"missing to before readiness", `{"text":{"body":"x"}}`, 400, 1008, "Missing mandatory parameter 'to'"},
		{"valid but not registered", `{"to":"16315551000","text":{"body":"x"}}`, 500, 1011, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := a.do("POST", "/v1/messages", tc.body, a.admin)
			env := msgErrorOf(t, res)
			if res.status != tc.status || env.Errors[0].Code != tc.code {
				t.Fatalf("got %d %s, want %d with code %d", res.status, res.raw, tc.status, tc.code)
			}
			if !strings.Contains(env.Errors[0].Details, tc.detail) {
				t.Errorf("details %q do not mention %q", env.Errors[0].Details, tc.detail)
			}
			if strings.Contains(env.Errors[0].Details, "content.") || strings.Contains(env.Errors[0].Details, "Go value") {
				t.Errorf("details %q name Go types", env.Errors[0].Details)
			}
		})
	}
	if res := a.do("POST", "/v1/messages", `{"to":"1","text":{"body":"x"}}`, ""); res.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d %s", res.status, res.raw)
	}
}

// TestPostMessagesIdentityNotAcknowledged: with security notifications
// on, a peer whose identity changed cannot be messaged (400 / 1028)
// until PUT .../identity acknowledges the change.
func TestPostMessagesIdentityNotAcknowledged(t *testing.T) {
	a := newAPI(t, apiOptions{})
	ctx := context.Background()
	if _, err := a.client.UpdateSettings(ctx, func(s *waent.Settings) { s.ShowSecurityNotifications = true }); err != nil {
		t.Fatal(err)
	}
	u := msgNewUser(t, a, "16315551020")
	id := msgSentID(t, a.do("POST", "/v1/messages", map[string]any{"to": u.Phone(), "text": map[string]string{"body": "first"}}, a.admin))
	msgWaitReceived(t, u, id)
	hash := ctChangeIdentity(t, a, u)
	res := a.do("POST", "/v1/messages", map[string]any{"to": u.Phone(), "text": map[string]string{"body": "blocked"}}, a.admin)
	res.wantError(400, 1028)
	if r := a.do("PUT", "/v1/contacts/"+u.Phone()+"/identity", map[string]string{"hash": hash}, a.admin); r.status != 200 {
		t.Fatalf("acknowledge: %d %s", r.status, r.raw)
	}
	id = msgSentID(t, a.do("POST", "/v1/messages", map[string]any{"to": u.Phone(), "text": map[string]string{"body": "after"}}, a.admin))
	msgWaitReceived(t, u, id)
}

// TestMarkRead: PUT /v1/messages/{id} {"status":"read"} on a received
// message answers 200 with only meta and the sender gets a read receipt;
// unknown ids, outbound ids and other statuses are refused.
func TestMarkRead(t *testing.T) {
	a := newAPI(t, apiOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	u := msgNewUser(t, a, "16315551030")
	id, err := u.SendText(ctx, a.client.WAID(), "read me")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := a.st.GetMessage(ctx, id); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("inbound message never stored")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Refusals first, so the read below is the only one.
	a.do("PUT", "/v1/messages/"+id, map[string]string{"status": "delivered"}, a.admin).wantError(400, 1009)
	a.do("PUT", "/v1/messages/"+id, map[string]string{}, a.admin).wantError(400, 1008)
	a.do("PUT", "/v1/messages/"+id, `{"status":`, a.admin).wantError(400, 1025)
	a.do("PUT", "/v1/messages/gBunknown", map[string]string{"status": "read"}, a.admin).wantError(404, 1006)
	out := msgSentID(t, a.do("POST", "/v1/messages", map[string]any{"to": u.Phone(), "text": map[string]string{"body": "mine"}}, a.admin))
	a.do("PUT", "/v1/messages/"+out, map[string]string{"status": "read"}, a.admin).wantError(404, 1006)
	for _, r := range u.Receipts() {
		if r.ID == id && r.Type == "read" {
			t.Fatal("read receipt before PUT")
		}
	}

	res := a.do("PUT", "/v1/messages/"+id, map[string]string{"status": "read"}, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("mark read: %d %s", res.status, res.raw)
	}
	var body map[string]json.RawMessage
	res.decode(&body)
	if len(body) != 1 || body["meta"] == nil {
		t.Fatalf("mark read answer %s, want only meta", res.raw)
	}
	m, err := a.st.GetMessage(ctx, id)
	if err != nil || m.Status != store.StatusRead {
		t.Fatalf("stored status %v, %v", m.Status, err)
	}
	for {
		found := false
		for _, r := range u.Receipts() {
			found = found || (r.ID == id && r.Type == "read")
		}
		if found {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the sender got no read receipt")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
