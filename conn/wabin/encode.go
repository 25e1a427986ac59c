package wabin

import (
	"errors"
	"fmt"
	"slices"
)

// ErrInvalidNode is wrapped by every decode error, and by Marshal's errors
// for trees that cannot be encoded, so callers can use errors.Is to tell
// protocol garbage from transport failures.
var ErrInvalidNode = errors.New("wabin: invalid node")

// Marshal encodes n (without the leading flags byte).
//
// Attributes are written sorted by key, so equal trees encode to equal
// bytes; whatsmeow writes them in map order, and peers must not care.
// Marshal returns an error, never panics, on an unsupported attribute or
// content type, an empty tag or attribute key, more than 65535 children or
// attribute items, a string or byte slice of 4 GiB or more, a JID that
// cannot be written without losing a field, or a tree deeper than
// DefaultMaxDepth (which also stops cyclic trees), since a default decoder
// would reject it anyway.
func Marshal(n Node) ([]byte, error) {
	return appendNode(make([]byte, 0, 256), n, 1)
}

// Pack prepends the flags byte 0x00 (uncompressed) to Marshal's output,
// which is what goes into a transport frame.
func Pack(n Node) ([]byte, error) {
	b := make([]byte, 1, 256)
	return appendNode(b, n, 1)
}

func encodeError(format string, args ...any) error {
	return fmt.Errorf("%w: encode: %s", ErrInvalidNode, fmt.Sprintf(format, args...))
}

// attrKeysOnStack is how many attribute keys are sorted without a heap
// allocation; stanzas rarely have more than six attributes.
const attrKeysOnStack = 16

func appendNode(b []byte, n Node, depth int) ([]byte, error) {
	if depth > DefaultMaxDepth {
		return nil, encodeError("tree deeper than %d", DefaultMaxDepth)
	}
	if n.Tag == "" {
		return nil, encodeError("empty tag")
	}
	var stack [attrKeysOnStack]string
	keys := stack[:0]
	for k, v := range n.Attrs {
		switch v := v.(type) {
		case nil:
			continue
		case string:
			if v == "" {
				continue
			}
		case JID:
		default:
			return nil, encodeError("<%s> attribute %q: unsupported type %T", n.Tag, k, v)
		}
		if k == "" {
			return nil, encodeError("<%s>: empty attribute key", n.Tag)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	size := 1 + 2*len(keys)
	if n.Content != nil {
		size++
	}
	if size > 0xFFFF {
		return nil, encodeError("<%s>: %d attributes", n.Tag, len(keys))
	}
	b = appendListHeader(b, size)
	var err error
	if b, err = appendString(b, n.Tag); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if b, err = appendString(b, k); err != nil {
			return nil, err
		}
		switch v := n.Attrs[k].(type) {
		case string:
			b, err = appendString(b, v)
		case JID:
			b, err = appendJID(b, v)
		}
		if err != nil {
			return nil, fmt.Errorf("<%s> attribute %q: %w", n.Tag, k, err)
		}
	}
	switch c := n.Content.(type) {
	case nil:
	case []Node:
		if len(c) > 0xFFFF {
			return nil, encodeError("<%s>: %d children", n.Tag, len(c))
		}
		if len(c) == 0 {
			// LIST_EMPTY, as whatsmeow writes an empty child list.
			b = append(b, tagListEmpty)
			break
		}
		b = appendListHeader(b, len(c))
		for i := range c {
			if b, err = appendNode(b, c[i], depth+1); err != nil {
				return nil, err
			}
		}
	case []byte:
		if b, err = appendBinary(b, c); err != nil {
			return nil, err
		}
	case string:
		b, err = appendString(b, c)
	case JID:
		b, err = appendJID(b, c)
	default:
		return nil, encodeError("<%s>: unsupported content type %T", n.Tag, c)
	}
	if err != nil {
		return nil, fmt.Errorf("<%s> content: %w", n.Tag, err)
	}
	return b, nil
}

func appendListHeader(b []byte, size int) []byte {
	if size < 0x100 {
		return append(b, tagList8, byte(size))
	}
	return append(b, tagList16, byte(size>>8), byte(size))
}

// appendString writes s in the shortest form the protocol offers, in the
// order whatsmeow and the servers use: token, double-byte token, nibbles,
// hex, raw bytes.
func appendString(b []byte, s string) ([]byte, error) {
	if code, ok := tokenCodes[s]; ok {
		if code < 0x100 {
			return append(b, byte(code)), nil
		}
		return append(b, byte(code>>8), byte(code)), nil
	}
	if len(s) <= packedMax {
		if isNibbleString(s) {
			return appendPacked(b, tagNibble8, s), nil
		}
		if isHexString(s) {
			return appendPacked(b, tagHex8, s), nil
		}
	}
	if err := checkBinaryLen(len(s)); err != nil {
		return nil, err
	}
	b = appendBinaryHeader(b, len(s))
	return append(b, s...), nil
}

func appendBinary(b, data []byte) ([]byte, error) {
	if err := checkBinaryLen(len(data)); err != nil {
		return nil, err
	}
	b = appendBinaryHeader(b, len(data))
	return append(b, data...), nil
}

func checkBinaryLen(n int) error {
	if uint64(n) >= 1<<32 {
		return encodeError("%d bytes is too long for BINARY_32", n)
	}
	return nil
}

func appendBinaryHeader(b []byte, n int) []byte {
	switch {
	case n < 1<<8:
		return append(b, tagBinary8, byte(n))
	case n < 1<<20:
		return append(b, tagBinary20, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, tagBinary32, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func isNibbleString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// isHexString accepts uppercase only: lowercase hex would decode as
// uppercase and so not round-trip.
func isHexString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// packedPad fills the low nibble of the last byte of an odd-length packed
// string.
const packedPad = 15

func appendPacked(b []byte, tag byte, s string) []byte {
	n := (len(s) + 1) / 2
	lenByte := byte(n)
	if len(s)%2 == 1 {
		lenByte |= 0x80
	}
	b = append(b, tag, lenByte)
	for i := 0; i < len(s); i += 2 {
		hi := packChar(tag, s[i])
		lo := byte(packedPad)
		if i+1 < len(s) {
			lo = packChar(tag, s[i+1])
		}
		b = append(b, hi<<4|lo)
	}
	return b
}

// packChar maps a character already checked by isNibbleString or
// isHexString to its nibble.
func packChar(tag, c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case tag == tagNibble8 && c == '-':
		return 10
	case tag == tagNibble8 && c == '.':
		return 11
	default: // 'A'..'F' in HEX_8
		return c - 'A' + 10
	}
}

func appendJID(b []byte, j JID) ([]byte, error) {
	form, err := j.wireForm()
	if err != nil {
		return nil, encodeError("JID %q: %v", j.String(), err)
	}
	switch form {
	case formAD:
		b = append(b, tagADJID, j.domain(), byte(j.Device))
		return appendString(b, j.User)
	case formFB:
		b = append(b, tagFBJID)
		if b, err = appendString(b, j.User); err != nil {
			return nil, err
		}
		b = append(b, byte(j.Device>>8), byte(j.Device))
		return appendString(b, j.Server)
	case formInterop:
		b = append(b, tagInteropJID)
		if b, err = appendString(b, j.User); err != nil {
			return nil, err
		}
		b = append(b, byte(j.Device>>8), byte(j.Device), byte(j.Integrator>>8), byte(j.Integrator))
		return appendString(b, j.Server)
	default:
		// JID_PAIR alone spells an empty user as LIST_EMPTY.
		b = append(b, tagJIDPair)
		if j.User == "" {
			b = append(b, tagListEmpty)
		} else if b, err = appendString(b, j.User); err != nil {
			return nil, err
		}
		return appendString(b, j.Server)
	}
}
