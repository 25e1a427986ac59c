package content

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/waent/waent/waproto/waE2E"
	"google.golang.org/protobuf/proto"
)

// The seed corpora live in testdata/fuzz/<target>; the seeds added here
// are the few that make each target meaningful without them.

// FuzzFromProto feeds arbitrary bytes, as a peer could send them after
// decryption, to FromProto, Render and Revoked: they must not panic, and a
// webhook entry must always encode.
func FuzzFromProto(f *testing.F) {
	for _, m := range []*waE2E.Message{
		{Conversation: proto.String("hi")},
		{ImageMessage: &waE2E.ImageMessage{Caption: proto.String("c"), ContextInfo: &waE2E.ContextInfo{StanzaID: proto.String("q")}}},
		{ContactMessage: &waE2E.ContactMessage{Vcard: proto.String(VCard(&fullCard))}},
		wrapIn(&waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true)}}, 3),
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m waE2E.Message
		if proto.Unmarshal(b, &m) != nil {
			return
		}
		_ = Render(&m)
		if id, ok := Revoked(&m); ok && id == "" {
			t.Fatal("revoke without an id")
		}
		in, err := FromProto(&m)
		if err != nil {
			if !errors.Is(err, ErrNoContent) || in != nil {
				t.Fatalf("got %+v, %v", in, err)
			}
			return
		}
		if in == nil || in.Type == "" {
			t.Fatalf("got %+v", in)
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("webhook entry does not encode: %v", err)
		}
	})
}

// FuzzDecodeOutgoing feeds arbitrary request bodies through the send
// path: decoding fails only with an On-Prem error, Validate returns nil or
// a documented code, and whatever Validate accepts ToProto turns into a
// message that decodes back to something a phone can show.
func FuzzDecodeOutgoing(f *testing.F) {
	f.Add([]byte(`{"to":"1","text":{"body":"hi"}}`))
	f.Add([]byte(validBodies["template"]))
	f.Add([]byte(validBodies["list"]))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOutgoing(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || o != nil || (e.Code != CodeInvalidRequest && e.Code != CodeInvalidParameter) {
				t.Fatalf("got %+v, %v", o, err)
			}
			return
		}
		if o.To == "" {
			o.To = "1" // reach the content checks
		}
		if err := o.Validate(); err != nil {
			var e *Error
			if !errors.As(err, &e) || titles[e.Code] == "" || e.Details == "" {
				t.Fatalf("got %#v", err)
			}
			return
		}
		m, err := ToProto(o, testRef("application/octet-stream"))
		if err != nil {
			t.Fatalf("ToProto rejected what Validate accepted: %v", err)
		}
		wireBytes, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got waE2E.Message
		if err := proto.Unmarshal(wireBytes, &got); err != nil {
			t.Fatal(err)
		}
		if Render(&got) == "" {
			t.Fatalf("valid %s message renders as nothing", o.Kind())
		}
		in, err := FromProto(&got)
		if err != nil {
			t.Fatalf("valid %s message: FromProto: %v", o.Kind(), err)
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseVCard checks that parsing never panics and that one render and
// parse normalises a card: a second round changes nothing.
func FuzzParseVCard(f *testing.F) {
	f.Add(VCard(&fullCard))
	f.Add("BEGIN:VCARD\nitem1.TEL;waid=1:+1\nitem1.X-ABLabel:Mobile\nEND:VCARD\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseVCard(s)
		if err != nil {
			return
		}
		c2, err := ParseVCard(VCard(c))
		if err != nil {
			t.Fatalf("own output does not parse: %v", err)
		}
		c3, err := ParseVCard(VCard(c2))
		if err != nil || !reflect.DeepEqual(c2, c3) {
			t.Fatalf("not a fixed point:\n%+v\n%+v (%v)", c2, c3, err)
		}
	})
}
