package wabin

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// rejectCases are inputs (no flags byte) that Unmarshal must refuse. The
// first group are protocol.md §2.5's examples; whatsmeow panics on them or
// accepts them.
var rejectCases = []struct{ name, hex string }{
	// §2.5: whatsmeow panics
	{"tag is a JID", "f8 01 fa 00 03"},
	{"tag is nil", "f8 01 00"},
	{"tag is a list", "f8 01 f8 00"},
	{"JID_PAIR user is a list", "f8 03 19 08 fa f8 00 03"},
	{"AD_JID user is nil", "f8 03 19 08 f7 00 01 00"},
	// §2.5: whatsmeow accepts
	{"nibble 15 inside a string", "f8 03 19 08 ff 01 1f"},
	{"nibble 15 as the first nibble", "f8 03 19 08 ff 81 ff"},
	{"nibble 15 in an even string's last byte", "f8 03 19 08 ff 02 12 3f"},
	{"list claims 65535 children", "f8 02 19 f9 ff ff"},
	{"list claims 255 children", "f8 02 19 f8 ff f8 01 19"},
	{"list claims more children than bytes/3", "f8 02 19 f8 02 f8 01 19 f8"},
	// §2.5: whatsmeow errors too
	{"empty input", ""},
	{"truncated header", "f8"},
	{"truncated LIST_16 size", "f9 00"},
	{"truncated tag", "f8 01"},
	{"truncated attribute value", "f8 03 19 08"},
	{"truncated content", "f8 02 19"},
	{"truncated dictionary index", "f8 01 ec"},
	{"truncated packed string", "f8 03 19 08 ff 02 12"},
	{"truncated packed length", "f8 03 19 08 ff"},
	{"truncated JID_PAIR", "f8 03 19 11 fa 00"},
	{"truncated AD_JID", "f8 03 19 11 f7 00"},
	{"truncated FB_JID device", "f8 03 19 11 f6 ff 82 12 3f 00"},
	{"truncated INTEROP_JID integrator", "f8 03 19 11 f5 ff 82 12 3f 00 01 00"},
	{"truncated child", "f8 02 19 f8 01 f8 02 19"},
	{"attribute key is a JID", "f8 03 19 fa 00 03 08"},
	{"attribute key is a list", "f8 03 19 f8 00 08"},
	{"attribute key is nil", "f8 03 19 00 08"},
	{"unknown tag F0 as tag", "f8 01 f0"},
	{"unknown tag F1 as key", "f8 03 19 f1 08"},
	{"unknown tag F2 as value", "f8 03 19 08 f2"},
	{"unknown tag F3 as content", "f8 02 19 f3"},
	{"unknown tag F4 as JID user", "f8 03 19 11 fa f4 03"},
	{"nibble 12", "f8 03 19 08 ff 01 1c"},
	{"nibble 13", "f8 03 19 08 ff 01 d1"},
	{"nibble 14", "f8 03 19 08 ff 81 e0"},
	{"BINARY_8 beyond input", "f8 02 19 fc 05 01 02"},
	{"BINARY_20 beyond input", "f8 02 19 fd 0f ff ff 01"},
	{"BINARY_32 beyond input", "f8 02 19 fe ff ff ff ff 01"},
	{"BINARY_8 attribute beyond input", "f8 03 19 08 fc 02 01"},
	{"FB_JID with server s.whatsapp.net", "f8 03 19 11 f6 ff 82 12 3f 00 01 03"},
	{"INTEROP_JID with server msgr", "f8 03 19 11 f5 ff 82 12 3f 00 01 00 02 cc"},
	{"trailing byte", "f8 01 19 00"},
	{"trailing node", "f8 01 19 f8 01 19"},
	{"node list size 0", "f8 00"},
	{"node LIST_16 size 0", "f9 00 00"},
	{"root is LIST_EMPTY", "00"},
	{"root is a token", "19"},
	{"child list size 0 node", "f8 02 19 f8 01 f8 00 19"},
	// Ours.
	{"odd packed string of no bytes", "f8 03 19 08 ff 80"},
	{"nibble padding is not 15", "f8 03 19 08 ff 81 10"},
	{"hex padding is not 15", "f8 03 19 08 fb 81 a0"},
	{"empty tag (nibble)", "f8 01 ff 00"},
	{"empty tag (binary)", "f8 01 fc 00"},
	{"empty attribute key", "f8 03 19 fc 00 08"},
	{"duplicate attribute", "f8 05 19 08 55 08 45"},
	{"attribute value is a list", "f8 03 19 08 f8 00"},
	{"attribute value is a LIST_16", "f8 03 19 08 f9 00 00"},
	{"JID_PAIR server is nil", "f8 03 19 11 fa 00 00"},
	{"JID_PAIR server is empty", "f8 03 19 11 fa 00 fc 00"},
	{"JID_PAIR server is a JID", "f8 03 19 11 fa 00 fa 00 03"},
	{"JID_PAIR user is a JID", "f8 03 19 11 fa fa 00 03 03"},
	{"AD_JID device without user", "f8 03 19 11 f7 00 01 fc 00"},
	{"AD_JID agent without user", "f8 03 19 11 f7 05 00 ff 00"},
	{"FB_JID device without user", "f8 03 19 11 f6 ff 00 00 01 cc"},
	{"INTEROP_JID integrator without user", "f8 03 19 11 f5 ff 00 00 00 00 01 fc 07 69 6e 74 65 72 6f 70"},
	{"AD_JID user is a list", "f8 03 19 11 f7 00 01 f8 00"},
	{"FB_JID user is nil", "f8 03 19 11 f6 00 00 01 cc"},
	{"FB_JID user is a list", "f8 03 19 11 f6 f8 00 00 01 cc"},
	{"INTEROP_JID user is nil", "f8 03 19 11 f5 00 00 01 00 02 fc 07 69 6e 74 65 72 6f 70"},
	{"JID as node content with bad server", "f8 02 19 fa 00 00"},
	{"child is not a list", "f8 02 19 f8 01 19 19 19"},
	{"child is LIST_EMPTY", "f8 02 19 f8 01 00 19 19"},
	{"child is a JID", "f8 02 19 f8 01 fa 00 03"},
}

func TestReject(t *testing.T) {
	for _, c := range rejectCases {
		mustReject(t, c.name, unhex(t, c.hex))
	}
}

// TestRejectTruncationIsUnexpectedEOF lets a stream reader tell "need more
// bytes" from garbage.
func TestRejectTruncationIsUnexpectedEOF(t *testing.T) {
	_, err := Unmarshal(unhex(t, "f8 03 19 08"))
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrInvalidNode) {
		t.Fatalf("err = %v", err)
	}
}

// TestAccept lists edge cases that are valid and must decode.
func TestAccept(t *testing.T) {
	cases := []struct {
		name, hex string
		want      Node
	}{
		{"hex nibble 15 is F", "f8 03 19 08 fb 01 ff", Node{Tag: "iq", Attrs: Attrs{"id": "FF"}}},
		{"hex odd with padding", "f8 03 19 08 fb 81 ff", Node{Tag: "iq", Attrs: Attrs{"id": "F"}}},
		{"empty nibble string content", "f8 02 19 ff 00", Node{Tag: "iq", Content: []byte{}}},
		{"nil attribute value is absent", "f8 03 19 08 00", Node{Tag: "iq"}},
		{"empty attribute value is absent", "f8 03 19 08 fc 00", Node{Tag: "iq"}},
		{"LIST_EMPTY content", "f8 02 19 00", Node{Tag: "iq", Content: []Node{}}},
		{"LIST_8 size 0 content", "f8 02 19 f8 00", Node{Tag: "iq", Content: []Node{}}},
		{"LIST_16 header", "f9 00 01 19", Node{Tag: "iq"}},
		{"BINARY_20 top nibble masked", "f8 02 19 fd f0 00 01 61", Node{Tag: "iq", Content: []byte("a")}},
		{"JID_PAIR with binary empty user", "f8 03 19 11 fa fc 00 03", Node{Tag: "iq", Attrs: Attrs{"to": ServerJID}}},
		{"AD_JID device 0 is a plain user", "f8 03 19 11 f7 00 00 ff 82 12 3f", Node{Tag: "iq", Attrs: Attrs{"to": NewJID("123", DefaultUserServer)}}},
		{"AD_JID unknown domain is an agent", "f8 03 19 11 f7 07 02 ff 82 12 3f", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "123", Agent: 7, Device: 2, Server: DefaultUserServer}}}},
		{"JID content", "f8 02 19 fa 00 03", Node{Tag: "iq", Content: ServerJID}},
		// whatsmeow writes server-only hosted, msgr and interop JIDs in
		// their device forms with an empty user.
		{"AD_JID server-only hosted", "f8 03 19 11 f7 80 00 ff 00", Node{Tag: "iq", Attrs: Attrs{"to": JID{Server: HostedServer}}}},
		{"FB_JID server-only", "f8 03 19 11 f6 ff 00 00 00 cc", Node{Tag: "iq", Attrs: Attrs{"to": JID{Server: MessengerServer}}}},
		{"INTEROP_JID server-only", "f8 03 19 11 f5 ff 00 00 00 00 00 fc 07 69 6e 74 65 72 6f 70", Node{Tag: "iq", Attrs: Attrs{"to": JID{Server: InteropServer}}}},
		{"token content", "f8 02 19 29", Node{Tag: "iq", Content: []byte("get")}},
		{"dictionary content", "f8 02 19 ee 3c", Node{Tag: "iq", Content: []byte("failure")}},
		{"packed tag", "f8 01 ff 01 12", Node{Tag: "12"}},
	}
	for _, c := range cases {
		got, err := Unmarshal(unhex(t, c.hex))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !equalTrees(got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, got, c.want)
		}
	}
}

// nested returns a chain of depth nodes, each the only child of the last.
func nested(depth int) Node {
	n := Node{Tag: "x"}
	for range depth - 1 {
		n = Node{Tag: "x", Content: []Node{n}}
	}
	return n
}

func TestDepthLimit(t *testing.T) {
	ok := nested(DefaultMaxDepth)
	b := roundTrip(t, ok)
	if _, err := UnmarshalLimits(b, Limits{MaxDepth: DefaultMaxDepth - 1}); !errors.Is(err, ErrInvalidNode) {
		t.Fatalf("MaxDepth %d accepted depth %d: %v", DefaultMaxDepth-1, DefaultMaxDepth, err)
	}
	// A hand-built encoding one level deeper than the encoder allows.
	deep := append(bytes.Repeat(unhex(t, "f8 02 fc 01 78 f8 01"), DefaultMaxDepth), unhex(t, "f8 01 fc 01 78")...)
	mustReject(t, "depth 65", deep)
	if _, err := UnmarshalLimits(deep, Limits{MaxDepth: DefaultMaxDepth + 1}); err != nil {
		t.Fatalf("MaxDepth %d: %v", DefaultMaxDepth+1, err)
	}
	// Very deep input fails fast instead of exhausting the stack.
	huge := bytes.Repeat(unhex(t, "f8 02 19 f8 01"), 1_000_000)
	mustReject(t, "depth 1e6", huge)
}

// TestListSizeAllocation: a few bytes claiming a huge list must not
// allocate for it.
func TestListSizeAllocation(t *testing.T) {
	b := unhex(t, "f8 02 19 f9 ff ff")
	allocs := testing.AllocsPerRun(100, func() { _, _ = Unmarshal(b) })
	var m1, m2 runtime.MemStats
	runtime.ReadMemStats(&m1)
	for range 100 {
		_, _ = Unmarshal(b)
	}
	runtime.ReadMemStats(&m2)
	if per := (m2.TotalAlloc - m1.TotalAlloc) / 100; per > 1024 {
		t.Fatalf("%d bytes allocated per rejected 6-byte input (%v allocs)", per, allocs)
	}
}

func deflate(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnpack(t *testing.T) {
	n := Node{Tag: "iq", Attrs: Attrs{"id": "1"}, Content: bytes.Repeat([]byte("abc"), 1000)}
	body, err := Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	compressed := append([]byte{0x02}, deflate(t, body)...)
	got, err := Unpack(compressed)
	if err != nil || !equalTrees(got, n) {
		t.Fatalf("Unpack(zlib) = %s, %v", got, err)
	}
	// Exactly at the limit is fine, one byte less is not.
	if _, err := UnpackLimits(compressed, Limits{MaxInflated: len(body)}); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	if _, err := UnpackLimits(compressed, Limits{MaxInflated: len(body) - 1}); !errors.Is(err, ErrInvalidNode) {
		t.Fatalf("over the limit: %v", err)
	}
	// Other flag bits are ignored, as whatsmeow does.
	if _, err := Unpack(append([]byte{0x01}, body...)); err != nil {
		t.Fatalf("flag 0x01: %v", err)
	}

	bad := map[string][]byte{
		"empty frame":               nil,
		"flag only":                 {0x00},
		"zlib flag, empty body":     {0x02},
		"zlib flag, garbage":        {0x02, 0xf8, 0x01, 0x19},
		"bytes after zlib stream":   append(append([]byte{}, compressed...), 0x00),
		"truncated zlib stream":     compressed[:len(compressed)-3],
		"bad zlib checksum":         append(append([]byte{}, compressed[:len(compressed)-1]...), compressed[len(compressed)-1]^1),
		"valid zlib, invalid node":  append([]byte{0x02}, deflate(t, []byte{0xf8, 0x01, 0x00})...),
		"valid zlib, trailing node": append([]byte{0x02}, deflate(t, append(append([]byte{}, body...), 0))...),
	}
	for name, frame := range bad {
		if _, err := Unpack(frame); !errors.Is(err, ErrInvalidNode) {
			t.Errorf("%s: Unpack error %v", name, err)
		}
	}
}

// TestUnpackBomb: a small frame inflating far beyond the limit is refused
// without allocating much more than the limit.
func TestUnpackBomb(t *testing.T) {
	bomb := append([]byte{0x02}, deflate(t, make([]byte, 64<<20))...)
	if len(bomb) > 128<<10 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	const limit = 64 << 10
	var m1, m2 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m1)
	_, err := UnpackLimits(bomb, Limits{MaxInflated: limit})
	runtime.ReadMemStats(&m2)
	if !errors.Is(err, ErrInvalidNode) || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("err = %v", err)
	}
	// Our buffers total under 2×limit; flate's window and tables are ~100 KiB.
	if got := m2.TotalAlloc - m1.TotalAlloc; got > 2*limit+256<<10 {
		t.Fatalf("allocated %d bytes for a %d-byte limit", got, limit)
	}
	// With the default 16 MiB limit the same bomb is still refused.
	if _, err := Unpack(bomb); !errors.Is(err, ErrInvalidNode) {
		t.Fatalf("default limit: %v", err)
	}
}
