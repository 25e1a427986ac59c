package crypto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// cheap keeps the tests fast; the format is the same at any cost.
var cheap = BackupParams{Time: 1, Memory: 64, Threads: 1}

func TestBackupSealOpen(t *testing.T) {
	plain := []byte(`{"account":"secret keys"}`)
	sealed, err := SealBackup(plain, "correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, plain) || bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("plaintext visible in the sealed backup")
	}
	got, err := OpenBackup(sealed, "correct horse")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %q, %v", got, err)
	}
	// Fresh salt and nonce every time.
	again, err := SealBackup(plain, "correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same backup are identical")
	}
	if _, err := OpenBackup(sealed, "correct hors"); !errors.Is(err, ErrBackupAuth) {
		t.Fatalf("wrong password: %v, want ErrBackupAuth", err)
	}
	if _, err := SealBackup(plain, "", cheap); err == nil {
		t.Fatal("empty password accepted")
	}
}

// TestBackupParamsTravelInHeader: a blob sealed with other costs opens
// without being told them, and the costs are authenticated.
func TestBackupParamsTravelInHeader(t *testing.T) {
	p := BackupParams{Time: 2, Memory: 128, Threads: 2}
	sealed, err := SealBackup([]byte("x"), "pw", p)
	if err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(sealed[6:10]); got != 2 {
		t.Fatalf("time in header = %d", got)
	}
	if got := binary.BigEndian.Uint32(sealed[10:14]); got != 128 {
		t.Fatalf("memory in header = %d", got)
	}
	if _, err := OpenBackup(sealed, "pw"); err != nil {
		t.Fatal(err)
	}
	// Lowering the cost in the header (still in range) must not yield the
	// plaintext: the header is additional data.
	forged := bytes.Clone(sealed)
	binary.BigEndian.PutUint32(forged[6:10], 1)
	if _, err := OpenBackup(forged, "pw"); !errors.Is(err, ErrBackupAuth) {
		t.Fatalf("altered header: %v, want ErrBackupAuth", err)
	}
}

func TestBackupTampering(t *testing.T) {
	sealed, err := SealBackup(bytes.Repeat([]byte("k"), 100), "pw", cheap)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{16, 35, 50, len(sealed) - 1} { // salt, nonce, ciphertext, tag
		b := bytes.Clone(sealed)
		b[i] ^= 1
		if _, err := OpenBackup(b, "pw"); !errors.Is(err, ErrBackupAuth) {
			t.Errorf("byte %d flipped: %v, want ErrBackupAuth", i, err)
		}
	}
	huge := bytes.Clone(sealed)
	binary.BigEndian.PutUint32(huge[10:14], 1<<31) // 2 TiB of memory
	start := time.Now()
	if _, err := OpenBackup(huge, "pw"); !errors.Is(err, ErrBackupFormat) {
		t.Errorf("absurd memory cost: %v, want ErrBackupFormat", err)
	}
	if time.Since(start) > time.Second {
		t.Error("absurd memory cost was attempted")
	}
	for name, b := range map[string][]byte{
		"empty":       nil,
		"garbage":     []byte("not a backup at all, just some text"),
		"version 2":   append([]byte("WAEB\x02"), sealed[5:]...),
		"truncated":   sealed[:30],
		"no tag":      sealed[:44+15],
		"short salt":  append(append([]byte{}, sealed[:15]...), 4),
		"zero time":   append(append(append([]byte{}, sealed[:6]...), 0, 0, 0, 0), sealed[10:]...),
		"zero thread": append(append(append([]byte{}, sealed[:14]...), 0), sealed[15:]...),
	} {
		if _, err := OpenBackup(b, "pw"); !errors.Is(err, ErrBackupFormat) {
			t.Errorf("%s: %v, want ErrBackupFormat", name, err)
		}
	}
}

func TestBackupParamsBounds(t *testing.T) {
	for _, p := range []BackupParams{{}, {Time: 1, Memory: 4, Threads: 1}, {Time: 1, Memory: 64, Threads: 0}, {Time: 100, Memory: 64, Threads: 1}} {
		if _, err := SealBackup([]byte("x"), "pw", p); err == nil {
			t.Errorf("params %+v accepted", p)
		}
	}
	if err := DefaultBackupParams().validate(); err != nil {
		t.Fatal(err)
	}
}
