package wabin

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNodeAccessors(t *testing.T) {
	n := Node{Tag: "iq", Attrs: Attrs{"id": "7", "to": ServerJID, "from": "1:2@s.whatsapp.net", "bad": "x@", "n": 5},
		Content: []Node{{Tag: "a"}, {Tag: "b", Content: "text"}, {Tag: "a", Content: []byte{1}}}}
	if got := n.AttrString("id"); got != "7" {
		t.Errorf("AttrString(id) = %q", got)
	}
	if got := n.AttrString("to"); got != "s.whatsapp.net" {
		t.Errorf("AttrString(to) = %q", got)
	}
	if got := n.AttrString("n"); got != "" {
		t.Errorf("AttrString of an int = %q", got)
	}
	if got := n.AttrString("missing"); got != "" {
		t.Errorf("AttrString(missing) = %q", got)
	}
	if j, ok := n.AttrJID("to"); !ok || j != ServerJID {
		t.Errorf("AttrJID(to) = %v %v", j, ok)
	}
	if j, ok := n.AttrJID("from"); !ok || j != (JID{User: "1", Device: 2, Server: DefaultUserServer}) {
		t.Errorf("AttrJID(from) = %v %v", j, ok)
	}
	for _, k := range []string{"bad", "n", "missing"} {
		if _, ok := n.AttrJID(k); ok {
			t.Errorf("AttrJID(%s) ok", k)
		}
	}
	if len(n.Children()) != 3 || (Node{Content: []byte{1}}).Children() != nil {
		t.Error("Children")
	}
	if c, ok := n.Child("b"); !ok || string(c.Bytes()) != "text" {
		t.Errorf("Child(b) = %v %v", c, ok)
	}
	if _, ok := n.Child("zz"); ok {
		t.Error("Child(zz) found")
	}
	if as := n.ChildrenByTag("a"); len(as) != 2 || !bytes.Equal(as[1].Bytes(), []byte{1}) {
		t.Errorf("ChildrenByTag(a) = %v", as)
	}
	if n.Bytes() != nil || (Node{Content: ServerJID}).Bytes() != nil {
		t.Error("Bytes of non-byte content")
	}
}

func TestNodeString(t *testing.T) {
	cases := []struct {
		node Node
		want string
	}{
		{Node{Tag: "iq"}, `<iq/>`},
		{Node{Tag: "iq", Attrs: Attrs{"type": "get", "id": "1", "to": ServerJID, "skip": nil}},
			`<iq id="1" skip=nil to="s.whatsapp.net" type="get"/>`},
		{Node{Tag: "iq", Content: []byte("get")}, `<iq>get</iq>`},
		{Node{Tag: "iq", Content: "a<b"}, `<iq>a&lt;b</iq>`},
		{Node{Tag: "enc", Content: []byte{0, 1, 0xff}}, `<enc>0001ff</enc>`},
		{Node{Tag: "enc", Content: []byte{}}, `<enc></enc>`},
		{Node{Tag: "to", Attrs: Attrs{"jid": JID{User: "1", Device: 2, Server: DefaultUserServer}},
			Content: []Node{{Tag: "enc", Attrs: Attrs{"v": "2"}}}}, `<to jid="1:2@s.whatsapp.net"><enc v="2"/></to>`},
		{Node{Tag: "x", Content: ServerJID}, `<x>s.whatsapp.net</x>`},
		{Node{Tag: "bad tag", Attrs: Attrs{"k\x00": "v\n"}}, `<"bad tag" "k\x00"="v\n"/>`},
		{Node{Tag: "x", Attrs: Attrs{"n": 5}, Content: 5}, `<x n=(unsupported)>(unsupported content)</x>`},
		{Node{Tag: "enc", Content: bytes.Repeat([]byte{0xAB}, 100)}, "<enc>" + strings.Repeat("ab", 64) + "…(100 bytes)</enc>"},
	}
	for _, c := range cases {
		if got := c.node.String(); got != c.want {
			t.Errorf("String() = %s\nwant       %s", got, c.want)
		}
	}
}

func TestNodeStringBounded(t *testing.T) {
	big := Node{Tag: "x", Content: bytes.Repeat([]byte("é"), 1<<20)}
	children := make([]Node, 10000)
	for i := range children {
		children[i] = big
	}
	cyclic := make([]Node, 1)
	cyclic[0] = Node{Tag: "loop", Content: cyclic}
	for _, n := range []Node{big, {Tag: "root", Content: children}, cyclic[0], nested(1000)} {
		s := n.String()
		if len(s) > stringMaxLen+len("…") || !utf8.ValidString(s) {
			t.Errorf("String() of %d bytes, valid UTF-8 %v", len(s), utf8.ValidString(s))
		}
	}
}
