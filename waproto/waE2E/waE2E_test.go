package waE2E

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
)

// The field numbers are the contract with real WhatsApp clients; these
// tests pin a few of them at the byte level so a renumbering in the .proto
// cannot slip through.

func TestConversationBytes(t *testing.T) {
	b, err := proto.Marshal(&Message{Conversation: proto.String("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x0a, 0x02, 0x68, 0x69}; !bytes.Equal(b, want) {
		t.Fatalf("got % x, want % x", b, want)
	}
}

func TestReactionField46(t *testing.T) {
	b, err := proto.Marshal(&Message{ReactionMessage: &ReactionMessage{Text: proto.String("x")}})
	if err != nil {
		t.Fatal(err)
	}
	// Field 46, wire type 2: (46<<3)|2 = 370 = varint f2 02; then the
	// length 3 and the inner text field (tag 0x12, length 1, "x").
	if want := []byte{0xf2, 0x02, 0x03, 0x12, 0x01, 'x'}; !bytes.Equal(b, want) {
		t.Fatalf("got % x, want % x", b, want)
	}
}

func TestUnknownFieldsRoundTrip(t *testing.T) {
	// Field 49 (pollCreationMessage upstream) is not declared: it must
	// survive a decode/encode cycle unchanged.
	in := []byte{0x0a, 0x02, 0x68, 0x69, 0x8a, 0x03, 0x02, 0x0a, 0x00}
	var m Message
	if err := proto.Unmarshal(in, &m); err != nil {
		t.Fatal(err)
	}
	out, err := proto.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("got % x, want % x", out, in)
	}
}
