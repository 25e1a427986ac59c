package wabin

import "testing"

// TestTokenIndices pins the indices protocol.md §2.4 lists; the single-byte
// index is also the tag byte.
func TestTokenIndices(t *testing.T) {
	if DictVersion != 3 {
		t.Fatalf("DictVersion = %d", DictVersion)
	}
	if len(SingleByteTokens) != 236 || SingleByteTokens[0] != "" {
		t.Fatalf("SingleByteTokens: %d entries, [0] = %q", len(SingleByteTokens), SingleByteTokens[0])
	}
	single := map[int]string{
		3: "s.whatsapp.net", 4: "type", 5: "participant", 6: "from", 7: "receipt", 8: "id", 9: "notification",
		12: "jid", 14: "user", 15: "devices", 17: "to", 19: "message", 20: "result", 21: "class", 22: "xmlns",
		24: "notify", 25: "iq", 26: "t", 27: "ack", 28: "g.us", 29: "enc", 31: "presence", 37: "contact",
		41: "get", 42: "read", 43: "urn:xmpp:ping", 45: "0", 50: "skmsg", 54: "device-list", 58: "media_conn",
		59: "device", 65: "count", 69: "2", 76: "success", 77: "msg", 81: "v", 83: "pkmsg", 85: "1", 86: "ping",
		87: "w:p", 90: "set", 107: "participants", 108: "value", 113: "list", 118: "lid", 121: "usync",
		156: "identity", 157: "stream:error", 158: "key", 168: "error", 173: "registration", 198: "inactive",
		203: "encrypt", 212: "signature", 230: "device-identity",
	}
	for i, want := range single {
		if got := SingleByteTokens[i]; got != want {
			t.Errorf("SingleByteTokens[%d] = %q, want %q", i, got, want)
		}
		if code := tokenCodes[want]; code != uint16(i) {
			t.Errorf("tokenCodes[%q] = %#x, want %#x", want, code, i)
		}
	}
	double := []struct {
		dict, index int
		token       string
	}{
		{0, 1, "active"}, {0, 11, "retry"}, {0, 14, "conflict"}, {0, 17, "replaced"}, {0, 24, "passive"},
		{0, 37, "sender"}, {0, 45, "skey"}, {2, 60, "failure"},
	}
	for _, d := range double {
		if got := DoubleByteTokens[d.dict][d.index]; got != d.token {
			t.Errorf("DoubleByteTokens[%d][%d] = %q, want %q", d.dict, d.index, got, d.token)
		}
		if code, want := tokenCodes[d.token], uint16(0xEC+d.dict)<<8|uint16(d.index); code != want {
			t.Errorf("tokenCodes[%q] = %#x, want %#x", d.token, code, want)
		}
	}
}

func TestTokenTablesUnique(t *testing.T) {
	seen := map[string]bool{}
	for i, s := range singleByteTokens[1:] {
		if s == "" {
			t.Errorf("single-byte token %d is empty", i+1)
		}
		if seen[s] {
			t.Errorf("single-byte token %q repeated", s)
		}
		seen[s] = true
	}
	for d := range doubleByteTokens {
		for i, s := range doubleByteTokens[d] {
			if s == "" || seen[s] {
				t.Errorf("double-byte token %d/%d %q empty or repeated", d, i, s)
			}
			seen[s] = true
		}
	}
	if len(tokenCodes) != len(seen) {
		t.Errorf("tokenCodes has %d entries, tables %d", len(tokenCodes), len(seen))
	}
	if &SingleByteTokens[0] == &singleByteTokens[0] || SingleByteTokens != singleByteTokens || DoubleByteTokens != doubleByteTokens {
		t.Error("exported tables must be equal copies")
	}
}

// TestEveryTokenRoundTrips: each token encodes as its one or two bytes and
// decodes back, in every position a string can take.
func TestEveryTokenRoundTrips(t *testing.T) {
	all := append([]string{}, singleByteTokens[1:]...)
	for d := range doubleByteTokens {
		all = append(all, doubleByteTokens[d][:]...)
	}
	for _, s := range all {
		b, err := appendString(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		if code := tokenCodes[s]; (code < 0x100 && len(b) != 1) || (code >= 0x100 && len(b) != 2) {
			t.Errorf("%q encodes as %x", s, b)
		}
		roundTrip(t, Node{Tag: s, Attrs: Attrs{s: s, "to": NewJID(s, s)}, Content: s})
	}
}
