package noise

import (
	"crypto/rand"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

// KeyPair is an X25519 key pair. The same keys sign certificates
// (XEdDSA), so Private is always stored clamped: XEdDSA derives its
// Edwards key from the scalar as given, and only a clamped scalar makes it
// match Public.
type KeyPair struct {
	Public, Private [32]byte
}

// GenerateKeyPair returns a new key pair from crypto/rand.
func GenerateKeyPair() (KeyPair, error) {
	return generateKeyPair(rand.Reader)
}

func generateKeyPair(r io.Reader) (KeyPair, error) {
	var priv [32]byte
	if _, err := io.ReadFull(r, priv[:]); err != nil {
		return KeyPair{}, fmt.Errorf("noise: generating key: %w", err)
	}
	return KeyPairFromPrivate(priv), nil
}

// KeyPairFromPrivate derives the public key for priv, which is clamped
// first.
func KeyPairFromPrivate(priv [32]byte) KeyPair {
	clamp(&priv)
	// X25519 with the base point cannot fail: only a low-order input
	// point yields the all-zero output it rejects.
	pub, _ := curve25519.X25519(priv[:], curve25519.Basepoint)
	kp := KeyPair{Private: priv}
	copy(kp.Public[:], pub)
	return kp
}

func clamp(k *[32]byte) {
	k[0] &= 248
	k[31] &= 127
	k[31] |= 64
}

// dh is X25519. It fails when the peer's point has small order (the
// shared secret would be all zeros), which a malicious peer could use to
// force a known key.
func dh(priv, pub [32]byte) ([]byte, error) {
	out, err := curve25519.X25519(priv[:], pub[:])
	if err != nil {
		return nil, fmt.Errorf("%w: X25519: %w", ErrHandshake, err)
	}
	return out, nil
}
