package content

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/waent/waent/waproto/waE2E"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// compact strips the layout of a documented example so that it can be
// compared with encoding/json output byte for byte.
func compact(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webhook is the envelope of an inbound-message callback (§6); only the
// test needs it here.
type webhook struct {
	Contacts []webhookContact `json:"contacts,omitempty"`
	Messages []*Inbound       `json:"messages"`
}

type webhookContact struct {
	Profile struct {
		Name string `json:"name"`
	} `json:"profile"`
	WAID string `json:"wa_id"`
}

// The example of onprem-api.md §6, "Inbound message".
func TestInboundTextMatchesDocs(t *testing.T) {
	const doc = `{"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551234"}],
 "messages":[{"from":"16315551234","id":"ABGGFlA5FpafAgo6tHcNmNjXmuSf","timestamp":"1518694235",
              "type":"text","text":{"body":"Hello this is an answer"}}]}`
	in := inbound(t, &waE2E.Message{Conversation: proto.String("Hello this is an answer")})
	in.From, in.ID, in.Timestamp = "16315551234", "ABGGFlA5FpafAgo6tHcNmNjXmuSf", "1518694235"
	c := webhookContact{WAID: "16315551234"}
	c.Profile.Name = "Kerry Fisher"
	got := marshal(t, webhook{Contacts: []webhookContact{c}, Messages: []*Inbound{in}})
	if want := compact(t, doc); !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// §6 gives the location object's fields in the order latitude, longitude,
// name, address, url.
func TestInboundLocationMatchesDocs(t *testing.T) {
	const doc = `{"from":"16315551234","id":"ABGGFlA5FpafAgo6tHcNmNjXmuSf","timestamp":"1521497875","type":"location",
	"location":{"latitude":38.9806263495,"longitude":-131.9428612257,"name":"Main Street Beach",
	"address":"Main Street Beach, Santa Cruz, CA","url":"https://foursquare.com/v/4d7031d35b5df7744"}}`
	in := inbound(t, &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
		DegreesLatitude: proto.Float64(38.9806263495), DegreesLongitude: proto.Float64(-131.9428612257),
		Name: proto.String("Main Street Beach"), Address: proto.String("Main Street Beach, Santa Cruz, CA"),
		URL: proto.String("https://foursquare.com/v/4d7031d35b5df7744"),
	}})
	in.From, in.ID, in.Timestamp = "16315551234", "ABGGFlA5FpafAgo6tHcNmNjXmuSf", "1521497875"
	if got, want := marshal(t, in), compact(t, doc); !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// The "System message" example of §6; system messages are built by the
// caller, not decoded from a chat message.
func TestInboundSystemMatchesDocs(t *testing.T) {
	const doc = `{"messages":[{"from":"16315551234","id":"..","timestamp":"..","type":"system",
  "system":{"body":"User A changed from 16315551234 to 16315550000","new_wa_id":"16315550000","type":"user_changed_number"}}]}`
	in := &Inbound{From: "16315551234", ID: "..", Timestamp: "..", Type: "system", System: &System{
		Body: "User A changed from 16315551234 to 16315550000", NewWAID: "16315550000", Type: "user_changed_number",
	}}
	if got, want := marshal(t, webhook{Messages: []*Inbound{in}}), compact(t, doc); !bytes.Equal(got, want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestInboundUnknownShape(t *testing.T) {
	// Field 49 (a poll upstream) is not declared here.
	var m waE2E.Message
	if err := proto.Unmarshal([]byte{0x8a, 0x03, 0x02, 0x0a, 0x00}, &m); err != nil {
		t.Fatal(err)
	}
	in := inbound(t, &m)
	in.From, in.ID, in.Timestamp = "1", "A", "2"
	want := `{"from":"1","id":"A","timestamp":"2","type":"unknown","errors":[{"code":501,"title":"Unsupported message type","details":"Message type is not currently supported"}]}`
	if got := marshal(t, in); string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestInboundReplies(t *testing.T) {
	ctx := &waE2E.ContextInfo{StanzaID: proto.String("gBGG"), Participant: proto.String("15550001111@s.whatsapp.net")}
	tests := []struct {
		name string
		m    *waE2E.Message
		want string
	}{
		{"template button", &waE2E.Message{TemplateButtonReplyMessage: &waE2E.TemplateButtonReplyMessage{
			SelectedID: proto.String("pay-1"), SelectedDisplayText: proto.String("Pay now"), ContextInfo: ctx, SelectedIndex: proto.Uint32(0)}},
			`{"type":"button","context":{"from":"15550001111","id":"gBGG"},"button":{"payload":"pay-1","text":"Pay now"}}`},
		{"interactive button", &waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{
			SelectedButtonID: proto.String("1"), SelectedDisplayText: proto.String("Yes"), ContextInfo: ctx,
			Type: waE2E.ButtonsResponseMessage_DISPLAY_TEXT.Enum()}},
			`{"type":"interactive","context":{"from":"15550001111","id":"gBGG"},"interactive":{"type":"button_reply","button_reply":{"id":"1","title":"Yes"}}}`},
		{"list", &waE2E.Message{ListResponseMessage: &waE2E.ListResponseMessage{
			Title: proto.String("R1"), Description: proto.String("d"), ListType: waE2E.ListResponseMessage_SINGLE_SELECT.Enum(),
			SingleSelectReply: &waE2E.ListResponseMessage_SingleSelectReply{SelectedRowID: proto.String("r1")}, ContextInfo: ctx}},
			`{"type":"interactive","context":{"from":"15550001111","id":"gBGG"},"interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"R1","description":"d"}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := marshal(t, inbound(t, tc.m)); string(got) != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestInboundContext(t *testing.T) {
	m := &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("@1555 look"), ContextInfo: &waE2E.ContextInfo{
		RemoteJID:    proto.String("1555-1600000000@g.us"),
		MentionedJID: []string{"1555@s.whatsapp.net", "1666:2@s.whatsapp.net"},
		IsForwarded:  proto.Bool(true), ForwardingScore: proto.Uint32(FrequentlyForwardedScore),
	}}}
	want := &InContext{GroupID: "1555-1600000000", Mentions: []string{"1555", "1666"}, Forwarded: true, FrequentlyForwarded: true}
	if got := inbound(t, m).Context; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	ContextInfoOf(m).ForwardingScore = proto.Uint32(FrequentlyForwardedScore - 1)
	if inbound(t, m).Context.FrequentlyForwarded {
		t.Fatal("score below the threshold reported as frequently forwarded")
	}
	// An empty ContextInfo is no context.
	m = &waE2E.Message{ImageMessage: &waE2E.ImageMessage{ContextInfo: &waE2E.ContextInfo{}}}
	if c := inbound(t, m).Context; c != nil {
		t.Fatalf("got %+v", c)
	}
}

func wrapIn(m *waE2E.Message, n int) *waE2E.Message {
	for i := range n {
		switch i % 4 {
		case 0:
			m = &waE2E.Message{EphemeralMessage: &waE2E.FutureProofMessage{Message: m}}
		case 1:
			m = &waE2E.Message{ViewOnceMessage: &waE2E.FutureProofMessage{Message: m}}
		case 2:
			m = &waE2E.Message{ViewOnceMessageV2: &waE2E.FutureProofMessage{Message: m}}
		default:
			m = &waE2E.Message{DeviceSentMessage: &waE2E.DeviceSentMessage{Message: m, DestinationJID: proto.String("1@s.whatsapp.net")}}
		}
	}
	return m
}

func TestFromProtoUnwraps(t *testing.T) {
	img := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("c")}}
	for n := 1; n <= maxWrapDepth-1; n++ {
		in := inbound(t, wrapIn(img, n))
		if in.Type != "image" || in.Image.Caption != "c" {
			t.Fatalf("depth %d: got %+v", n, in)
		}
	}
	if in := inbound(t, wrapIn(img, maxWrapDepth+1)); in.Type != "unknown" {
		t.Fatalf("over-deep nesting: got %+v", in)
	}
	if _, err := FromProto(wrapIn(nil, 2)); !errors.Is(err, ErrNoContent) {
		t.Fatalf("empty wrapper: %v", err)
	}
}

func TestFromProtoNoContent(t *testing.T) {
	revoke := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(), Key: &waE2E.MessageKey{ID: proto.String("gone"), FromMe: proto.Bool(true)}}}
	for name, m := range map[string]*waE2E.Message{
		"nil":   nil,
		"empty": {},
		"skdm only": {SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{GroupID: proto.String("g@g.us")},
			MessageContextInfo: &waE2E.MessageContextInfo{}},
		"revoke":    revoke,
		"ephemeral": {ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum()}},
		"wrapped":   wrapIn(revoke, 1),
	} {
		if in, err := FromProto(m); !errors.Is(err, ErrNoContent) || in != nil {
			t.Errorf("%s: got %+v, %v", name, in, err)
		}
	}
	if id, ok := Revoked(wrapIn(revoke, 1)); !ok || id != "gone" {
		t.Fatalf("Revoked: %q %v", id, ok)
	}
	// REVOKE is the enum's zero value: an absent type is not a revoke.
	if _, ok := Revoked(&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Key: &waE2E.MessageKey{ID: proto.String("x")}}}); ok {
		t.Fatal("protocol message without a type taken for a revoke")
	}
	if _, ok := Revoked(&waE2E.Message{Conversation: proto.String("x")}); ok {
		t.Fatal("text taken for a revoke")
	}
	// Content next to a sender key distribution is content.
	if in := inbound(t, &waE2E.Message{Conversation: proto.String("hi"),
		SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}}); in.Type != "text" {
		t.Fatalf("got %+v", in)
	}
}

func TestFromProtoUnsupported(t *testing.T) {
	var unknownField []byte
	unknownField = protowire.AppendTag(unknownField, 49, protowire.BytesType) // poll upstream
	unknownField = protowire.AppendBytes(unknownField, nil)
	var poll waE2E.Message
	if err := proto.Unmarshal(unknownField, &poll); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*waE2E.Message{
		"undeclared field": &poll,
		"edit": {ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
			EditedMessage: &waE2E.Message{Conversation: proto.String("fixed")}}},
		"empty contacts array": {ContactsArrayMessage: &waE2E.ContactsArrayMessage{}},
		"interactive":          {InteractiveMessage: &waE2E.InteractiveMessage{}},
		"native flow reply":    {InteractiveResponseMessage: &waE2E.InteractiveResponseMessage{}},
		"hydrated template":    {TemplateMessage: &waE2E.TemplateMessage{}},
	} {
		t.Run(name, func(t *testing.T) { checkUnknown(t, m) })
	}
}

func TestFromProtoContactFallsBackToDisplayName(t *testing.T) {
	for _, vcard := range []string{"", "BEGIN:VCARD\r\nVERSION:3.0\r\nTEL;waid=1555:+1 555\r\nEND:VCARD\r\n"} {
		in := inbound(t, &waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: proto.String("Bo"), Vcard: proto.String(vcard)}})
		if len(in.Contacts) != 1 || in.Contacts[0].Name.FormattedName != "Bo" {
			t.Fatalf("got %+v", in.Contacts)
		}
	}
}

func TestRender(t *testing.T) {
	s := proto.String
	tests := []struct {
		m    *waE2E.Message
		want string
	}{
		{nil, ""},
		{&waE2E.Message{Conversation: s("hi")}, "hi"},
		{&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: s("see x")}}, "see x"},
		{&waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: s("cat")}}, "[image] cat"},
		{&waE2E.Message{VideoMessage: &waE2E.VideoMessage{}}, "[video]"},
		{&waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true)}}, "[voice]"},
		{&waE2E.Message{AudioMessage: &waE2E.AudioMessage{}}, "[audio]"},
		{wrapIn(&waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{FileName: s("a.pdf"), Caption: s("March")}}, 1), "[document a.pdf] March"},
		{&waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}, "[sticker]"},
		{&waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(52.52), DegreesLongitude: proto.Float64(13.405),
			Name: s("Mitte"), Address: s("Berlin")}}, "[location 52.52,13.405] Mitte, Berlin"},
		{&waE2E.Message{ContactMessage: &waE2E.ContactMessage{DisplayName: s("Ann")}}, "[contact] Ann"},
		{&waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{Contacts: []*waE2E.ContactMessage{
			{DisplayName: s("Ann")}, {DisplayName: s("Bo")}}}}, "[contacts] Ann, Bo"},
		{&waE2E.Message{TemplateButtonReplyMessage: &waE2E.TemplateButtonReplyMessage{SelectedDisplayText: s("Pay")}}, "Pay"},
		{&waE2E.Message{ButtonsResponseMessage: &waE2E.ButtonsResponseMessage{SelectedDisplayText: s("Yes")}}, "Yes"},
		{&waE2E.Message{ListResponseMessage: &waE2E.ListResponseMessage{Title: s("R1")}}, "R1"},
		{&waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: s("👍")}}, "[reaction 👍]"},
		{&waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: s("")}}, "[reaction removed]"},
		{&waE2E.Message{HighlyStructuredMessage: &waE2E.HighlyStructuredMessage{Namespace: s("ns"), ElementName: s("e"),
			FallbackLg: s("de"), LocalizableParams: []*waE2E.HighlyStructuredMessage_HSMLocalizableParameter{{Default: s("a")}, {Default: s("b")}}}},
			"[template ns/e de] a | b"},
		{&waE2E.Message{TemplateMessage: &waE2E.TemplateMessage{HydratedTemplate: &waE2E.TemplateMessage_HydratedFourRowTemplate{
			HydratedTitleText: s("T"), HydratedContentText: s("Body")}}}, "T\nBody"},
		{&waE2E.Message{ButtonsMessage: &waE2E.ButtonsMessage{Text: s("H"), ContentText: s("B"), FooterText: s("F"),
			Buttons: []*waE2E.ButtonsMessage_Button{{ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: s("Yes")}},
				{ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: s("No")}}}}}, "H\nB\nF\n[Yes] [No]"},
		{&waE2E.Message{ListMessage: &waE2E.ListMessage{Title: s("H"), Description: s("B"), ButtonText: s("Pick")}}, "H\nB\n[Pick]"},
		{&waE2E.Message{ListMessage: &waE2E.ListMessage{Description: s("B"), ListType: waE2E.ListMessage_PRODUCT_LIST.Enum(),
			ProductListInfo: &waE2E.ListMessage_ProductListInfo{ProductSections: []*waE2E.ListMessage_ProductSection{
				{Products: []*waE2E.ListMessage_Product{{}, {}}}, {Products: []*waE2E.ListMessage_Product{{}}}}}}}, "B\n[3 products]"},
		{&waE2E.Message{ProductMessage: &waE2E.ProductMessage{Product: &waE2E.ProductMessage_ProductSnapshot{RetailerID: s("sku")}, Body: s("B")}},
			"[product sku]\nB"},
		{&waE2E.Message{InteractiveMessage: &waE2E.InteractiveMessage{Body: &waE2E.InteractiveMessage_Body{Text: s("B")}}}, "B"},
		{&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum()}}, "[deleted]"},
		{&waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
			EditedMessage: &waE2E.Message{Conversation: s("fixed")}}}, "[edited] fixed"},
		{&waE2E.Message{SenderKeyDistributionMessage: &waE2E.SenderKeyDistributionMessage{}}, ""},
		{wrapIn(&waE2E.Message{Conversation: s("deep")}, maxWrapDepth+1), "[unsupported message]"},
	}
	for _, tc := range tests {
		if got := Render(tc.m); got != tc.want {
			t.Errorf("Render(%v) = %q, want %q", tc.m, got, tc.want)
		}
	}
	// Edits nested in edits stop rather than recurse without end.
	m := &waE2E.Message{Conversation: s("x")}
	for range 3 * maxWrapDepth {
		m = &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(), EditedMessage: m}}
	}
	if got := Render(m); len(got) == 0 || len(got) > 20*maxWrapDepth {
		t.Fatalf("nested edits rendered as %q", got)
	}
}
