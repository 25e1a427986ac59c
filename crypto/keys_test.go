package crypto

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/curve25519"

	"github.com/waent/waent/store"
)

func TestNewAccount(t *testing.T) {
	now := time.Now()
	acct, spk, err := NewAccount(now)
	if err != nil {
		t.Fatal(err)
	}
	for name, kp := range map[string]store.KeyPair{"noise": acct.NoiseKey, "identity": acct.IdentityKey, "signed prekey": spk.Key} {
		pub, err := curve25519.X25519(kp.Private, curve25519.Basepoint)
		if err != nil || !bytes.Equal(pub, kp.Public) {
			t.Errorf("%s: public key does not match private key", name)
		}
		if p := kp.Private; p[0]&7 != 0 || p[31]&0x80 != 0 || p[31]&0x40 == 0 {
			t.Errorf("%s: private key not clamped", name)
		}
	}
	if bytes.Equal(acct.NoiseKey.Private, acct.IdentityKey.Private) {
		t.Error("noise and identity keys are the same")
	}
	if acct.RegistrationID == 0 || acct.State != store.RegistrationNone || spk.ID != 1 || !spk.CreatedAt.Equal(now) {
		t.Errorf("account %+v, spk id %d", acct, spk.ID)
	}
	if err := LocalBundle(acct, spk, nil).Verify(); err != nil {
		t.Errorf("own bundle does not verify: %v", err)
	}
	if _, err := New(acct, Options{}); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestNewRejectsBadAccount(t *testing.T) {
	acct, _, err := NewAccount(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateKeyPair()
	for name, mutate := range map[string]func(a *store.Account){
		"mismatched pair": func(a *store.Account) { a.IdentityKey.Public = other.Public },
		"short key":       func(a *store.Account) { a.IdentityKey.Private = a.IdentityKey.Private[:31] },
		"no reg id":       func(a *store.Account) { a.RegistrationID = 0 },
	} {
		a := acct
		mutate(&a)
		if _, err := New(a, Options{}); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestNewPreKeys(t *testing.T) {
	keys, err := NewPreKeys(store.MaxKeyID-2, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []uint32{store.MaxKeyID - 2, store.MaxKeyID - 1, 1, 2}
	for i, k := range keys {
		if k.ID != want[i] {
			t.Fatalf("ids %v, want %v", keys, want)
		}
		if err := k.Validate(); err != nil || k.Uploaded {
			t.Fatalf("key %d: %v, uploaded %v", k.ID, err, k.Uploaded)
		}
	}
	for _, bad := range []struct {
		first uint32
		n     int
	}{{0, 1}, {store.MaxKeyID, 1}, {1, -1}} {
		if _, err := NewPreKeys(bad.first, bad.n); err == nil {
			t.Errorf("NewPreKeys(%d, %d) succeeded", bad.first, bad.n)
		}
	}
	if _, err := NewSignedPreKey(store.KeyPair{}, 1, time.Now()); err == nil {
		t.Error("NewSignedPreKey without identity succeeded")
	}
}

func TestBundleVerify(t *testing.T) {
	acct, spk, err := NewAccount(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pks, _ := NewPreKeys(1, 1)
	b := LocalBundle(acct, spk, &pks[0])
	if err := b.Verify(); err != nil {
		t.Fatal(err)
	}
	if b.PreKeyID != 1 || !bytes.Equal(b.PreKey, pks[0].Key.Public) || b.RegistrationID != acct.RegistrationID {
		t.Fatalf("LocalBundle = %+v", b)
	}
	b.SignedPreKeyID = store.MaxKeyID
	if err := b.Verify(); !errors.Is(err, ErrInvalidBundle) {
		t.Fatalf("out of range signed prekey id: %v", err)
	}
}
