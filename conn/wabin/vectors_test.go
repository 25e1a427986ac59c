package wabin

import (
	"bytes"
	"reflect"
	"testing"
)

// The verified vectors of protocol.md §2.4: whatsmeow's output, including
// Marshal's leading 00 flag byte.
var vectors = []struct {
	name  string
	frame string
	node  Node
	exact bool // whether our encoding must match byte for byte
}{
	{
		name:  "ack",
		frame: "00 f8 03 1b 08 fb 05 3e b0 ab cd ef",
		node:  Node{Tag: "ack", Attrs: Attrs{"id": "3EB0ABCDEF"}},
		exact: true,
	},
	{
		name:  "to-enc",
		frame: "00 f8 04 11 0c f7 00 02 ff 86 15 55 12 34 56 7f f8 01 f8 04 1d 51 45 fc 03 01 02 03",
		node: Node{Tag: "to", Attrs: Attrs{"jid": JID{User: "15551234567", Device: 2, Server: DefaultUserServer}},
			Content: []Node{{Tag: "enc", Attrs: Attrs{"v": "2"}, Content: []byte{1, 2, 3}}}},
		exact: true, // one attribute per node, so map order cannot differ
	},
	{
		name:  "iq",
		frame: "00 f8 09 19 11 fa 00 03 08 55 16 57 04 29",
		node:  Node{Tag: "iq", Attrs: Attrs{"id": "1", "xmlns": "w:p", "type": "get", "to": ServerJID}},
	},
}

func TestVectorsDecode(t *testing.T) {
	for _, v := range vectors {
		frame := unhex(t, v.frame)
		got, err := Unmarshal(frame[1:])
		if err != nil {
			t.Fatalf("%s: Unmarshal: %v", v.name, err)
		}
		if want := normalize(v.node); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded\n%#v\nwant\n%#v", v.name, got, want)
		}
		viaUnpack, err := Unpack(frame)
		if err != nil {
			t.Fatalf("%s: Unpack: %v", v.name, err)
		}
		if !reflect.DeepEqual(viaUnpack, got) {
			t.Errorf("%s: Unpack and Unmarshal disagree", v.name)
		}
	}
}

func TestVectorsEncode(t *testing.T) {
	for _, v := range vectors {
		roundTrip(t, v.node)
		packed, err := Pack(v.node)
		if err != nil {
			t.Fatalf("%s: Pack: %v", v.name, err)
		}
		if packed[0] != 0 {
			t.Errorf("%s: flags byte %#x", v.name, packed[0])
		}
		if want := unhex(t, v.frame); v.exact && !bytes.Equal(packed, want) {
			t.Errorf("%s: Pack =\n%x\nwant\n%x", v.name, packed, want)
		}
	}
}

// TestIQCanonicalBytes pins our sorted attribute order for the iq vector:
// id, to, type, xmlns.
func TestIQCanonicalBytes(t *testing.T) {
	b, err := Pack(vectors[2].node)
	if err != nil {
		t.Fatal(err)
	}
	if want := unhex(t, "00 f8 09 19 08 55 11 fa 00 03 04 29 16 57"); !bytes.Equal(b, want) {
		t.Fatalf("Pack = %x, want %x", b, want)
	}
}

// TestTruncatedVectors: every proper prefix of every vector is an error.
func TestTruncatedVectors(t *testing.T) {
	for _, v := range vectors {
		body := unhex(t, v.frame)[1:]
		for i := range len(body) {
			mustReject(t, v.name, body[:i])
		}
	}
}

func TestEncodingDetails(t *testing.T) {
	cases := []struct {
		name string
		node Node
		want string
	}{
		{"empty content string is an empty nibble string", Node{Tag: "iq", Content: ""}, "f8 02 19 ff 00"},
		{"empty content bytes", Node{Tag: "iq", Content: []byte{}}, "f8 02 19 fc 00"},
		{"empty child list is LIST_EMPTY", Node{Tag: "iq", Content: []Node{}}, "f8 02 19 00"},
		{"double-byte token", Node{Tag: "failure"}, "f8 01 ee 3c"},
		{"nibble odd", Node{Tag: "iq", Attrs: Attrs{"id": "1-2.3"}}, "f8 03 19 08 ff 83 1a 2b 3f"},
		{"hex even", Node{Tag: "iq", Attrs: Attrs{"id": "ABCD"}}, "f8 03 19 08 fb 02 ab cd"},
		{"lowercase hex is binary", Node{Tag: "iq", Attrs: Attrs{"id": "abcd"}}, "f8 03 19 08 fc 04 61 62 63 64"},
		{"omitted attributes", Node{Tag: "iq", Attrs: Attrs{"id": "", "to": nil}}, "f8 01 19"},
		{"server JID", Node{Tag: "iq", Attrs: Attrs{"to": ServerJID}}, "f8 03 19 11 fa 00 03"},
		{"user JID", Node{Tag: "iq", Attrs: Attrs{"to": NewJID("15551234567", DefaultUserServer)}}, "f8 03 19 11 fa ff 86 15 55 12 34 56 7f 03"},
		{"string that looks like a JID stays a string", Node{Tag: "iq", Attrs: Attrs{"to": "s.whatsapp.net"}}, "f8 03 19 11 03"},
		{"lid device", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Device: 3, Server: HiddenUserServer}}}, "f8 03 19 11 f7 01 03 ff 82 12 3f"},
		{"hosted device 0", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Server: HostedServer}}}, "f8 03 19 11 f7 80 00 ff 82 12 3f"},
		{"hosted.lid", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Device: 1, Server: HostedLIDServer}}}, "f8 03 19 11 f7 81 01 ff 82 12 3f"},
		{"agent", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Agent: 5, Server: DefaultUserServer}}}, "f8 03 19 11 f7 05 00 ff 82 12 3f"},
		{"msgr", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Device: 0x102, Server: MessengerServer}}}, "f8 03 19 11 f6 ff 82 12 3f 01 02 cc"},
		{"interop", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Device: 1, Integrator: 0x203, Server: InteropServer}}}, "f8 03 19 11 f5 ff 82 12 3f 00 01 02 03 fc 07 69 6e 74 65 72 6f 70"},
		{"server-only lid is a pair", Node{Tag: "iq", Content: JID{Server: HiddenUserServer}}, "f8 02 19 fa 00 76"},
		{"server-only hosted is AD_JID", Node{Tag: "iq", Content: JID{Server: HostedServer}}, "f8 02 19 f7 80 00 ff 00"},
		{"server-only msgr is FB_JID", Node{Tag: "iq", Content: JID{Server: MessengerServer}}, "f8 02 19 f6 ff 00 00 00 cc"},
		{"server-only interop is INTEROP_JID", Node{Tag: "iq", Content: JID{Server: InteropServer}}, "f8 02 19 f5 ff 00 00 00 00 00 fc 07 69 6e 74 65 72 6f 70"},
		{"binary 20", Node{Tag: "iq", Content: make([]byte, 256)}, "f8 02 19 fd 00 01 00" + hexZeros(256)},
	}
	for _, c := range cases {
		b, err := Marshal(c.node)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if want := unhex(t, c.want); !bytes.Equal(b, want) {
			t.Errorf("%s: Marshal = %x, want %x", c.name, b, want)
		}
		roundTrip(t, c.node)
	}
}

func hexZeros(n int) string {
	return string(bytes.Repeat([]byte("00"), n))
}

// TestBinary32 covers the 32-bit length form, which only strings of 1 MiB
// and more use.
func TestBinary32(t *testing.T) {
	data := bytes.Repeat([]byte{0xA5}, 1<<20)
	b := roundTrip(t, Node{Tag: "iq", Content: data})
	if want := unhex(t, "f8 02 19 fe 00 10 00 00"); !bytes.HasPrefix(b, want) {
		t.Fatalf("prefix %x, want %x", b[:16], want)
	}
}
