package noise

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// protocolName is the Noise protocol name padded with NULs to HASHLEN; a
// name that fits in 32 bytes is used as the initial h directly, without
// hashing.
const protocolName = "Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"

const (
	keyLen  = 32
	tagLen  = 16
	hashLen = sha256.Size
)

// symmetric is the Noise SymmetricState shared by both roles: the
// chaining key ck, the handshake hash h and the current handshake cipher.
type symmetric struct {
	h, ck [hashLen]byte
	aead  cipher.AEAD // nil until the first MixKey
	// n is the handshake nonce: one counter for encryption and decryption
	// alike, reset by every MixKey.
	n uint32
}

func newSymmetric(prologue []byte) *symmetric {
	s := &symmetric{}
	copy(s.h[:], protocolName)
	s.ck = s.h
	s.mixHash(prologue)
	return s
}

func (s *symmetric) mixHash(data []byte) {
	d := sha256.New()
	d.Write(s.h[:])
	d.Write(data)
	d.Sum(s.h[:0])
}

// mixKey derives a new ck and handshake key from ikm with HKDF-SHA256
// (salt ck, empty info): the first 32 bytes are the new ck, the next 32
// the key.
func (s *symmetric) mixKey(ikm []byte) error {
	var out [2 * keyLen]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, ikm, s.ck[:], nil), out[:]); err != nil {
		return fmt.Errorf("noise: hkdf: %w", err)
	}
	copy(s.ck[:], out[:keyLen])
	aead, err := newAEAD(out[keyLen:])
	if err != nil {
		return err
	}
	s.aead, s.n = aead, 0
	return nil
}

// encrypt is EncryptAndHash with h as the associated data.
func (s *symmetric) encrypt(plaintext []byte) ([]byte, error) {
	if s.aead == nil {
		// XX encrypts nothing before the first MixKey; reaching this is a
		// bug in the message sequence, not a peer's fault.
		return nil, fmt.Errorf("%w: encrypt before key agreement", ErrHandshake)
	}
	ct := s.aead.Seal(nil, nonce(s.n), plaintext, s.h[:])
	s.n++
	s.mixHash(ct)
	return ct, nil
}

// decrypt is DecryptAndHash with h as the associated data.
func (s *symmetric) decrypt(ciphertext []byte) ([]byte, error) {
	if s.aead == nil {
		return nil, fmt.Errorf("%w: decrypt before key agreement", ErrHandshake)
	}
	if len(ciphertext) < tagLen {
		return nil, fmt.Errorf("%w: %d bytes is shorter than the tag", ErrDecrypt, len(ciphertext))
	}
	pt, err := s.aead.Open(nil, nonce(s.n), ciphertext, s.h[:])
	if err != nil {
		return nil, ErrDecrypt
	}
	s.n++
	s.mixHash(ciphertext)
	return pt, nil
}

// split derives the transport keys: HKDF(salt ck, empty ikm), the first
// 32 bytes for client→server, the next 32 for server→client.
func (s *symmetric) split() (c2s, s2c cipher.AEAD, err error) {
	var out [2 * keyLen]byte
	if _, err := io.ReadFull(hkdf.New(sha256.New, nil, s.ck[:], nil), out[:]); err != nil {
		return nil, nil, fmt.Errorf("noise: hkdf: %w", err)
	}
	if c2s, err = newAEAD(out[:keyLen]); err != nil {
		return nil, nil, err
	}
	if s2c, err = newAEAD(out[keyLen:]); err != nil {
		return nil, nil, err
	}
	return c2s, s2c, nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("noise: aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("noise: gcm: %w", err)
	}
	return aead, nil
}

// nonce is the 12-byte IV of both phases: eight zero bytes, then the
// counter big-endian.
func nonce(n uint32) []byte {
	var iv [12]byte
	binary.BigEndian.PutUint32(iv[8:], n)
	return iv[:]
}
