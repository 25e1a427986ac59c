package wabin

//go:generate go run ./internal/gentokens -in testdata/tokens-v3.txt -out tokens_gen.go

// SingleByteTokens and DoubleByteTokens are copies of the dictionary-v3
// token tables (tokens_gen.go), exported for tools and cross-checks. The
// codec reads its own unexported tables, so changing these has no effect on
// encoding or decoding.
var (
	SingleByteTokens = singleByteTokens
	DoubleByteTokens = doubleByteTokens
)

// Tag bytes of the binary node encoding (protocol.md §2.1). Bytes
// 0x01..0xEB are single-byte tokens.
const (
	tagListEmpty   = 0x00
	tagDictionary0 = 0xEC // 0xEC..0xEF select doubleByteTokens[0..3]
	tagDictionary3 = 0xEF
	tagInteropJID  = 0xF5
	tagFBJID       = 0xF6
	tagADJID       = 0xF7
	tagList8       = 0xF8
	tagList16      = 0xF9
	tagJIDPair     = 0xFA
	tagHex8        = 0xFB
	tagBinary8     = 0xFC
	tagBinary20    = 0xFD
	tagBinary32    = 0xFE
	tagNibble8     = 0xFF

	packedMax = 127 // longest string the encoder packs into NIBBLE_8/HEX_8
)

// tokenCodes maps each token to the bytes that encode it: the tag byte for
// a single-byte token (< 0x100), or dictionary tag byte << 8 | index.
// It is built once and only read afterwards.
var tokenCodes = buildTokenCodes()

func buildTokenCodes() map[string]uint16 {
	m := make(map[string]uint16, len(singleByteTokens)+len(doubleByteTokens)*len(doubleByteTokens[0]))
	// Double-byte first so that a single-byte token wins if a future
	// dictionary ever repeats one; the shorter encoding is the canonical one.
	// (gentokens rejects duplicates in v3, so this is only belt and braces.)
	for d := range doubleByteTokens {
		for i, s := range doubleByteTokens[d] {
			m[s] = uint16(tagDictionary0+d)<<8 | uint16(i)
		}
	}
	for i, s := range singleByteTokens {
		if i > 0 {
			m[s] = uint16(i)
		}
	}
	return m
}

// boxedTokens holds every token already converted to an interface value.
// Most attribute values are tokens, and storing a string in Attrs would
// otherwise allocate for each one on every decode. Read-only after init.
var boxedTokens = boxTokens()

type tokenBoxes struct {
	single [len(singleByteTokens)]any
	double [len(doubleByteTokens)][len(doubleByteTokens[0])]any
}

func boxTokens() *tokenBoxes {
	b := new(tokenBoxes)
	for i, s := range singleByteTokens {
		b.single[i] = s
	}
	for d := range doubleByteTokens {
		for i, s := range doubleByteTokens[d] {
			b.double[d][i] = s
		}
	}
	return b
}
