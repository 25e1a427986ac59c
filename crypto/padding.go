package crypto

import (
	"fmt"
	"math/rand/v2"
)

// Pad appends v2 padding (1..15 bytes of value N); Unpad checks and strips it.
//
// The length only blurs the plaintext size, so the ChaCha8 generator of
// math/rand/v2 (seeded from the OS) is good enough and costs no syscall.
func Pad(plaintext []byte) []byte {
	n := byte(rand.Uint32()) & 0x0F
	if n == 0 {
		n = 15
	}
	out := make([]byte, len(plaintext)+int(n))
	copy(out, plaintext)
	for i := len(plaintext); i < len(out); i++ {
		out[i] = n
	}
	return out
}

// Unpad: see Pad.
//
// It accepts any N from 1 up to the whole length, as other clients do, but
// every one of the N bytes must equal N. The result aliases padded.
func Unpad(padded []byte) ([]byte, error) {
	if len(padded) == 0 {
		return nil, fmt.Errorf("%w: empty plaintext has no padding", ErrDecrypt)
	}
	n := int(padded[len(padded)-1])
	if n == 0 || n > len(padded) {
		return nil, fmt.Errorf("%w: bad padding length %d", ErrDecrypt, n)
	}
	for _, c := range padded[len(padded)-n:] {
		if int(c) != n {
			return nil, fmt.Errorf("%w: inconsistent padding", ErrDecrypt)
		}
	}
	return padded[:len(padded)-n], nil
}
