package wabin

import (
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Attrs holds attribute values; each value is a string or a JID (other
// types are an encode error, never a panic). A "" or nil value means the
// attribute is absent: the encoder omits it and the decoder never returns
// one.
type Attrs map[string]any

// Node is one stanza element. Content is nil, []Node, []byte, string or JID.
//
// Decoding yields nil, []Node, []byte or JID: raw binary, token and packed
// content all come back as []byte because the wire does not say whether the
// sender meant text, so callers convert where they know. An empty child list
// decodes as a non-nil empty []Node, which is how it is written back.
type Node struct {
	Tag     string
	Attrs   Attrs
	Content any
}

// Children returns the child nodes, or nil if Content is not a []Node.
func (n Node) Children() []Node {
	c, _ := n.Content.([]Node)
	return c
}

// Child returns the first child with the given tag.
func (n Node) Child(tag string) (Node, bool) {
	for _, c := range n.Children() {
		if c.Tag == tag {
			return c, true
		}
	}
	return Node{}, false
}

// ChildrenByTag returns the children with the given tag, in order.
func (n Node) ChildrenByTag(tag string) []Node {
	var out []Node
	for _, c := range n.Children() {
		if c.Tag == tag {
			out = append(out, c)
		}
	}
	return out
}

// Bytes returns the content as bytes if it is []byte or string, else nil.
// A []byte is returned as is, not copied.
func (n Node) Bytes() []byte {
	switch c := n.Content.(type) {
	case []byte:
		return c
	case string:
		return []byte(c)
	}
	return nil
}

// AttrString returns a string attribute, the String form of a JID
// attribute, or "" if the attribute is absent or of another type.
func (n Node) AttrString(key string) string {
	switch v := n.Attrs[key].(type) {
	case string:
		return v
	case JID:
		return v.String()
	}
	return ""
}

// AttrJID returns a JID attribute, or a string attribute that ParseJID
// accepts. Servers send some addresses as plain strings, so callers should
// not care which form arrived.
func (n Node) AttrJID(key string) (JID, bool) {
	switch v := n.Attrs[key].(type) {
	case JID:
		return v, true
	case string:
		j, err := ParseJID(v)
		return j, err == nil
	}
	return JID{}, false
}

// Limits on Node.String, so that logging a 16 MiB media stanza, or a tree
// that was built with a cycle by mistake, stays cheap.
const (
	stringMaxLen    = 4096 // bytes of output before "…" is appended
	stringMaxBinary = 64   // bytes of binary content shown as hex
)

// String renders the node as XML-ish text for logs and test failures:
// attributes sorted by key, values quoted Go-style, text content that is
// printable UTF-8 shown as text, other bytes as hex (the first 64 bytes,
// then their count), and the whole output cut at 4 KiB.
func (n Node) String() string {
	w := &boundedWriter{}
	n.render(w, 0)
	if w.truncated {
		return w.b.String() + "…"
	}
	return w.b.String()
}

// boundedWriter drops everything past stringMaxLen and remembers that it
// did, so render can stop walking the tree early.
type boundedWriter struct {
	b         strings.Builder
	truncated bool
}

func (w *boundedWriter) WriteString(s string) {
	if w.truncated {
		return
	}
	if room := stringMaxLen - w.b.Len(); len(s) > room {
		// Cut on a rune boundary so the output stays valid UTF-8.
		for room > 0 && !utf8.RuneStart(s[room]) {
			room--
		}
		w.b.WriteString(s[:room])
		w.truncated = true
		return
	}
	w.b.WriteString(s)
}

func (n Node) render(w *boundedWriter, depth int) {
	if w.truncated {
		return
	}
	w.WriteString("<")
	w.WriteString(displayName(n.Tag))
	keys := make([]string, 0, len(n.Attrs))
	for k := range n.Attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w.WriteString(" ")
		w.WriteString(displayName(k))
		w.WriteString("=")
		switch v := n.Attrs[k].(type) {
		case string:
			w.WriteString(strconv.Quote(v))
		case JID:
			w.WriteString(strconv.Quote(v.String()))
		case nil:
			w.WriteString("nil")
		default:
			w.WriteString("(unsupported)")
		}
	}
	switch c := n.Content.(type) {
	case nil:
		w.WriteString("/>")
		return
	case []Node:
		w.WriteString(">")
		if depth >= DefaultMaxDepth {
			w.WriteString("…")
		} else {
			for _, child := range c {
				if w.truncated {
					return
				}
				child.render(w, depth+1)
			}
		}
	case []byte:
		w.WriteString(">")
		renderBytes(w, c)
	case string:
		w.WriteString(">")
		renderBytes(w, []byte(c))
	case JID:
		w.WriteString(">")
		w.WriteString(displayName(c.String()))
	default:
		w.WriteString(">(unsupported content)")
	}
	w.WriteString("</")
	w.WriteString(displayName(n.Tag))
	w.WriteString(">")
}

// displayName shows a tag, key or JID as is when it is plain, and quoted
// otherwise, so binary names from a hostile peer cannot forge structure or
// corrupt a log line.
func displayName(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || r <= ' ' || r == '"' || r == '<' || r == '>' || r == '=' || r == '/' || r == '\\' || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func renderBytes(w *boundedWriter, b []byte) {
	if isText(b) {
		var s strings.Builder
		if len(b) > stringMaxLen {
			b = b[:stringMaxLen]
		}
		for _, r := range string(b) {
			switch r {
			case '<':
				s.WriteString("&lt;")
			case '>':
				s.WriteString("&gt;")
			case '&':
				s.WriteString("&amp;")
			default:
				s.WriteRune(r)
			}
		}
		w.WriteString(s.String())
		return
	}
	if len(b) > stringMaxBinary {
		w.WriteString(hex.EncodeToString(b[:stringMaxBinary]))
		w.WriteString("…(" + strconv.Itoa(len(b)) + " bytes)")
		return
	}
	w.WriteString(hex.EncodeToString(b))
}

// isText reports whether b reads as text: valid UTF-8 and printable, so
// tokens like "get" show as words and key material shows as hex. Only the
// part String could show is examined.
func isText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	cut := len(b) > stringMaxLen
	if cut {
		b = b[:stringMaxLen]
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			// A rune split by the cut is fine; anything else is binary.
			return cut && len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:])
		}
		if !unicode.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}
