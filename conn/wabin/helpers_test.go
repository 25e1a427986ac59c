package wabin

import (
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// unhex parses "f8 03 1b" style hex dumps.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// normalize maps a tree as a caller builds it to the tree the decoder
// returns for its encoding: absent attributes dropped, an empty attribute
// map as nil, string content as bytes, nil slices as empty ones.
func normalize(n Node) Node {
	out := Node{Tag: n.Tag}
	for k, v := range n.Attrs {
		if v == nil || v == "" {
			continue
		}
		if out.Attrs == nil {
			out.Attrs = Attrs{}
		}
		out.Attrs[k] = v
	}
	switch c := n.Content.(type) {
	case string:
		out.Content = []byte(c)
	case []byte:
		out.Content = append([]byte{}, c...)
	case []Node:
		children := make([]Node, len(c))
		for i := range c {
			children[i] = normalize(c[i])
		}
		out.Content = children
	default:
		out.Content = c
	}
	return out
}

func equalTrees(a, b Node) bool {
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// roundTrip checks Marshal → Unmarshal gives the normalized tree back and
// that encoding is deterministic. It returns the encoding.
func roundTrip(t testing.TB, n Node) []byte {
	t.Helper()
	b, err := Marshal(n)
	if err != nil {
		t.Fatalf("Marshal(%s): %v", n, err)
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(%s)) = %v\nbytes: %x", n, err, b)
	}
	if want := normalize(n); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip changed the tree\n in: %#v\nout: %#v\nbytes: %x", want, got, b)
	}
	// String content decodes as bytes and is then written as BINARY, so
	// canonical means: the decoded tree encodes like the normalized input.
	again, err := Marshal(got)
	if err != nil {
		t.Fatalf("Marshal(decoded): %v", err)
	}
	want, err := Marshal(normalize(n))
	if err != nil {
		t.Fatalf("Marshal(normalized): %v", err)
	}
	if string(again) != string(want) {
		t.Fatalf("encoding is not canonical:\n%x\n%x", want, again)
	}
	if twice, _ := Marshal(n); string(twice) != string(b) {
		t.Fatalf("encoding is not deterministic:\n%x\n%x", b, twice)
	}
	return b
}

// mustReject asserts that decoding fails with an ErrInvalidNode-wrapped
// error; a panic fails the test on its own.
func mustReject(t testing.TB, name string, b []byte) {
	t.Helper()
	n, err := Unmarshal(b)
	if err == nil {
		t.Errorf("%s: Unmarshal(%x) accepted: %s", name, b, n)
		return
	}
	if !errors.Is(err, ErrInvalidNode) {
		t.Errorf("%s: error %v does not wrap ErrInvalidNode", name, err)
	}
}
