package wabin

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ (the §2.4 vectors, §2.5
// rejections and regressions); f.Add adds the vectors again so the targets
// work even without the directory.

// FuzzUnmarshal: arbitrary bytes never panic, errors wrap ErrInvalidNode,
// and anything that decodes re-encodes to the same tree.
func FuzzUnmarshal(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(f, v.frame)[1:])
	}
	for _, c := range rejectCases {
		f.Add(unhex(f, c.hex))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecoded(t, b)
	})
}

const fuzzInflateLimit = 64 << 10

// FuzzUnpack: the same for transport frames, including the zlib path. The
// inflate limit is 64 KiB so that mutated bombs cost microseconds, not
// milliseconds, and the fuzzer keeps exploring.
func FuzzUnpack(f *testing.F) {
	for _, v := range vectors {
		frame := unhex(f, v.frame)
		f.Add(frame)
		f.Add(append([]byte{0x02}, deflate(f, frame[1:])...))
	}
	f.Add([]byte{})
	f.Add([]byte{0x02})
	f.Fuzz(func(t *testing.T, frame []byte) {
		n, err := UnpackLimits(frame, Limits{MaxInflated: fuzzInflateLimit})
		if err != nil {
			if !errors.Is(err, ErrInvalidNode) {
				t.Fatalf("error %v does not wrap ErrInvalidNode", err)
			}
			return
		}
		checkTree(t, n)
		packed, err := Pack(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Unpack(packed); err != nil {
			t.Fatalf("Unpack(Pack(n)): %v", err)
		}
	})
}

// TestFuzzCorpusLabels keeps the committed seeds honest: files named
// vector-* and valid-* must decode, reject-* must not. Other names are the
// fuzzer's own regression finds and are only checked not to panic.
func TestFuzzCorpusLabels(t *testing.T) {
	for _, target := range []string{"FuzzUnmarshal", "FuzzUnpack"} {
		dir := filepath.Join("testdata", "fuzz", target)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) < 5 {
			t.Fatalf("%s: only %d seeds", dir, len(entries))
		}
		for _, e := range entries {
			raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			header, value, _ := strings.Cut(string(raw), "\n")
			value = strings.TrimSpace(value)
			if header != "go test fuzz v1" || !strings.HasPrefix(value, "[]byte(") || !strings.HasSuffix(value, ")") {
				t.Fatalf("%s/%s: not a corpus file", dir, e.Name())
			}
			b, err := strconv.Unquote(value[len("[]byte(") : len(value)-1])
			if err != nil {
				t.Fatalf("%s/%s: %v", dir, e.Name(), err)
			}
			var decodeErr error
			if target == "FuzzUnmarshal" {
				_, decodeErr = Unmarshal([]byte(b))
			} else {
				_, decodeErr = UnpackLimits([]byte(b), Limits{MaxInflated: fuzzInflateLimit})
			}
			name := e.Name()
			switch {
			case strings.HasPrefix(name, "reject-") && decodeErr == nil:
				t.Errorf("%s/%s decoded", dir, name)
			case (strings.HasPrefix(name, "vector-") || strings.HasPrefix(name, "valid-")) && decodeErr != nil:
				t.Errorf("%s/%s: %v", dir, name, decodeErr)
			}
		}
	}
}
