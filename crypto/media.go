package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Media encryption (protocol.md §5): a random 32-byte media key is
// expanded with HKDF-SHA256 under a per-type info string into an IV, an
// AES-256-CBC key and an HMAC key. The uploaded blob is the CBC ciphertext
// (PKCS#7, always padded) followed by the first 10 bytes of
// HMAC-SHA256(macKey, iv || ciphertext).
const (
	MediaKeyLen = 32
	// MediaMACLen is the truncated MAC at the end of a blob.
	MediaMACLen = 10
	// mediaExpanded is iv(16) + cipherKey(32) + macKey(32) + refKey(32).
	mediaExpanded = 112
)

// Media errors. A download that fails one of the checks is the sender's
// (or the CDN's) fault and is not worth retrying.
var (
	ErrMediaType     = errors.New("crypto: unknown media type")
	ErrMediaKey      = errors.New("crypto: media key must be 32 bytes")
	ErrMediaTooLarge = errors.New("crypto: media blob exceeds the size limit")
	ErrMediaFormat   = errors.New("crypto: media blob is malformed")
	ErrMediaEncHash  = errors.New("crypto: media blob does not match its enc sha256")
	ErrMediaMAC      = errors.New("crypto: media blob MAC mismatch")
	ErrMediaHash     = errors.New("crypto: decrypted media does not match its sha256")
	ErrMediaChanged  = errors.New("crypto: media changed between encryption passes")
)

// MediaInfo is the HKDF info string for a media kind. Kinds are the
// On-Premises message types and the wire mediatype values: stickers use
// the image keys, gifs and round videos the video keys, voice notes the
// audio keys.
func MediaInfo(kind string) (string, error) {
	switch kind {
	case "image", "sticker":
		return "WhatsApp Image Keys", nil
	case "video", "gif", "ptv":
		return "WhatsApp Video Keys", nil
	case "audio", "ptt", "voice":
		return "WhatsApp Audio Keys", nil
	case "document":
		return "WhatsApp Document Keys", nil
	case "md-msg-hist", "history":
		return "WhatsApp History Keys", nil
	case "md-app-state", "app-state":
		return "WhatsApp App State Keys", nil
	case "thumbnail-link", "link-thumbnail":
		return "WhatsApp Link Thumbnail Keys", nil
	case "sticker-pack":
		return "WhatsApp Sticker Pack Keys", nil
	}
	return "", fmt.Errorf("%w: %q", ErrMediaType, kind)
}

// MMSType is the upload path segment for a media kind: what the CDN files
// it under. Stickers travel as images and voice notes as audio.
func MMSType(kind string) (string, error) {
	switch kind {
	case "image", "sticker":
		return "image", nil
	case "video", "gif", "ptv":
		return "video", nil
	case "audio", "ptt", "voice":
		return "audio", nil
	case "document":
		return "document", nil
	}
	return "", fmt.Errorf("%w: %q", ErrMediaType, kind)
}

type mediaKeys struct {
	iv, cipherKey, macKey []byte
}

func expandMediaKey(key []byte, kind string) (mediaKeys, error) {
	if len(key) != MediaKeyLen {
		return mediaKeys{}, ErrMediaKey
	}
	info, err := MediaInfo(kind)
	if err != nil {
		return mediaKeys{}, err
	}
	out, err := hkdf.Key(sha256.New, key, nil, info, mediaExpanded)
	if err != nil {
		return mediaKeys{}, err
	}
	return mediaKeys{iv: out[:16], cipherKey: out[16:48], macKey: out[48:80]}, nil
}

// EncryptedMedia describes a blob made by EncryptMedia: what a message
// references and a download checks.
type EncryptedMedia struct {
	MediaKey      []byte
	FileSHA256    []byte // of the plaintext
	FileEncSHA256 []byte // of the whole blob, MAC included
	FileLength    int64  // plaintext bytes
	EncLength     int64  // blob bytes
}

// mediaChunk is how much plaintext is encrypted per step: large enough
// that per-call overhead vanishes, small enough to stay in cache.
const mediaChunk = 64 << 10

// EncryptMedia encrypts everything src yields into dst as one upload blob
// under a fresh random media key. Memory use is constant whatever the
// size.
func EncryptMedia(dst io.Writer, src io.Reader, kind string) (EncryptedMedia, error) {
	key := make([]byte, MediaKeyLen)
	if _, err := rand.Read(key); err != nil {
		return EncryptedMedia{}, err
	}
	return EncryptMediaWithKey(dst, src, kind, key)
}

// EncryptMediaWithKey is EncryptMedia under a given key. The output is a
// function of key, kind and plaintext alone, so a caller that must know
// the blob's hash before sending it (the upload URL names it) can encrypt
// once into io.Discard and again into the request body.
func EncryptMediaWithKey(dst io.Writer, src io.Reader, kind string, key []byte) (EncryptedMedia, error) {
	k, err := expandMediaKey(key, kind)
	if err != nil {
		return EncryptedMedia{}, err
	}
	block, err := aes.NewCipher(k.cipherKey)
	if err != nil {
		return EncryptedMedia{}, err
	}
	cbc := cipher.NewCBCEncrypter(block, k.iv)
	mac := hmac.New(sha256.New, k.macKey)
	mac.Write(k.iv)
	plainHash, encHash := sha256.New(), sha256.New()
	res := EncryptedMedia{MediaKey: bytes.Clone(key)}

	// buf holds plaintext; a partial block at the end of a read is carried
	// to the front for the next one.
	buf := make([]byte, mediaChunk+aes.BlockSize)
	have := 0
	emit := func(ct []byte) error {
		mac.Write(ct)
		encHash.Write(ct)
		res.EncLength += int64(len(ct))
		_, err := dst.Write(ct)
		return err
	}
	for {
		n, rerr := src.Read(buf[have:])
		if n > 0 {
			plainHash.Write(buf[have : have+n])
			res.FileLength += int64(n)
			have += n
			full := have - have%aes.BlockSize
			if full > 0 {
				cbc.CryptBlocks(buf[:full], buf[:full])
				if err := emit(buf[:full]); err != nil {
					return EncryptedMedia{}, err
				}
				have = copy(buf, buf[full:have])
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return EncryptedMedia{}, rerr
		}
	}
	// PKCS#7: always at least one byte, a whole block on aligned input.
	pad := aes.BlockSize - have
	for i := range pad {
		buf[have+i] = byte(pad)
	}
	last := buf[:aes.BlockSize]
	cbc.CryptBlocks(last, last)
	if err := emit(last); err != nil {
		return EncryptedMedia{}, err
	}
	tag := mac.Sum(nil)[:MediaMACLen]
	encHash.Write(tag)
	res.EncLength += MediaMACLen
	if _, err := dst.Write(tag); err != nil {
		return EncryptedMedia{}, err
	}
	res.FileSHA256 = plainHash.Sum(nil)
	res.FileEncSHA256 = encHash.Sum(nil)
	return res, nil
}

// MediaCheck is what a received message says about its media: the key
// and the hashes a download must match. Nil hashes are not checked (a
// message without them is suspicious, but the MAC still authenticates the
// blob). MaxSize bounds the blob; 0 means MaxMediaBlob.
type MediaCheck struct {
	Kind          string
	MediaKey      []byte
	FileSHA256    []byte
	FileEncSHA256 []byte
	MaxSize       int64
}

// MaxMediaBlob is the default bound on a downloaded blob: the largest
// file WhatsApp carries (100 MB documents) plus padding and MAC.
const MaxMediaBlob = 100<<20 + aes.BlockSize + MediaMACLen

// DecryptMedia decrypts a whole blob held in memory, in the order
// protocol.md §5 gives: enc hash, then MAC over iv and ciphertext, then
// decryption, then the plaintext hash. Nothing is decrypted unless the
// MAC matches. It never panics on bad input.
func DecryptMedia(blob []byte, chk MediaCheck) ([]byte, error) {
	max := chk.MaxSize
	if max <= 0 {
		max = MaxMediaBlob
	}
	if int64(len(blob)) > max {
		return nil, ErrMediaTooLarge
	}
	k, err := expandMediaKey(chk.MediaKey, chk.Kind)
	if err != nil {
		return nil, err
	}
	ctLen := len(blob) - MediaMACLen
	if ctLen < aes.BlockSize || ctLen%aes.BlockSize != 0 {
		return nil, ErrMediaFormat
	}
	if chk.FileEncSHA256 != nil {
		sum := sha256.Sum256(blob)
		if subtle.ConstantTimeCompare(sum[:], chk.FileEncSHA256) != 1 {
			return nil, ErrMediaEncHash
		}
	}
	ct, tag := blob[:ctLen], blob[ctLen:]
	mac := hmac.New(sha256.New, k.macKey)
	mac.Write(k.iv)
	mac.Write(ct)
	if !hmac.Equal(mac.Sum(nil)[:MediaMACLen], tag) {
		return nil, ErrMediaMAC
	}
	block, err := aes.NewCipher(k.cipherKey)
	if err != nil {
		return nil, err
	}
	plain := make([]byte, ctLen)
	cipher.NewCBCDecrypter(block, k.iv).CryptBlocks(plain, ct)
	plain, ok := unpadPKCS7(plain)
	if !ok {
		return nil, ErrMediaFormat
	}
	if chk.FileSHA256 != nil {
		sum := sha256.Sum256(plain)
		if subtle.ConstantTimeCompare(sum[:], chk.FileSHA256) != 1 {
			return nil, ErrMediaHash
		}
	}
	return plain, nil
}

func unpadPKCS7(b []byte) ([]byte, bool) {
	if len(b) == 0 || len(b)%aes.BlockSize != 0 {
		return nil, false
	}
	n := int(b[len(b)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, false
	}
	for _, v := range b[len(b)-n:] {
		if int(v) != n {
			return nil, false
		}
	}
	return b[:len(b)-n], true
}

// NewMediaDecrypter returns a reader of the plaintext of the blob src
// yields, for files too large to hold in memory. Plaintext comes out as
// the blob streams in, before the MAC at its end can be checked: the
// output is untrusted until Read returns io.EOF, which it does only after
// the enc hash, the MAC, the padding and the plaintext hash all matched;
// any mismatch is returned instead of io.EOF. Consumers must therefore
// commit nothing before io.EOF — store.MediaStore.Put, which leaves no
// file when its reader fails, is such a consumer. The final blocks, whose
// padding depends on the plaintext, are decrypted only after the MAC
// check, so no error depends on unauthenticated plaintext.
func NewMediaDecrypter(src io.Reader, chk MediaCheck) (io.Reader, error) {
	k, err := expandMediaKey(chk.MediaKey, chk.Kind)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(k.cipherKey)
	if err != nil {
		return nil, err
	}
	max := chk.MaxSize
	if max <= 0 {
		max = MaxMediaBlob
	}
	d := &mediaDecrypter{
		src: src, chk: chk, max: max,
		cbc:     cipher.NewCBCDecrypter(block, k.iv),
		mac:     hmac.New(sha256.New, k.macKey),
		encHash: sha256.New(), plainHash: sha256.New(),
		in: make([]byte, 0, mediaChunk+holdBack),
	}
	d.mac.Write(k.iv)
	return d, nil
}

// holdBack is what the decrypter keeps unprocessed until the end of the
// blob: the MAC and the last cipher block.
const holdBack = MediaMACLen + aes.BlockSize

type mediaDecrypter struct {
	src                     io.Reader
	chk                     MediaCheck
	max, total              int64
	empty                   int // consecutive empty reads of src
	cbc                     cipher.BlockMode
	mac, encHash, plainHash hash.Hash
	in                      []byte // blob bytes not yet decrypted
	out                     []byte // plaintext ready for the caller
	buf                     []byte // backs out between fills
	err                     error  // sticky: io.EOF once verified, else the failure
}

func (d *mediaDecrypter) Read(p []byte) (int, error) {
	for len(d.out) == 0 && d.err == nil {
		d.fill()
	}
	if len(d.out) > 0 {
		n := copy(p, d.out)
		d.out = d.out[n:]
		return n, nil
	}
	return 0, d.err
}

// fill reads more of the blob and decrypts what can be, or finishes.
func (d *mediaDecrypter) fill() {
	// Every step leaves fewer than holdBack+BlockSize bytes in d.in, at
	// its start, so there is always room to read into.
	n, err := d.src.Read(d.in[len(d.in):cap(d.in)])
	d.in = d.in[:len(d.in)+n]
	d.total += int64(n)
	if n == 0 && err == nil {
		if d.empty++; d.empty > 100 {
			d.err = io.ErrNoProgress
		}
		return
	}
	d.empty = 0
	if d.total > d.max {
		d.err = ErrMediaTooLarge
		return
	}
	if err != nil && err != io.EOF {
		d.err = err
		return
	}
	if err == io.EOF {
		d.finish()
		return
	}
	if ready := len(d.in) - holdBack; ready >= aes.BlockSize {
		ready -= ready % aes.BlockSize
		ct := d.in[:ready]
		d.mac.Write(ct)
		d.encHash.Write(ct)
		// d.out is drained before the next fill, so its buffer is free.
		if cap(d.buf) < ready {
			d.buf = make([]byte, ready)
		}
		plain := d.buf[:ready]
		d.cbc.CryptBlocks(plain, ct)
		d.plainHash.Write(plain)
		d.out = plain
		d.in = append(d.in[:0], d.in[ready:]...)
	}
}

func (d *mediaDecrypter) finish() {
	ctLen := len(d.in) - MediaMACLen
	if ctLen < aes.BlockSize || ctLen%aes.BlockSize != 0 {
		d.err = ErrMediaFormat
		return
	}
	ct, tag := d.in[:ctLen], d.in[ctLen:]
	d.encHash.Write(d.in)
	if d.chk.FileEncSHA256 != nil && subtle.ConstantTimeCompare(d.encHash.Sum(nil), d.chk.FileEncSHA256) != 1 {
		d.err = ErrMediaEncHash
		return
	}
	d.mac.Write(ct)
	if !hmac.Equal(d.mac.Sum(nil)[:MediaMACLen], tag) {
		d.err = ErrMediaMAC
		return
	}
	plain := make([]byte, ctLen)
	d.cbc.CryptBlocks(plain, ct)
	plain, ok := unpadPKCS7(plain)
	if !ok {
		d.err = ErrMediaFormat
		return
	}
	d.plainHash.Write(plain)
	if d.chk.FileSHA256 != nil && subtle.ConstantTimeCompare(d.plainHash.Sum(nil), d.chk.FileSHA256) != 1 {
		d.err = ErrMediaHash
		return
	}
	d.out, d.in, d.err = plain, nil, io.EOF
}
