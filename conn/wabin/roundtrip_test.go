package wabin

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// gen builds random trees that exercise every encoding: single and double
// tokens, nibble and hex strings (both parities, up to and past 127
// characters), raw strings, binary of every length class, every JID form,
// omitted attributes and nested children.
type gen struct {
	r *rand.Rand
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))}
}

func (g *gen) pick(s string) byte { return s[g.r.IntN(len(s))] }

func (g *gen) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = g.pick(alphabet)
	}
	return string(b)
}

func (g *gen) str() string {
	switch g.r.IntN(9) {
	case 0:
		return singleByteTokens[1+g.r.IntN(len(singleByteTokens)-1)]
	case 1:
		return doubleByteTokens[g.r.IntN(4)][g.r.IntN(256)]
	case 2:
		return g.chars("0123456789-.", g.r.IntN(140))
	case 3:
		return g.chars("0123456789ABCDEF", g.r.IntN(140))
	case 4:
		return g.chars("0123456789abcdefABCDEF-.:@_ ", 1+g.r.IntN(40))
	case 5:
		b := make([]byte, g.r.IntN(300))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		return string(b)
	case 6:
		return ""
	case 7:
		return "3EB0" + g.chars("0123456789ABCDEF", 16)
	default:
		return g.chars("abcdefghijklmnopqrstuvwxyz", 1+g.r.IntN(12))
	}
}

func (g *gen) nonEmpty() string {
	for {
		if s := g.str(); s != "" {
			return s
		}
	}
}

func (g *gen) user() string {
	if g.r.IntN(2) == 0 {
		return g.chars("0123456789", 6+g.r.IntN(10))
	}
	return g.nonEmpty()
}

func (g *gen) jid() JID {
	servers := []string{DefaultUserServer, GroupServer, LegacyUserServer, BroadcastServer, NewsletterServer, BotServer, "example.org"}
	switch g.r.IntN(10) {
	case 0:
		return JID{Server: []string{DefaultUserServer, GroupServer, HiddenUserServer, HostedServer, MessengerServer, InteropServer}[g.r.IntN(6)]}
	case 1:
		return NewJID(g.user(), servers[g.r.IntN(len(servers))])
	case 2:
		return JID{User: g.user(), Device: uint16(g.r.IntN(256)), Server: DefaultUserServer}
	case 3:
		agent := uint8(2 + g.r.IntN(126))
		if g.r.IntN(2) == 0 {
			agent = uint8(130 + g.r.IntN(126))
		}
		return JID{User: g.user(), Agent: agent, Device: uint16(g.r.IntN(256)), Server: DefaultUserServer}
	case 4:
		return JID{User: g.user(), Device: uint16(g.r.IntN(256)), Server: HiddenUserServer}
	case 5:
		return JID{User: g.user(), Device: uint16(g.r.IntN(256)), Server: HostedServer}
	case 6:
		return JID{User: g.user(), Device: uint16(g.r.IntN(256)), Server: HostedLIDServer}
	case 7:
		return JID{User: g.user(), Device: uint16(g.r.UintN(1 << 16)), Server: MessengerServer}
	case 8:
		return JID{User: g.user(), Device: uint16(g.r.UintN(1 << 16)), Integrator: uint16(g.r.UintN(1 << 16)), Server: InteropServer}
	default:
		return JID{User: g.user(), Server: DefaultUserServer}
	}
}

func (g *gen) bytes() []byte {
	var n int
	switch g.r.IntN(20) {
	case 0:
		n = 256 + g.r.IntN(3000) // BINARY_20
	case 1:
		n = 255 + g.r.IntN(2)
	case 2:
		return nil
	default:
		n = g.r.IntN(64)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g *gen) node(depth int) Node {
	n := Node{Tag: g.nonEmpty()}
	if k := g.r.IntN(6); k > 0 {
		n.Attrs = Attrs{}
		for range k {
			switch g.r.IntN(8) {
			case 0:
				n.Attrs[g.nonEmpty()] = g.jid()
			case 1:
				n.Attrs[g.nonEmpty()] = nil
			default:
				n.Attrs[g.nonEmpty()] = g.str()
			}
		}
	}
	switch g.r.IntN(6) {
	case 0:
	case 1:
		n.Content = g.bytes()
	case 2:
		n.Content = g.str()
	case 3:
		n.Content = g.jid()
	default:
		if depth <= 1 {
			break
		}
		children := make([]Node, g.r.IntN(5))
		for i := range children {
			children[i] = g.node(depth - 1)
		}
		n.Content = children
	}
	return n
}

const propertyIterations = 3000

// TestRoundTripRandom: decode(encode(n)) equals n (normalized) for random
// trees, encoding is canonical, Pack/Unpack agree, and every prefix of a
// small encoding is rejected.
func TestRoundTripRandom(t *testing.T) {
	g := newGen(1)
	for i := range propertyIterations {
		n := g.node(1 + g.r.IntN(6))
		b := roundTrip(t, n)
		frame, err := Pack(n)
		if err != nil || !bytes.Equal(frame[1:], b) || frame[0] != 0 {
			t.Fatalf("Pack disagrees with Marshal: %v", err)
		}
		if got, err := Unpack(frame); err != nil || !equalTrees(got, n) {
			t.Fatalf("Unpack: %v", err)
		}
		if i%10 == 0 && len(b) < 4096 {
			for j := range len(b) {
				if _, err := Unmarshal(b[:j]); err == nil {
					t.Fatalf("prefix %d of %x accepted", j, b)
				}
			}
		}
		if s := n.String(); len(s) > stringMaxLen+len("…") || !utf8.ValidString(s) {
			t.Fatalf("String() is %d bytes or invalid UTF-8", len(s))
		}
	}
}

// TestMutationsRandom flips, inserts and deletes bytes of valid encodings:
// the decoder must never panic, must wrap ErrInvalidNode when it fails, and
// whatever it accepts must survive re-encoding. This is the fuzz property,
// run deterministically on every go test.
func TestMutationsRandom(t *testing.T) {
	g := newGen(2)
	accepted := 0
	for range propertyIterations {
		b, err := Marshal(g.node(1 + g.r.IntN(4)))
		if err != nil {
			t.Fatal(err)
		}
		for range 10 {
			m := append([]byte{}, b...)
			switch pos := g.r.IntN(len(m)); g.r.IntN(4) {
			case 0:
				m[pos] ^= byte(1 << g.r.IntN(8))
			case 1:
				m[pos] = byte(g.r.UintN(256))
			case 2:
				m = append(m[:pos], m[pos+1:]...)
			default:
				m = append(m[:pos], append([]byte{byte(g.r.UintN(256))}, m[pos:]...)...)
			}
			if checkDecoded(t, m) {
				accepted++
			}
		}
	}
	t.Logf("%d of %d mutations decoded", accepted, propertyIterations*10)
}

// checkDecoded is the property shared by the fuzz targets: it reports
// whether b decoded.
func checkDecoded(t testing.TB, b []byte) bool {
	t.Helper()
	n, err := Unmarshal(b)
	if err != nil {
		if !errors.Is(err, ErrInvalidNode) {
			t.Fatalf("error %v does not wrap ErrInvalidNode", err)
		}
		return false
	}
	checkTree(t, n)
	return true
}

// checkTree verifies a decoded tree re-encodes to something that decodes to
// the same tree, and that the tree has only the decoder's output types.
func checkTree(t testing.TB, n Node) {
	t.Helper()
	again, err := Marshal(n)
	if err != nil {
		t.Fatalf("decoded tree does not encode: %v\n%#v", err, n)
	}
	m, err := Unmarshal(again)
	if err != nil {
		t.Fatalf("re-encoded tree does not decode: %v\n%x", err, again)
	}
	if !reflect.DeepEqual(m, n) {
		t.Fatalf("re-encoding changed the tree\nbefore: %#v\nafter:  %#v", n, m)
	}
	checkDecodedTypes(t, n)
	_ = n.String()
}

func checkDecodedTypes(t testing.TB, n Node) {
	t.Helper()
	if n.Tag == "" {
		t.Fatal("decoded an empty tag")
	}
	if n.Attrs != nil && len(n.Attrs) == 0 {
		t.Fatal("decoded an empty non-nil Attrs")
	}
	for k, v := range n.Attrs {
		switch v := v.(type) {
		case string:
			if v == "" {
				t.Fatalf("decoded empty attribute %q", k)
			}
		case JID:
		default:
			t.Fatalf("decoded attribute %q of type %T", k, v)
		}
	}
	switch c := n.Content.(type) {
	case nil, JID:
	case []byte:
		if c == nil {
			t.Fatal("decoded nil []byte content")
		}
	case []Node:
		if c == nil {
			t.Fatal("decoded nil []Node content")
		}
		for _, child := range c {
			checkDecodedTypes(t, child)
		}
	default:
		t.Fatalf("decoded content of type %T", c)
	}
}

func TestMarshalErrors(t *testing.T) {
	cyclic := make([]Node, 1)
	cyclic[0] = Node{Tag: "loop", Content: cyclic}
	cases := []struct {
		name string
		node Node
	}{
		{"empty tag", Node{}},
		{"empty child tag", Node{Tag: "iq", Content: []Node{{}}}},
		{"int attribute", Node{Tag: "iq", Attrs: Attrs{"t": 1}}},
		{"bool attribute", Node{Tag: "iq", Attrs: Attrs{"t": true}}},
		{"[]byte attribute", Node{Tag: "iq", Attrs: Attrs{"t": []byte("x")}}},
		{"*JID attribute", Node{Tag: "iq", Attrs: Attrs{"to": &ServerJID}}},
		{"empty attribute key", Node{Tag: "iq", Attrs: Attrs{"": "x"}}},
		{"int content", Node{Tag: "iq", Content: 5}},
		{"Node content", Node{Tag: "iq", Content: Node{Tag: "x"}}},
		{"[]*Node content", Node{Tag: "iq", Content: []*Node{{Tag: "x"}}}},
		{"empty JID", Node{Tag: "iq", Attrs: Attrs{"to": JID{}}}},
		{"empty JID content", Node{Tag: "iq", Content: JID{}}},
		{"device 256", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Device: 256, Server: DefaultUserServer}}}},
		{"lid device 256", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Device: 256, Server: HiddenUserServer}}}},
		{"agent on lid", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Agent: 2, Server: HiddenUserServer}}}},
		{"agent on g.us", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Agent: 2, Server: GroupServer}}}},
		{"agent on msgr", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Agent: 2, Server: MessengerServer}}}},
		{"agent 1 is the lid domain", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Agent: 1, Server: DefaultUserServer}}}},
		{"agent 128 is the hosted domain", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Agent: 128, Server: DefaultUserServer}}}},
		{"integrator off interop", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Integrator: 2, Server: DefaultUserServer}}}},
		{"device on g.us", Node{Tag: "iq", Attrs: Attrs{"to": JID{User: "1", Device: 2, Server: GroupServer}}}},
		{"device without user", Node{Tag: "iq", Attrs: Attrs{"to": JID{Device: 2, Server: DefaultUserServer}}}},
		{"interop without user", Node{Tag: "iq", Content: JID{Device: 1, Integrator: 2, Server: InteropServer}}},
		{"65536 children", Node{Tag: "iq", Content: make([]Node, 1<<16)}},
		{"cyclic tree", cyclic[0]},
		{"too deep", nested(DefaultMaxDepth + 1)},
	}
	manyAttrs := Attrs{}
	for i := range 1 << 15 {
		manyAttrs["k"+strconv.Itoa(i)] = "v"
	}
	if len(manyAttrs) != 1<<15 {
		t.Fatalf("built %d attributes", len(manyAttrs))
	}
	cases = append(cases, struct {
		name string
		node Node
	}{"32768 attributes", Node{Tag: "iq", Attrs: manyAttrs}})
	for _, c := range cases {
		b, err := Marshal(c.node)
		if err == nil {
			t.Errorf("%s: Marshal succeeded: %x", c.name, b)
			continue
		}
		if !errors.Is(err, ErrInvalidNode) {
			t.Errorf("%s: %v does not wrap ErrInvalidNode", c.name, err)
		}
		if _, err := Pack(c.node); err == nil {
			t.Errorf("%s: Pack succeeded", c.name)
		}
	}
}

// TestMarshalLimits: the largest lists that still fit encode fine.
func TestMarshalLimits(t *testing.T) {
	children := make([]Node, 0xFFFF)
	for i := range children {
		children[i] = Node{Tag: "x"}
	}
	roundTrip(t, Node{Tag: "iq", Content: children})

	attrs := Attrs{}
	for i := range 0x7FFF {
		attrs["k"+strconv.Itoa(i)] = "v"
	}
	roundTrip(t, Node{Tag: "iq", Attrs: attrs}) // 1 + 2·32767 = 65535 items
	if _, err := Marshal(Node{Tag: "iq", Attrs: attrs, Content: "x"}); err == nil {
		t.Fatal("65536 items accepted")
	}
}

func TestCheckBinaryLen(t *testing.T) {
	if err := checkBinaryLen(1<<32 - 1); err != nil {
		t.Fatal(err)
	}
	if n := int(^uint(0) >> 1); uint64(n) >= 1<<32 {
		if err := checkBinaryLen(n); !errors.Is(err, ErrInvalidNode) {
			t.Fatalf("length %d accepted", n)
		}
	}
}
