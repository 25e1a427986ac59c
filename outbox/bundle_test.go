package outbox

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
)

// bundleNodes renders b as the prekey service does (keys directly under
// <user>) and as a retry receipt does (<registration> beside <keys>).
func bundleNodes(b crypto.Bundle) (user, receipt wabin.Node) {
	id3 := func(id uint32) []byte { return []byte{byte(id >> 16), byte(id >> 8), byte(id)} }
	reg := binary.BigEndian.AppendUint32(nil, b.RegistrationID)
	keys := []wabin.Node{
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: b.Identity},
		{Tag: "skey", Content: []wabin.Node{{Tag: "id", Content: id3(b.SignedPreKeyID)}, {Tag: "value", Content: b.SignedPreKey}, {Tag: "signature", Content: b.Signature}}},
	}
	if b.PreKey != nil {
		keys = append(keys, wabin.Node{Tag: "key", Content: []wabin.Node{{Tag: "id", Content: id3(b.PreKeyID)}, {Tag: "value", Content: b.PreKey}}})
	}
	user = wabin.Node{Tag: "user", Content: append([]wabin.Node{{Tag: "registration", Content: reg}}, keys...)}
	receipt = wabin.Node{Tag: "receipt", Content: []wabin.Node{
		{Tag: "retry", Attrs: wabin.Attrs{"count": "2"}},
		{Tag: "registration", Content: reg},
		{Tag: "keys", Content: keys},
	}}
	return user, receipt
}

func testBundle(t testing.TB) crypto.Bundle {
	acct, spk, err := crypto.NewAccount(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pks, err := crypto.NewPreKeys(7, 1)
	if err != nil {
		t.Fatal(err)
	}
	return crypto.LocalBundle(acct, spk, &pks[0])
}

func TestParseBundleBothShapes(t *testing.T) {
	want := testBundle(t)
	user, receipt := bundleNodes(want)
	for name, n := range map[string]wabin.Node{"prekey service": user, "retry receipt": receipt} {
		got, err := ParseBundle(n)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.RegistrationID != want.RegistrationID || got.PreKeyID != 7 || got.SignedPreKeyID != want.SignedPreKeyID ||
			string(got.Identity) != string(want.Identity) || string(got.PreKey) != string(want.PreKey) {
			t.Fatalf("%s: got %+v", name, got)
		}
	}
}

func TestParseBundleRejects(t *testing.T) {
	good := testBundle(t)
	bad := good
	bad.Signature = append([]byte(nil), good.Signature...)
	bad.Signature[5] ^= 1
	badSig, _ := bundleNodes(bad)
	user, _ := bundleNodes(good)
	short := user
	short.Content = []wabin.Node{{Tag: "registration", Content: []byte{1, 2}}}
	noSkey := wabin.Node{Tag: "user", Content: user.Children()[:3]}
	for name, n := range map[string]wabin.Node{"bad signature": badSig, "short registration": short, "no skey": noSkey, "empty": {Tag: "user"}} {
		if _, err := ParseBundle(n); !errors.Is(err, crypto.ErrInvalidBundle) {
			t.Errorf("%s: %v, want ErrInvalidBundle", name, err)
		}
	}
}

// FuzzParseBundle: retry receipts carry a peer's keys, so ParseBundle
// reads attacker-chosen trees; it must answer with an error, never panic.
func FuzzParseBundle(f *testing.F) {
	user, receipt := bundleNodes(testBundle(f))
	for _, n := range []wabin.Node{user, receipt, {Tag: "user"}} {
		b, err := wabin.Marshal(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := wabin.Unmarshal(b)
		if err != nil {
			return
		}
		if bn, err := ParseBundle(n); err == nil && bn.Verify() != nil {
			t.Fatalf("accepted a bundle that does not verify")
		}
	})
}

func TestBackoffGrowsAndStaysBounded(t *testing.T) {
	lo, hi := 100*time.Millisecond, 10*time.Second
	for attempts := 1; attempts < 40; attempts++ {
		d := backoff(attempts, lo, hi)
		ceiling := min(hi, lo<<min(attempts-1, 30))
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("attempt %d: %v outside [%v, %v]", attempts, d, ceiling/2, ceiling)
		}
	}
}
