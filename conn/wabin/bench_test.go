package wabin

import (
	"math/rand/v2"
	"testing"
)

// benchMessage is a typical outgoing <message>: a pkmsg fan-out to three
// devices, ~200 bytes of ciphertext each.
func benchMessage() Node {
	r := rand.New(rand.NewPCG(7, 7))
	to := make([]Node, 3)
	for i := range to {
		ct := make([]byte, 200)
		for j := range ct {
			ct[j] = byte(r.UintN(256))
		}
		to[i] = Node{
			Tag:   "to",
			Attrs: Attrs{"jid": JID{User: "15551234567", Device: uint16(i + 1), Server: DefaultUserServer}},
			Content: []Node{{
				Tag:     "enc",
				Attrs:   Attrs{"v": "2", "type": "msg"},
				Content: ct,
			}},
		}
	}
	return Node{
		Tag: "message",
		Attrs: Attrs{
			"id":   "3EB0C767D26A1A5B6CB0",
			"to":   NewJID("15557654321", DefaultUserServer),
			"type": "text",
			"t":    "1767225600",
		},
		Content: []Node{{Tag: "participants", Content: to}},
	}
}

func BenchmarkMarshalMessage(b *testing.B) {
	n := benchMessage()
	enc, err := Marshal(n)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Marshal(n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalMessage(b *testing.B) {
	enc, err := Marshal(benchMessage())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Unmarshal(enc); err != nil {
			b.Fatal(err)
		}
	}
}
