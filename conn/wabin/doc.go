// Package wabin is the WhatsApp binary node ("binary XML") codec: the
// stanza encoding carried inside Noise transport frames, with the
// dictionary-v3 token tables (protocol.md §2).
//
// We wrote our own because there is no maintained standalone library: the
// only Go implementation is whatsmeow's binary package, which lives inside
// a much larger MPL-2.0 module and panics on malformed input (unchecked type
// assertions on a JID or list where a string belongs, an empty frame in
// Unpack, an unsupported type in Marshal). A client that talks to a network
// peer must treat every byte as hostile, so this decoder returns an error
// wrapping ErrInvalidNode for anything malformed, bounds every allocation by
// the input it has seen, limits nesting depth and inflated size (Limits),
// and rejects inputs whatsmeow is too lenient with (protocol.md §2.5).
// internal/xcheck, a separate module, checks that both codecs read each
// other's output identically.
//
// The encoding is canonical where the protocol allows: attributes are
// written sorted by key and strings in their shortest form, so equal trees
// encode to equal bytes. Attribute values are only strings and JIDs; callers
// format numbers themselves, which keeps the codec free of guesses about
// how a value should look on the wire.
package wabin
