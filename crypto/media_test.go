package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/sha256"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

func encryptForTest(tb testing.TB, plain []byte, kind string) ([]byte, EncryptedMedia) {
	tb.Helper()
	var blob bytes.Buffer
	em, err := EncryptMedia(&blob, bytes.NewReader(plain), kind)
	if err != nil {
		tb.Fatal(err)
	}
	return blob.Bytes(), em
}

func checkOf(kind string, em EncryptedMedia) MediaCheck {
	return MediaCheck{Kind: kind, MediaKey: em.MediaKey, FileSHA256: em.FileSHA256, FileEncSHA256: em.FileEncSHA256}
}

func TestMediaRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 100_000, 3*mediaChunk + 5} {
		plain := make([]byte, n)
		for i := range plain {
			plain[i] = byte(i * 7)
		}
		blob, em := encryptForTest(t, plain, "document")
		// Always padded: a block-aligned file gets a whole block of padding.
		if want := (n/aes.BlockSize+1)*aes.BlockSize + MediaMACLen; len(blob) != want || em.EncLength != int64(want) {
			t.Fatalf("n=%d: blob %d bytes (EncLength %d), want %d", n, len(blob), em.EncLength, want)
		}
		if em.FileLength != int64(n) {
			t.Fatalf("n=%d: FileLength %d", n, em.FileLength)
		}
		if s := sha256.Sum256(plain); !bytes.Equal(em.FileSHA256, s[:]) {
			t.Fatalf("n=%d: FileSHA256 is not the plaintext's hash", n)
		}
		if s := sha256.Sum256(blob); !bytes.Equal(em.FileEncSHA256, s[:]) {
			t.Fatalf("n=%d: FileEncSHA256 is not the blob's hash", n)
		}
		got, err := DecryptMedia(blob, checkOf("document", em))
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("n=%d: DecryptMedia = %d bytes, %v", n, len(got), err)
		}
		// Streaming, fed one byte at a time and in big reads.
		for _, src := range []io.Reader{iotest.OneByteReader(bytes.NewReader(blob)), bytes.NewReader(blob)} {
			d, err := NewMediaDecrypter(src, checkOf("document", em))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(d)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("n=%d: streaming = %d bytes, %v", n, len(got), err)
			}
		}
	}
}

func TestMediaDeterministicUnderKey(t *testing.T) {
	plain := bytes.Repeat([]byte("abc"), 10_000)
	blob, em := encryptForTest(t, plain, "image")
	var again bytes.Buffer
	em2, err := EncryptMediaWithKey(&again, bytes.NewReader(plain), "image", em.MediaKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), blob) || !bytes.Equal(em2.FileEncSHA256, em.FileEncSHA256) {
		t.Fatal("the same key and plaintext gave a different blob")
	}
	_, em3 := encryptForTest(t, plain, "image")
	if bytes.Equal(em3.MediaKey, em.MediaKey) || bytes.Equal(em3.FileEncSHA256, em.FileEncSHA256) {
		t.Fatal("two encryptions share a key")
	}
}

func TestMediaKindsSeparateKeys(t *testing.T) {
	// Stickers share the image keys; documents do not.
	blob, em := encryptForTest(t, []byte("sticker bytes"), "sticker")
	if _, err := DecryptMedia(blob, checkOf("image", em)); err != nil {
		t.Fatalf("sticker as image: %v", err)
	}
	if _, err := DecryptMedia(blob, checkOf("document", em)); !errors.Is(err, ErrMediaMAC) {
		t.Fatalf("sticker as document: %v, want ErrMediaMAC", err)
	}
	if _, err := DecryptMedia(blob, checkOf("hologram", em)); !errors.Is(err, ErrMediaType) {
		t.Fatalf("unknown kind: %v", err)
	}
	for kind, want := range map[string]string{"image": "WhatsApp Image Keys", "sticker": "WhatsApp Image Keys",
		"video": "WhatsApp Video Keys", "audio": "WhatsApp Audio Keys", "voice": "WhatsApp Audio Keys",
		"document": "WhatsApp Document Keys"} {
		if got, _ := MediaInfo(kind); got != want {
			t.Errorf("MediaInfo(%s) = %q, want %q", kind, got, want)
		}
	}
}

func TestMediaTamperRejected(t *testing.T) {
	plain := bytes.Repeat([]byte{1, 2, 3, 4, 5}, 20_000)
	blob, em := encryptForTest(t, plain, "video")
	for _, pos := range []int{0, 17, len(blob) / 2, len(blob) - MediaMACLen - 1, len(blob) - 1} {
		bad := bytes.Clone(blob)
		bad[pos] ^= 0x40
		if _, err := DecryptMedia(bad, checkOf("video", em)); !errors.Is(err, ErrMediaEncHash) {
			t.Errorf("byte %d flipped, enc hash known: %v", pos, err)
		}
		noEnc := checkOf("video", em)
		noEnc.FileEncSHA256 = nil
		if _, err := DecryptMedia(bad, noEnc); !errors.Is(err, ErrMediaMAC) {
			t.Errorf("byte %d flipped, MAC only: %v", pos, err)
		}
		d, _ := NewMediaDecrypter(bytes.NewReader(bad), noEnc)
		if _, err := io.ReadAll(d); !errors.Is(err, ErrMediaMAC) {
			t.Errorf("byte %d flipped, streaming: %v", pos, err)
		}
	}
	wrongHash := checkOf("video", em)
	wrongHash.FileSHA256 = make([]byte, 32)
	if _, err := DecryptMedia(blob, wrongHash); !errors.Is(err, ErrMediaHash) {
		t.Errorf("wrong plaintext hash: %v", err)
	}
	d, _ := NewMediaDecrypter(bytes.NewReader(blob), wrongHash)
	if _, err := io.ReadAll(d); !errors.Is(err, ErrMediaHash) {
		t.Errorf("wrong plaintext hash, streaming: %v", err)
	}
	for _, cut := range []int{0, 1, MediaMACLen, MediaMACLen + 15, len(blob) - 1} {
		noEnc := checkOf("video", em)
		noEnc.FileEncSHA256 = nil
		if _, err := DecryptMedia(blob[:cut], noEnc); err == nil {
			t.Errorf("truncated to %d: accepted", cut)
		}
		d, _ := NewMediaDecrypter(bytes.NewReader(blob[:cut]), noEnc)
		if _, err := io.ReadAll(d); err == nil {
			t.Errorf("truncated to %d, streaming: accepted", cut)
		}
	}
	if _, err := DecryptMedia(blob, MediaCheck{Kind: "video", MediaKey: em.MediaKey[:31]}); !errors.Is(err, ErrMediaKey) {
		t.Errorf("short key: %v", err)
	}
}

func TestMediaSizeBound(t *testing.T) {
	blob, em := encryptForTest(t, make([]byte, 1000), "image")
	chk := checkOf("image", em)
	chk.MaxSize = int64(len(blob) - 1)
	if _, err := DecryptMedia(blob, chk); !errors.Is(err, ErrMediaTooLarge) {
		t.Fatalf("DecryptMedia over the bound: %v", err)
	}
	d, _ := NewMediaDecrypter(bytes.NewReader(blob), chk)
	if _, err := io.ReadAll(d); !errors.Is(err, ErrMediaTooLarge) {
		t.Fatalf("streaming over the bound: %v", err)
	}
	chk.MaxSize = int64(len(blob))
	if _, err := DecryptMedia(blob, chk); err != nil {
		t.Fatalf("at the bound: %v", err)
	}
}

func TestMediaDecrypterPassesReadErrors(t *testing.T) {
	blob, em := encryptForTest(t, make([]byte, 5000), "audio")
	boom := errors.New("connection reset")
	src := io.MultiReader(bytes.NewReader(blob[:3000]), iotest.ErrReader(boom))
	d, _ := NewMediaDecrypter(src, checkOf("audio", em))
	if _, err := io.ReadAll(d); !errors.Is(err, boom) {
		t.Fatalf("read error: %v", err)
	}
}

// FuzzDecryptMedia feeds arbitrary blobs, keys and hashes to both
// decrypters: they must never panic, must agree, and whatever they accept
// must match the hashes they were given.
func FuzzDecryptMedia(f *testing.F) {
	plain := []byte("The quick brown fox jumps over the lazy dog")
	var blob bytes.Buffer
	key := bytes.Repeat([]byte{7}, MediaKeyLen)
	em, err := EncryptMediaWithKey(&blob, bytes.NewReader(plain), "image", key)
	if err != nil {
		f.Fatal(err)
	}
	b := blob.Bytes()
	f.Add(b, key, em.FileSHA256, em.FileEncSHA256, "image")
	f.Add(b, key, []byte(nil), []byte(nil), "sticker")
	f.Add(b[:len(b)-1], key, em.FileSHA256, []byte(nil), "image")
	f.Add(b[:26], key, []byte(nil), []byte(nil), "image")
	f.Add([]byte{}, key, []byte(nil), []byte(nil), "document")
	f.Add(b, key[:5], []byte(nil), []byte(nil), "image")
	f.Add(b, key, []byte(nil), []byte(nil), "nope")
	f.Fuzz(func(t *testing.T, blob, key, sha, encSHA []byte, kind string) {
		if len(sha) == 0 {
			sha = nil
		}
		if len(encSHA) == 0 {
			encSHA = nil
		}
		chk := MediaCheck{Kind: kind, MediaKey: key, FileSHA256: sha, FileEncSHA256: encSHA, MaxSize: 1 << 20}
		got, err := DecryptMedia(blob, chk)
		var streamed []byte
		d, serr := NewMediaDecrypter(bytes.NewReader(blob), chk)
		if serr == nil {
			streamed, serr = io.ReadAll(d)
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("decrypters disagree: %v vs %v", err, serr)
		}
		if err != nil {
			return
		}
		if !bytes.Equal(got, streamed) {
			t.Fatal("decrypters returned different plaintexts")
		}
		if sha != nil {
			if s := sha256.Sum256(got); !bytes.Equal(s[:], sha) {
				t.Fatal("accepted a plaintext that does not match its hash")
			}
		}
		if encSHA != nil {
			if s := sha256.Sum256(blob); !bytes.Equal(s[:], encSHA) {
				t.Fatal("accepted a blob that does not match its enc hash")
			}
		}
	})
}

// BenchmarkEncryptMedia measures encryption of a 4 MB file (AES-CBC,
// HMAC and both SHA-256 hashes) in MB/s.
func BenchmarkEncryptMedia(b *testing.B) {
	plain := bytes.Repeat([]byte{0x5a}, 4<<20)
	key := bytes.Repeat([]byte{1}, MediaKeyLen)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncryptMediaWithKey(io.Discard, bytes.NewReader(plain), "image", key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecryptMedia is the streaming decrypter over the same file.
func BenchmarkDecryptMedia(b *testing.B) {
	plain := bytes.Repeat([]byte{0x5a}, 4<<20)
	blob, em := encryptForTest(b, plain, "image")
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		d, _ := NewMediaDecrypter(bytes.NewReader(blob), checkOf("image", em))
		if _, err := io.Copy(io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
}
