// Package noise is the secure transport under the chat protocol: the 4-byte
// connection header, 3-byte length-prefixed frames, WhatsApp's variant of the
// Noise_XX_25519_AESGCM_SHA256 handshake for both the client (initiator) and
// the simulated server (responder), the AES-GCM transport that follows it,
// and the server certificate chain (protocol.md §1).
//
// We implement Noise ourselves instead of using github.com/flynn/noise
// because WhatsApp's variant is not standard Noise on the wire: the client
// does not MixHash the empty payload of the first message, so every hash,
// key and tag from then on differs from what a standard implementation
// computes. flynn/noise has no knob for that, and the simulated server in
// waenttest must mirror the quirk exactly, so both roles share one small
// symmetric state here (symmetric.go). The handshake nonce is one
// counter shared by encryption and decryption and reset by every MixKey;
// that is what standard Noise does too, and is spelled out only because
// WhatsApp's code keeps it as a single field.
//
// After the handshake, a Socket carries one AES-256-GCM message per frame,
// with a 12-byte nonce of eight zero bytes and a big-endian uint32 counter
// per direction, and no associated data. Unlike whatsmeow, which drops a
// frame that fails to decrypt and carries on, a Socket treats any
// authentication failure (and counter exhaustion) as fatal: once the
// stream is known to be tampered with or out of step, nothing later on it
// can be trusted.
//
// The frame plaintext (a flags byte and a binary node) is not interpreted
// here; package conn and package wabin do that.
//
// The tests check the handshake against github.com/flynn/noise with the
// quirk switched off (everything else must then match standard Noise
// byte for byte), and internal/wmcheck, a separate module, checks it
// against whatsmeow's own primitives with the quirk on.
package noise
