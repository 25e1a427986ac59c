package wabin

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
)

// Defaults for Limits' zero fields.
const (
	DefaultMaxDepth    = 64       // nesting of nodes; real stanzas nest about 5 deep
	DefaultMaxInflated = 16 << 20 // bytes; the same as the largest transport frame
)

// Limits bound decoding of untrusted input. A zero or negative field means
// its default.
type Limits struct {
	MaxDepth    int // deepest node nesting accepted, the root being depth 1; default 64
	MaxInflated int // largest zlib-inflated body accepted, in bytes; default 16 MiB
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxInflated <= 0 {
		l.MaxInflated = DefaultMaxInflated
	}
	return l
}

// Unmarshal decodes exactly one node from b (no flags byte) with the
// default Limits; trailing bytes are an error. It never retains b.
func Unmarshal(b []byte) (Node, error) {
	return UnmarshalLimits(b, Limits{})
}

// UnmarshalLimits is Unmarshal with explicit limits.
func UnmarshalLimits(b []byte, lim Limits) (Node, error) {
	lim = lim.withDefaults()
	d := decoder{b: b, maxDepth: lim.MaxDepth}
	n, err := d.node(1)
	if err != nil {
		return Node{}, err
	}
	if d.pos != len(d.b) {
		return Node{}, d.fail("%d trailing bytes after the root node", len(d.b)-d.pos)
	}
	return n, nil
}

// Frame flag bits (the first byte of a transport frame's plaintext).
const flagCompressed = 0x02

// Unpack decodes a transport frame's plaintext (flags byte || body) with
// the default Limits.
func Unpack(frame []byte) (Node, error) {
	return UnpackLimits(frame, Limits{})
}

// UnpackLimits is Unpack with explicit limits. Flag bit 0x02 means the body
// is zlib (RFC 1950); it is inflated up to lim.MaxInflated bytes and no
// further, so a decompression bomb costs at most that much memory. Other
// flag bits are ignored, as whatsmeow and the web client do.
func UnpackLimits(frame []byte, lim Limits) (Node, error) {
	lim = lim.withDefaults()
	if len(frame) == 0 {
		return Node{}, fmt.Errorf("%w: empty frame", ErrInvalidNode)
	}
	body := frame[1:]
	if frame[0]&flagCompressed != 0 {
		var err error
		if body, err = inflate(body, lim.MaxInflated); err != nil {
			return Node{}, err
		}
	}
	return UnmarshalLimits(body, lim)
}

// inflate decompresses a complete zlib stream of at most limit bytes. The
// buffer grows by doubling but never past limit+1, so the largest
// allocation is bounded by the limit rather than by what the sender claims.
func inflate(z []byte, limit int) ([]byte, error) {
	src := bytes.NewReader(z)
	zr, err := zlib.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrInvalidNode, err)
	}
	buf := make([]byte, 0, min(limit+1, max(512, 4*len(z))))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrInvalidNode, limit)
			}
			grown := make([]byte, len(buf), min(limit+1, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		n, err := zr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: zlib: %v", ErrInvalidNode, err)
		}
	}
	if len(buf) > limit {
		return nil, fmt.Errorf("%w: inflated body exceeds %d bytes", ErrInvalidNode, limit)
	}
	// zlib stops at its checksum; bytes after it mean the frame is not
	// what the sender thinks it is. (flate reads a bytes.Reader one byte at
	// a time, so src.Len is exact.)
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the zlib stream", ErrInvalidNode, src.Len())
	}
	return buf, nil
}

// decoder reads one node tree from b. Every read checks the remaining
// length first and every allocation is bounded by what the remaining input
// could possibly describe, so hostile input costs at most a small multiple
// of its own size.
type decoder struct {
	b        []byte
	pos      int
	maxDepth int
}

func (d *decoder) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalidNode, fmt.Sprintf(format, args...), d.pos)
}

// truncated returns an error wrapping both ErrInvalidNode and io.ErrUnexpectedEOF, so
// a caller reading a stream can tell "need more bytes" from garbage.
func (d *decoder) truncated() error {
	return fmt.Errorf("%w: %w at offset %d", ErrInvalidNode, io.ErrUnexpectedEOF, d.pos)
}

// cannotFit reports a list whose claimed size the rest of the input cannot
// hold; checking this before allocating keeps a 6-byte input from
// allocating room for 65535 children.
func (d *decoder) cannotFit(what string, size, minItem int) error {
	return fmt.Errorf("%w: %s of %d items cannot fit in the %d remaining bytes (%d bytes each at least) at offset %d: %w",
		ErrInvalidNode, what, size, d.remaining(), minItem, d.pos, io.ErrUnexpectedEOF)
}

func (d *decoder) remaining() int { return len(d.b) - d.pos }

func (d *decoder) readByte() (byte, error) {
	if d.pos >= len(d.b) {
		return 0, d.truncated()
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, d.truncated()
	}
	s := d.b[d.pos : d.pos+n]
	d.pos += n
	return s, nil
}

func (d *decoder) readUint16() (uint16, error) {
	s, err := d.take(2)
	if err != nil {
		return 0, err
	}
	return uint16(s[0])<<8 | uint16(s[1]), nil
}

// listSize reads the size following a LIST_8 or LIST_16 tag byte.
func (d *decoder) listSize(tag byte) (int, error) {
	if tag == tagList8 {
		n, err := d.readByte()
		return int(n), err
	}
	n, err := d.readUint16()
	return int(n), err
}

// minNodeLen is the shortest encoded node: F8 01 <token>.
const minNodeLen = 3

func (d *decoder) node(depth int) (Node, error) {
	if depth > d.maxDepth {
		return Node{}, d.fail("nesting deeper than %d", d.maxDepth)
	}
	tag, err := d.readByte()
	if err != nil {
		return Node{}, err
	}
	if tag != tagList8 && tag != tagList16 {
		return Node{}, d.fail("node starts with tag byte 0x%02X, not a list", tag)
	}
	size, err := d.listSize(tag)
	if err != nil {
		return Node{}, err
	}
	if size == 0 {
		return Node{}, d.fail("node list of size 0")
	}
	if size > d.remaining() { // every item takes at least one byte
		return Node{}, d.cannotFit("node", size, 1)
	}
	var n Node
	if n.Tag, err = d.readString("tag"); err != nil {
		return Node{}, err
	}
	if n.Tag == "" {
		return Node{}, d.fail("empty tag")
	}
	if n.Attrs, err = d.attrs((size - 1) / 2); err != nil {
		return Node{}, err
	}
	if size%2 == 0 {
		if n.Content, err = d.content(depth); err != nil {
			return Node{}, err
		}
	}
	return n, nil
}

func (d *decoder) attrs(count int) (Attrs, error) {
	var attrs Attrs
	for range count {
		key, err := d.readString("attribute key")
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, d.fail("empty attribute key")
		}
		value, err := d.attrValue()
		if err != nil {
			return nil, err
		}
		if value == nil {
			continue // nil and "" mean absent, as on the encoding side
		}
		if attrs == nil {
			// Each remaining pair takes at least two bytes.
			attrs = make(Attrs, min(count, 1+d.remaining()/2))
		}
		if _, dup := attrs[key]; dup {
			return nil, d.fail("duplicate attribute %q", key)
		}
		attrs[key] = value
	}
	return attrs, nil
}

// attrValue returns a string, a JID, or nil for an absent value.
func (d *decoder) attrValue() (any, error) {
	tag, err := d.readByte()
	if err != nil {
		return nil, err
	}
	switch {
	case tag == tagListEmpty:
		return nil, nil
	case tag < tagDictionary0:
		return boxedTokens.single[tag], nil
	case tag <= tagDictionary3:
		i, err := d.readByte()
		if err != nil {
			return nil, err
		}
		return boxedTokens.double[tag-tagDictionary0][i], nil
	case tag == tagJIDPair, tag == tagADJID, tag == tagFBJID, tag == tagInteropJID:
		return d.jid(tag)
	}
	s, err := d.stringAfter(tag, "attribute value")
	if err != nil || s == "" {
		return nil, err
	}
	return s, nil
}

func (d *decoder) content(depth int) (any, error) {
	tag, err := d.readByte()
	if err != nil {
		return nil, err
	}
	switch tag {
	case tagListEmpty:
		return []Node{}, nil
	case tagList8, tagList16:
		size, err := d.listSize(tag)
		if err != nil {
			return nil, err
		}
		if size > d.remaining()/minNodeLen {
			return nil, d.cannotFit("child list", size, minNodeLen)
		}
		children := make([]Node, size)
		for i := range children {
			if children[i], err = d.node(depth + 1); err != nil {
				return nil, err
			}
		}
		return children, nil
	case tagJIDPair, tagADJID, tagFBJID, tagInteropJID:
		return d.jid(tag)
	case tagBinary8, tagBinary20, tagBinary32:
		raw, err := d.binary(tag)
		if err != nil {
			return nil, err
		}
		// Copied so the tree never aliases a frame buffer the caller reuses.
		return bytes.Clone(raw), nil
	}
	s, err := d.stringAfter(tag, "content")
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// readString reads an item that must be a string; what names the item in
// errors.
func (d *decoder) readString(what string) (string, error) {
	tag, err := d.readByte()
	if err != nil {
		return "", err
	}
	return d.stringAfter(tag, what)
}

func (d *decoder) stringAfter(tag byte, what string) (string, error) {
	switch {
	case tag == tagListEmpty:
		return "", d.fail("%s is nil", what)
	case tag < tagDictionary0:
		return singleByteTokens[tag], nil
	case tag <= tagDictionary3:
		i, err := d.readByte()
		if err != nil {
			return "", err
		}
		return doubleByteTokens[tag-tagDictionary0][i], nil
	}
	switch tag {
	case tagBinary8, tagBinary20, tagBinary32:
		raw, err := d.binary(tag)
		return string(raw), err
	case tagNibble8, tagHex8:
		return d.packed(tag)
	case tagList8, tagList16:
		return "", d.fail("%s is a list", what)
	case tagJIDPair, tagADJID, tagFBJID, tagInteropJID:
		return "", d.fail("%s is a JID", what)
	}
	return "", d.fail("unknown tag byte 0x%02X", tag)
}

// binary reads the length after a BINARY_* tag and returns a view of that
// many input bytes; the length is checked against the input before anything
// is allocated.
func (d *decoder) binary(tag byte) ([]byte, error) {
	var n int
	switch tag {
	case tagBinary8:
		c, err := d.readByte()
		if err != nil {
			return nil, err
		}
		n = int(c)
	case tagBinary20:
		s, err := d.take(3)
		if err != nil {
			return nil, err
		}
		// The top nibble is not part of the length (protocol.md §2.1).
		n = int(s[0]&0x0F)<<16 | int(s[1])<<8 | int(s[2])
	default:
		s, err := d.take(4)
		if err != nil {
			return nil, err
		}
		n = int(uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]))
	}
	return d.take(n)
}

// packed decodes NIBBLE_8 or HEX_8. Unlike whatsmeow it accepts the padding
// nibble 15 only where padding belongs (the low nibble of the last byte of
// an odd-length string) and nowhere in a nibble string, because a NUL in the
// middle of an id is never legitimate and would not survive re-encoding.
func (d *decoder) packed(tag byte) (string, error) {
	lenByte, err := d.readByte()
	if err != nil {
		return "", err
	}
	n := int(lenByte & 0x7F)
	odd := lenByte&0x80 != 0
	if odd && n == 0 {
		return "", d.fail("packed string of length -1")
	}
	src, err := d.take(n)
	if err != nil {
		return "", err
	}
	var buf [2 * 0x7F]byte
	out := buf[:0]
	for i, c := range src {
		hi, lo := c>>4, c&0x0F
		last := i == len(src)-1
		ch, ok := unpackChar(tag, hi)
		if !ok {
			return "", d.fail("invalid nibble %d in packed string", hi)
		}
		out = append(out, ch)
		if last && odd {
			if lo != packedPad {
				return "", d.fail("padding nibble is %d, not %d", lo, packedPad)
			}
			break
		}
		if ch, ok = unpackChar(tag, lo); !ok {
			return "", d.fail("invalid nibble %d in packed string", lo)
		}
		out = append(out, ch)
	}
	return string(out), nil
}

// unpackChar maps a nibble to its character; 12..14 and (in nibble
// strings) 15 have none.
func unpackChar(tag, v byte) (byte, bool) {
	switch {
	case v < 10:
		return '0' + v, true
	case tag == tagHex8:
		return 'A' + v - 10, true
	case v == 10:
		return '-', true
	case v == 11:
		return '.', true
	}
	return 0, false
}

func (d *decoder) jid(tag byte) (JID, error) {
	j, err := d.jidFields(tag)
	if err != nil {
		return JID{}, err
	}
	// Accept exactly the JIDs Marshal can write back: a device or agent
	// without a user, say, has no canonical form and means nothing.
	if _, err := j.wireForm(); err != nil {
		return JID{}, d.fail("JID %q: %v", j.String(), err)
	}
	return j, nil
}

func (d *decoder) jidFields(tag byte) (JID, error) {
	var j JID
	var err error
	switch tag {
	case tagJIDPair:
		c, err := d.readByte()
		if err != nil {
			return JID{}, err
		}
		if c != tagListEmpty {
			if j.User, err = d.stringAfter(c, "JID user"); err != nil {
				return JID{}, err
			}
		}
		if j.Server, err = d.readString("JID server"); err != nil {
			return JID{}, err
		}
		return j, nil
	case tagADJID:
		s, err := d.take(2)
		if err != nil {
			return JID{}, err
		}
		domain, device := s[0], s[1]
		// Only JID_PAIR spells an empty user as nil; here the user
		// must be a string (whatsmeow panics on anything else).
		if j.User, err = d.readString("JID user"); err != nil {
			return JID{}, err
		}
		j.Device = uint16(device)
		switch domain {
		case domainLID:
			j.Server = HiddenUserServer
		case domainHosted:
			j.Server = HostedServer
		case domainHostedLID:
			j.Server = HostedLIDServer
		default:
			// whatsmeow reads any other domain byte as an agent on
			// s.whatsapp.net; keep it so the JID re-encodes unchanged.
			j.Server, j.Agent = DefaultUserServer, domain
		}
		return j, nil
	}
	// FB_JID and INTEROP_JID
	if j.User, err = d.readString("JID user"); err != nil {
		return JID{}, err
	}
	if j.Device, err = d.readUint16(); err != nil {
		return JID{}, err
	}
	want := MessengerServer
	if tag == tagInteropJID {
		want = InteropServer
		if j.Integrator, err = d.readUint16(); err != nil {
			return JID{}, err
		}
	}
	if j.Server, err = d.readString("JID server"); err != nil {
		return JID{}, err
	}
	if j.Server != want {
		return JID{}, d.fail("JID server %q where %q is required", j.Server, want)
	}
	return j, nil
}
