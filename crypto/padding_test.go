package crypto

import (
	"bytes"
	"errors"
	"testing"
)

func TestPadRoundTrip(t *testing.T) {
	seen := map[int]bool{}
	for n := range 200 {
		pt := bytes.Repeat([]byte{0xAB}, n%40)
		padded := Pad(pt)
		pad := len(padded) - len(pt)
		if pad < 1 || pad > 15 || !bytes.Equal(padded[:len(pt)], pt) {
			t.Fatalf("Pad(%d bytes) added %d", len(pt), pad)
		}
		seen[pad] = true
		got, err := Unpad(padded)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Unpad(Pad(x)) = %x, %v", got, err)
		}
	}
	if len(seen) < 10 {
		t.Fatalf("only %d distinct padding lengths in 200 tries", len(seen))
	}
}

func TestUnpadRejects(t *testing.T) {
	for _, in := range [][]byte{nil, {}, {0}, {'a', 0}, {'a', 3, 3}, {'a', 2, 3, 3}, {16}} {
		if _, err := Unpad(in); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Unpad(%x) = %v, want ErrDecrypt", in, err)
		}
	}
	// Any length up to the whole input is accepted, as other clients do.
	if got, err := Unpad([]byte{2, 2}); err != nil || len(got) != 0 {
		t.Errorf("Unpad(0202) = %x, %v", got, err)
	}
}

func FuzzUnpad(f *testing.F) {
	f.Add([]byte("hello\x03\x03\x03"))
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := Unpad(in)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) {
				t.Fatalf("error %v does not wrap ErrDecrypt", err)
			}
			return
		}
		n := len(in) - len(got)
		if n < 1 || !bytes.Equal(in[:len(got)], got) || !bytes.Equal(in[len(got):], bytes.Repeat([]byte{byte(n)}, n)) {
			t.Fatalf("Unpad(%x) = %x", in, got)
		}
	})
}
