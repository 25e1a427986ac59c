package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// errNotMergeable marks a payload that is not an object of arrays; it is
// sent on its own, untouched.
var errNotMergeable = errors.New("webhook: payload is not a JSON object of arrays")

// merger concatenates On-Premises envelopes key by key, in the order keys
// first appear, so {"statuses":[a]} + {"statuses":[b]} is
// {"statuses":[a,b]} and two inbound envelopes keep contacts before
// messages.
type merger struct {
	keys  []string
	items map[string][][]byte // per key, the inner texts of its arrays
	n     int
}

type field struct {
	key   string
	inner []byte // array contents without brackets; empty for []
}

// parseEnvelope splits a payload into its top-level arrays. It checks the
// whole payload so a bad one can be refused before anything is merged.
func parseEnvelope(p []byte) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, errNotMergeable
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotMergeable
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotMergeable
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, errNotMergeable
		}
		raw = bytes.TrimSpace(raw)
		if len(raw) < 2 || raw[0] != '[' {
			return nil, errNotMergeable
		}
		out = append(out, field{key: key, inner: bytes.TrimSpace(raw[1 : len(raw)-1])})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errNotMergeable
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errNotMergeable
	}
	return out, nil
}

// add appends one payload; on error m is unchanged.
func (m *merger) add(p []byte) error {
	fs, err := parseEnvelope(p)
	if err != nil {
		return err
	}
	if m.items == nil {
		m.items = map[string][][]byte{}
	}
	for _, f := range fs {
		if _, ok := m.items[f.key]; !ok {
			m.keys = append(m.keys, f.key)
			m.items[f.key] = nil
		}
		if len(f.inner) > 0 {
			m.items[f.key] = append(m.items[f.key], f.inner)
		}
	}
	m.n++
	return nil
}

func (m *merger) bytes() []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k) // a string always encodes
		b.Write(kb)
		b.WriteString(":[")
		for j, it := range m.items[k] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(it)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes()
}

// Merge joins envelopes into one, as the dispatcher does for consecutive
// callbacks of one kind. It fails if any payload is not a JSON object whose
// values are all arrays.
func Merge(payloads ...[]byte) ([]byte, error) {
	var m merger
	for _, p := range payloads {
		if err := m.add(p); err != nil {
			return nil, err
		}
	}
	return m.bytes(), nil
}
