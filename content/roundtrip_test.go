package content

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/waent/waent/waproto/waE2E"
	"google.golang.org/protobuf/proto"
)

func testRef(mime string) *MediaRef {
	return &MediaRef{
		URL: "https://mmg.example/d/f/abc.enc", DirectPath: "/v/t62.7118-24/abc.enc?ccb=11-4", MimeType: mime,
		MediaKey: bytes.Repeat([]byte{7}, 32), FileSHA256: bytes.Repeat([]byte{0xab}, 32),
		FileEncSHA256: bytes.Repeat([]byte{0xcd}, 32), FileLength: 12345, MediaKeyTimestamp: 1700000000,
		Width: 640, Height: 480,
	}
}

// wire sends o through ToProto and the protobuf encoding, as a peer would
// receive it.
func wire(t *testing.T, o *Outgoing, media *MediaRef) *waE2E.Message {
	t.Helper()
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	m, err := ToProto(o, media)
	if err != nil {
		t.Fatalf("ToProto: %v", err)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got waE2E.Message
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func inbound(t *testing.T, m *waE2E.Message) *Inbound {
	t.Helper()
	in, err := FromProto(m)
	if err != nil {
		t.Fatalf("FromProto: %v", err)
	}
	return in
}

func mustDecode(t *testing.T, body string) *Outgoing {
	t.Helper()
	o, err := DecodeOutgoing([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestRoundTripText(t *testing.T) {
	m := wire(t, mustDecode(t, `{"to":"1","text":{"body":"hello"}}`), nil)
	if m.GetConversation() != "hello" || m.ExtendedTextMessage != nil {
		t.Fatalf("plain text should be a conversation: %v", m)
	}
	in := inbound(t, m)
	if in.Type != "text" || in.Text.Body != "hello" || in.Context != nil || in.Errors != nil {
		t.Fatalf("got %+v", in)
	}
}

func TestRoundTripTextPreview(t *testing.T) {
	for _, body := range []string{
		`{"to":"1","preview_url":true,"text":{"body":"see https://example.com/a?b=1, or http://10.0.0.1/"}}`,
		`{"to":"1","text":{"body":"see https://example.com/a?b=1, or http://10.0.0.1/","preview_url":true}}`,
	} {
		m := wire(t, mustDecode(t, body), nil)
		x := m.GetExtendedTextMessage()
		if x == nil || x.GetMatchedText() != "https://example.com/a?b=1" || x.ContextInfo != nil {
			t.Fatalf("got %v", m)
		}
		if in := inbound(t, m); in.Type != "text" || in.Text.Body != x.GetText() {
			t.Fatalf("got %+v", in)
		}
	}
	// An IP host is not previewed: the message still says preview was
	// asked for, but matches nothing.
	m := wire(t, mustDecode(t, `{"to":"1","preview_url":true,"text":{"body":"http://10.0.0.1/"}}`), nil)
	if m.GetExtendedTextMessage() == nil || m.GetExtendedTextMessage().MatchedText != nil {
		t.Fatalf("got %v", m)
	}
}

func TestRoundTripReply(t *testing.T) {
	m := wire(t, mustDecode(t, `{"to":"1","context":{"message_id":"gBE1"},"text":{"body":"yes"}}`), nil)
	ci := m.GetExtendedTextMessage().GetContextInfo()
	if ci.GetStanzaID() != "gBE1" || ci.Participant != nil {
		t.Fatalf("got %v", m)
	}
	in := inbound(t, m)
	if in.Type != "text" || in.Text.Body != "yes" || !reflect.DeepEqual(in.Context, &InContext{ID: "gBE1"}) {
		t.Fatalf("got %+v %+v", in, in.Context)
	}
	// The caller adds the quoted sender; the webhook reports its wa_id.
	ContextInfoOf(m).Participant = proto.String("16315558011@s.whatsapp.net")
	if got := inbound(t, m).Context; got.From != "16315558011" || got.ID != "gBE1" {
		t.Fatalf("got %+v", got)
	}
	// Replies work for every content type with a ContextInfo.
	img := wire(t, mustDecode(t, `{"to":"1","type":"image","context":{"message_id":"gBE2"},"image":{"id":"x"}}`), testRef("image/jpeg"))
	if in := inbound(t, img); in.Context == nil || in.Context.ID != "gBE2" {
		t.Fatalf("got %+v", in)
	}
}

func TestRoundTripMedia(t *testing.T) {
	sha := hex.EncodeToString(bytes.Repeat([]byte{0xab}, 32))
	tests := []struct {
		body string
		mime string
		want Inbound
		// field extracts the proto's media fields that must equal the ref.
		field func(*waE2E.Message) (url, path, mime string, key, fsha, fenc []byte, n uint64, ts int64)
	}{
		{`{"to":"1","type":"image","image":{"id":"x","caption":"cap"}}`, "image/jpeg",
			Inbound{Type: "image", Image: &InMedia{MimeType: "image/jpeg", SHA256: sha, Caption: "cap"}},
			func(m *waE2E.Message) (string, string, string, []byte, []byte, []byte, uint64, int64) {
				x := m.GetImageMessage()
				if x.GetWidth() != 640 || x.GetHeight() != 480 {
					t.Errorf("image size %dx%d", x.GetWidth(), x.GetHeight())
				}
				return x.GetURL(), x.GetDirectPath(), x.GetMimetype(), x.MediaKey, x.FileSHA256, x.FileEncSHA256, x.GetFileLength(), x.GetMediaKeyTimestamp()
			}},
		{`{"to":"1","type":"video","video":{"link":"https://a.example/v.mp4","caption":"v"}}`, "video/mp4",
			Inbound{Type: "video", Video: &InMedia{MimeType: "video/mp4", SHA256: sha, Caption: "v"}},
			func(m *waE2E.Message) (string, string, string, []byte, []byte, []byte, uint64, int64) {
				x := m.GetVideoMessage()
				return x.GetURL(), x.GetDirectPath(), x.GetMimetype(), x.MediaKey, x.FileSHA256, x.FileEncSHA256, x.GetFileLength(), x.GetMediaKeyTimestamp()
			}},
		{`{"to":"1","type":"audio","audio":{"id":"x"}}`, "audio/ogg; codecs=opus",
			Inbound{Type: "audio", Audio: &InMedia{MimeType: "audio/ogg; codecs=opus", SHA256: sha}},
			func(m *waE2E.Message) (string, string, string, []byte, []byte, []byte, uint64, int64) {
				x := m.GetAudioMessage()
				if x.PTT != nil {
					t.Error("sent audio must not be a voice note")
				}
				return x.GetURL(), x.GetDirectPath(), x.GetMimetype(), x.MediaKey, x.FileSHA256, x.FileEncSHA256, x.GetFileLength(), x.GetMediaKeyTimestamp()
			}},
		{`{"to":"1","type":"sticker","sticker":{"id":"x"}}`, "image/webp",
			Inbound{Type: "sticker", Sticker: &InMedia{MimeType: "image/webp", SHA256: sha}},
			func(m *waE2E.Message) (string, string, string, []byte, []byte, []byte, uint64, int64) {
				x := m.GetStickerMessage()
				return x.GetURL(), x.GetDirectPath(), x.GetMimetype(), x.MediaKey, x.FileSHA256, x.FileEncSHA256, x.GetFileLength(), x.GetMediaKeyTimestamp()
			}},
		{`{"to":"1","type":"document","document":{"id":"x","filename":"invoice.pdf"}}`, "application/pdf",
			Inbound{Type: "document", Document: &InMedia{MimeType: "application/pdf", SHA256: sha, Filename: "invoice.pdf"}},
			func(m *waE2E.Message) (string, string, string, []byte, []byte, []byte, uint64, int64) {
				x := m.GetDocumentMessage()
				if x.GetTitle() != "invoice.pdf" {
					t.Errorf("title %q", x.GetTitle())
				}
				return x.GetURL(), x.GetDirectPath(), x.GetMimetype(), x.MediaKey, x.FileSHA256, x.FileEncSHA256, x.GetFileLength(), x.GetMediaKeyTimestamp()
			}},
		{`{"to":"1","type":"document","document":{"id":"x","filename":"invoice.pdf","caption":"March"}}`, "application/pdf",
			Inbound{Type: "document", Document: &InMedia{MimeType: "application/pdf", SHA256: sha, Filename: "invoice.pdf", Caption: "March"}},
			func(m *waE2E.Message) (string, string, string, []byte, []byte, []byte, uint64, int64) {
				x := m.GetDocumentWithCaptionMessage().GetMessage().GetDocumentMessage()
				if x == nil || m.DocumentMessage != nil {
					t.Errorf("a captioned document must be wrapped: %v", m)
				}
				return x.GetURL(), x.GetDirectPath(), x.GetMimetype(), x.MediaKey, x.FileSHA256, x.FileEncSHA256, x.GetFileLength(), x.GetMediaKeyTimestamp()
			}},
	}
	for _, tc := range tests {
		t.Run(tc.want.Type, func(t *testing.T) {
			o := mustDecode(t, tc.body)
			if _, err := ToProto(o, nil); !errors.Is(err, ErrNeedMedia) {
				t.Fatalf("without media: %v", err)
			}
			ref := testRef(tc.mime)
			m := wire(t, o, ref)
			url, path, mime, key, fsha, fenc, n, ts := tc.field(m)
			if url != ref.URL || path != ref.DirectPath || mime != ref.MimeType || !bytes.Equal(key, ref.MediaKey) ||
				!bytes.Equal(fsha, ref.FileSHA256) || !bytes.Equal(fenc, ref.FileEncSHA256) || n != ref.FileLength ||
				ts != ref.MediaKeyTimestamp {
				t.Fatalf("media fields lost: %v", m)
			}
			if in := inbound(t, m); !reflect.DeepEqual(*in, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", *in, tc.want)
			}
		})
	}
}

func TestVoice(t *testing.T) {
	m := &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String("audio/ogg; codecs=opus"), PTT: proto.Bool(true)}}
	in := inbound(t, m)
	if in.Type != "voice" || in.Voice == nil || in.Audio != nil || in.Voice.MimeType != "audio/ogg; codecs=opus" {
		t.Fatalf("got %+v", in)
	}
}

func TestRoundTripLocation(t *testing.T) {
	o := mustDecode(t, `{"to":"1","type":"location","location":{"latitude":38.9806263495,"longitude":"-131.9428612257","name":"Beach","address":"Main St"}}`)
	m := wire(t, o, nil)
	l := m.GetLocationMessage()
	if l.GetDegreesLatitude() != 38.9806263495 || l.GetDegreesLongitude() != -131.9428612257 || l.GetName() != "Beach" || l.GetAddress() != "Main St" {
		t.Fatalf("got %v", m)
	}
	in := inbound(t, m)
	want := &Location{Latitude: Coord(38.9806263495), Longitude: Coord(-131.9428612257), Name: "Beach", Address: "Main St"}
	if in.Type != "location" || !reflect.DeepEqual(in.Location, want) {
		t.Fatalf("got %+v", in.Location)
	}
}

var fullCard = ContactCard{
	Addresses: []Address{{Street: "1 Hacker Way", City: "Menlo Park", State: "CA", Zip: "94025",
		Country: "United States", CountryCode: "us", Type: "HOME"}},
	Birthday: "2012-08-18",
	Emails:   []Email{{Email: "test@fb.com", Type: "WORK"}, {Email: "test@whatsapp.com", Type: "HOME"}},
	Name: &Name{FormattedName: "Dr. John A. Smith, Jr.", FirstName: "John", LastName: "Smith",
		MiddleName: "A.", Suffix: "Jr.", Prefix: "Dr."},
	Org:    &Org{Company: "WhatsApp, Inc.", Department: "Design; UX", Title: "Manager"},
	Phones: []Phone{{Phone: "+1 (940) 555-1234", Type: "HOME"}, {Phone: "+1 (650) 555-1234", Type: "WORK", WAID: "16505551234"}},
	URLs:   []URL{{URL: "https://www.facebook.com", Type: "WORK"}},
}

func TestRoundTripContacts(t *testing.T) {
	one := &Outgoing{To: "1", Type: "contacts", Contacts: []ContactCard{fullCard}}
	m := wire(t, one, nil)
	if m.GetContactMessage().GetDisplayName() != fullCard.Name.FormattedName {
		t.Fatalf("got %v", m)
	}
	in := inbound(t, m)
	if in.Type != "contacts" || !reflect.DeepEqual(in.Contacts, []ContactCard{fullCard}) {
		t.Fatalf("got  %+v\nwant %+v", in.Contacts, fullCard)
	}

	second := ContactCard{Name: &Name{FormattedName: "Ann"}, Phones: []Phone{{Phone: "+44 20 7946 0000", WAID: "442079460000"}}}
	two := &Outgoing{To: "1", Type: "contacts", Contacts: []ContactCard{fullCard, second}}
	m = wire(t, two, nil)
	arr := m.GetContactsArrayMessage()
	if arr == nil || len(arr.Contacts) != 2 || arr.GetDisplayName() != "2 contacts" || arr.Contacts[1].GetDisplayName() != "Ann" {
		t.Fatalf("got %v", m)
	}
	if in := inbound(t, m); !reflect.DeepEqual(in.Contacts, two.Contacts) {
		t.Fatalf("got  %+v\nwant %+v", in.Contacts, two.Contacts)
	}
}

// Interactive messages and templates go to users; a user cannot send them
// back, so a received one is "unknown" as on On-Prem. What crosses the wire
// is asserted on the proto.
func checkUnknown(t *testing.T, m *waE2E.Message) {
	t.Helper()
	in := inbound(t, m)
	if in.Type != "unknown" || !reflect.DeepEqual(in.Errors, []Error{UnsupportedError()}) {
		t.Fatalf("got %+v", in)
	}
}

func TestRoundTripButtons(t *testing.T) {
	o := mustDecode(t, validBodies["button"])
	if _, err := ToProto(o, nil); !errors.Is(err, ErrNeedMedia) {
		t.Fatalf("media header without media: %v", err)
	}
	m := wire(t, o, testRef("image/png"))
	b := m.GetButtonsMessage()
	if b.GetContentText() != "b" || b.GetFooterText() != "f" || b.GetHeaderType() != waE2E.ButtonsMessage_IMAGE ||
		b.GetImageMessage().GetMimetype() != "image/png" || len(b.Buttons) != 2 {
		t.Fatalf("got %v", m)
	}
	for i, want := range [][2]string{{"1", "Yes"}, {"2", "No"}} {
		btn := b.Buttons[i]
		if btn.GetButtonID() != want[0] || btn.GetButtonText().GetDisplayText() != want[1] || btn.GetType() != waE2E.ButtonsMessage_Button_RESPONSE {
			t.Fatalf("button %d: %v", i, btn)
		}
	}
	checkUnknown(t, m)

	text := mustDecode(t, `{"to":"1","type":"interactive","context":{"message_id":"q"},"interactive":{"type":"button","header":{"type":"text","text":"Hi"},
		"body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"Yes"}}]}}}`)
	b = wire(t, text, nil).GetButtonsMessage()
	if b.GetText() != "Hi" || b.GetHeaderType() != waE2E.ButtonsMessage_TEXT || b.GetContextInfo().GetStanzaID() != "q" {
		t.Fatalf("got %v", b)
	}
	doc := mustDecode(t, `{"to":"1","type":"interactive","interactive":{"type":"button","header":{"type":"document","document":{"id":"d","filename":"a.pdf"}},
		"body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"Yes"}}]}}}`)
	b = wire(t, doc, testRef("application/pdf")).GetButtonsMessage()
	if b.GetDocumentMessage().GetFileName() != "a.pdf" || b.GetHeaderType() != waE2E.ButtonsMessage_DOCUMENT {
		t.Fatalf("got %v", b)
	}
}

func TestRoundTripList(t *testing.T) {
	m := wire(t, mustDecode(t, validBodies["list"]), nil)
	l := m.GetListMessage()
	if l.GetTitle() != "h" || l.GetDescription() != "b" || l.GetButtonText() != "Pick" ||
		l.GetListType() != waE2E.ListMessage_SINGLE_SELECT || len(l.Sections) != 2 {
		t.Fatalf("got %v", m)
	}
	s := l.Sections[0]
	if s.GetTitle() != "s1" || len(s.Rows) != 1 || s.Rows[0].GetRowID() != "r1" || s.Rows[0].GetTitle() != "R1" || s.Rows[0].GetDescription() != "d" {
		t.Fatalf("got %v", s)
	}
	if r := l.Sections[1].Rows[0]; r.GetRowID() != "r2" || r.Description != nil {
		t.Fatalf("got %v", r)
	}
	checkUnknown(t, m)
}

func TestRoundTripProducts(t *testing.T) {
	m := wire(t, mustDecode(t, validBodies["product"]), nil)
	if p := m.GetProductMessage(); p.GetProduct().GetRetailerID() != "sku1" || p.Body != nil {
		t.Fatalf("got %v", m)
	}
	checkUnknown(t, m)

	m = wire(t, mustDecode(t, validBodies["product_list"]), nil)
	l := m.GetListMessage()
	secs := l.GetProductListInfo().GetProductSections()
	if l.GetListType() != waE2E.ListMessage_PRODUCT_LIST || l.GetTitle() != "h" || l.GetDescription() != "b" ||
		len(secs) != 1 || secs[0].GetTitle() != "s" || len(secs[0].Products) != 1 || secs[0].Products[0].GetProductID() != "sku1" {
		t.Fatalf("got %v", m)
	}
	checkUnknown(t, m)
}

func TestRoundTripTemplate(t *testing.T) {
	// Components out of order: the parameters still flatten as header,
	// body, buttons by index.
	o := mustDecode(t, `{"to":"1","type":"template","template":{"namespace":"ns","name":"t","language":{"policy":"deterministic","code":"en_US"},
		"components":[
		{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"sfx"}]},
		{"type":"body","parameters":[{"type":"text","text":"Jane"},
		  {"type":"currency","currency":{"fallback_value":"$100.99","code":"USD","amount_1000":100990}},
		  {"type":"date_time","date_time":{"fallback_value":"Feb 25","day_of_week":"5","year":1977,"calendar":"GREGORIAN"}},
		  {"type":"date_time","date_time":{"fallback_value":"then","timestamp":1485470276}},
		  {"type":"date_time","date_time":{"fallback_value":"plain"}}]},
		{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"p"}]},
		{"type":"header","parameters":[{"type":"image","image":{"link":"https://x.example/i.png"}}]}]}}`)
	m := wire(t, o, nil)
	h := m.GetHighlyStructuredMessage()
	if h.GetNamespace() != "ns" || h.GetElementName() != "t" || h.GetDeterministicLg() != "en" || h.GetDeterministicLc() != "US" ||
		h.FallbackLg != nil || h.HydratedHsm != nil || h.Params != nil {
		t.Fatalf("got %v", h)
	}
	var defaults []string
	for _, p := range h.LocalizableParams {
		defaults = append(defaults, p.GetDefault())
	}
	want := []string{"https://x.example/i.png", "Jane", "$100.99", "Feb 25", "then", "plain", "p", "sfx"}
	if !reflect.DeepEqual(defaults, want) {
		t.Fatalf("defaults %q, want %q", defaults, want)
	}
	lp := h.LocalizableParams
	if c := lp[2].GetCurrency(); c.GetCurrencyCode() != "USD" || c.GetAmount1000() != 100990 {
		t.Fatalf("currency %v", c)
	}
	c := lp[3].GetDateTime().GetComponent()
	if c.GetDayOfWeek() != waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent_FRIDAY ||
		c.GetYear() != 1977 || c.Month != nil || c.GetCalendar() != waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent_GREGORIAN {
		t.Fatalf("date component %v", c)
	}
	if ts := lp[4].GetDateTime().GetUnixEpoch().GetTimestamp(); ts != 1485470276 {
		t.Fatalf("unix epoch %d", ts)
	}
	if lp[5].DateTime != nil || lp[0].Currency != nil {
		t.Fatalf("unexpected typed parameters: %v", lp)
	}
	checkUnknown(t, m)
	if got := Render(m); got != "[template ns/t en_US] https://x.example/i.png | Jane | $100.99 | Feb 25 | then | plain | p | sfx" {
		t.Fatalf("Render %q", got)
	}
}

func TestRoundTripHSM(t *testing.T) {
	m := wire(t, mustDecode(t, validBodies["hsm"]), nil)
	h := m.GetHighlyStructuredMessage()
	if h.GetNamespace() != "ns" || h.GetElementName() != "e" || h.GetFallbackLg() != "de" || h.FallbackLc != nil ||
		h.DeterministicLg != nil || len(h.LocalizableParams) != 4 {
		t.Fatalf("got %v", h)
	}
	lp := h.LocalizableParams
	if lp[0].GetDefault() != "t" || lp[1].GetCurrency().GetCurrencyCode() != "USD" || lp[1].GetCurrency().GetAmount1000() != 1000 ||
		lp[2].GetDateTime().GetComponent().GetMonth() != 2 || lp[3].GetDateTime().GetUnixEpoch().GetTimestamp() != 1485470276 {
		t.Fatalf("got %v", lp)
	}
	checkUnknown(t, m)

	legacy := wire(t, mustDecode(t, validBodies["hsm legacy language"]), nil).GetHighlyStructuredMessage()
	if legacy.GetFallbackLg() != "en" || legacy.GetFallbackLc() != "US" {
		t.Fatalf("got %v", legacy)
	}
}

func TestRoundTripReaction(t *testing.T) {
	for _, emoji := range []string{"👍", ""} {
		o := &Outgoing{To: "1", Type: "reaction", Reaction: &Reaction{MessageID: "gBE1", Emoji: emoji}}
		m := wire(t, o, nil)
		r := m.GetReactionMessage()
		if r.GetKey().GetID() != "gBE1" || r.Text == nil || r.GetText() != emoji {
			t.Fatalf("got %v", m)
		}
		in := inbound(t, m)
		if in.Type != "reaction" || *in.Reaction != *o.Reaction {
			t.Fatalf("got %+v", in)
		}
	}
}

func TestToProtoChecksContent(t *testing.T) {
	// ToProto does not need "to" but rejects what Validate rejects in
	// the content.
	if _, err := ToProto(&Outgoing{Text: &Text{Body: "x"}}, nil); err != nil {
		t.Fatalf("no to: %v", err)
	}
	_, err := ToProto(&Outgoing{Type: "image", Image: &Media{}}, testRef("image/jpeg"))
	checkError(t, err, 1008, "Atleast one of the following parameters must be present: image.id, image.link")
	_, err = ToProto(nil, nil)
	checkError(t, err, 1025, "No message")
}
