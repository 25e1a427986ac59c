package noise

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/waproto"
)

func TestCertChain(t *testing.T) {
	p := newPKI(t)
	now := time.Now()
	if err := VerifyCertChain(p.chain, p.root.Public, p.server.Public, now); err != nil {
		t.Fatalf("a fresh chain: %v", err)
	}
	leaf, inter, err := ParseCertChain(p.chain)
	if err != nil {
		t.Fatal(err)
	}
	if inter.Serial != 1 || inter.IssuerSerial != 0 || inter.Key != p.inter.Public {
		t.Errorf("intermediate %+v", inter)
	}
	if leaf.Serial != 2 || leaf.IssuerSerial != 1 || leaf.Key != p.server.Public {
		t.Errorf("leaf %+v", leaf)
	}
	if !leaf.NotBefore.Equal(now.Add(-time.Hour).Truncate(time.Second)) || !leaf.NotAfter.Equal(now.Add(24*time.Hour).Truncate(time.Second)) {
		t.Errorf("leaf validity %v .. %v", leaf.NotBefore, leaf.NotAfter)
	}

	// The validity window is inclusive at both ends, at second precision.
	for _, at := range []time.Time{leaf.NotBefore, leaf.NotAfter} {
		if err := VerifyCertChain(p.chain, p.root.Public, p.server.Public, at); err != nil {
			t.Errorf("at %v: %v", at, err)
		}
	}
}

// Each of protocol.md §1.4's checks, failing alone.
func TestVerifyCertChainRejects(t *testing.T) {
	p := newPKI(t)
	other, _ := GenerateKeyPair()
	now := time.Now()
	from, to := now.Add(-time.Hour), now.Add(time.Hour)
	goodInter := Certificate{Serial: 7, IssuerSerial: 0, Key: p.inter.Public, NotBefore: from, NotAfter: to}
	goodLeaf := Certificate{Serial: 8, IssuerSerial: 7, Key: p.server.Public, NotBefore: from, NotAfter: to}
	issue := func(root, inter KeyPair, ic, lc Certificate) []byte {
		t.Helper()
		b, err := IssueCertChain(root, inter, ic, lc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	edit := func(chain []byte, f func(*waproto.CertChain)) []byte {
		t.Helper()
		var cc waproto.CertChain
		if err := proto.Unmarshal(chain, &cc); err != nil {
			t.Fatal(err)
		}
		f(&cc)
		b, err := proto.Marshal(&cc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := issue(p.root, p.inter, goodInter, goodLeaf)
	if err := VerifyCertChain(good, p.root.Public, p.server.Public, now); err != nil {
		t.Fatalf("the baseline chain: %v", err)
	}
	with := func(f func(*Certificate)) Certificate { c := goodInter; f(&c); return c }
	withLeaf := func(f func(*Certificate)) Certificate { c := goodLeaf; f(&c); return c }

	for _, tc := range []struct {
		name   string
		chain  []byte
		static [32]byte
		want   string
	}{
		{"not a protobuf", []byte{0xff}, p.server.Public, "cannot parse"},
		{"no leaf", edit(good, func(c *waproto.CertChain) { c.Leaf = nil }), p.server.Public, "lacks"},
		{"short intermediate signature", edit(good, func(c *waproto.CertChain) { c.Intermediate.Signature = c.Intermediate.Signature[:63] }), p.server.Public, "signatures"},
		{"long leaf signature", edit(good, func(c *waproto.CertChain) { c.Leaf.Signature = append(c.Leaf.Signature, 0) }), p.server.Public, "signatures"},
		{"intermediate signed by another root", issue(other, p.inter, goodInter, goodLeaf), p.server.Public, "root"},
		{"intermediate details altered", edit(good, func(c *waproto.CertChain) { c.Intermediate.Details = append(c.Intermediate.Details, 0x08, 0x01) }), p.server.Public, "root"},
		{"intermediate issuer serial not 0", issue(p.root, p.inter, with(func(c *Certificate) { c.IssuerSerial = 3 }), goodLeaf), p.server.Public, "issuer serial is 3"},
		{"leaf signed by another intermediate", issue(p.root, other, goodInter, goodLeaf), p.server.Public, "not signed by the intermediate"},
		{"leaf details altered", edit(good, func(c *waproto.CertChain) { c.Leaf.Details = append(c.Leaf.Details, 0x08, 0x01) }), p.server.Public, "intermediate"},
		{"intermediate expired", issue(p.root, p.inter, with(func(c *Certificate) { c.NotAfter = now.Add(-time.Minute) }), goodLeaf), p.server.Public, "intermediate is valid"},
		{"leaf not yet valid", issue(p.root, p.inter, goodInter, withLeaf(func(c *Certificate) { c.NotBefore = now.Add(time.Minute) })), p.server.Public, "leaf is valid"},
		{"leaf from another issuer serial", issue(p.root, p.inter, goodInter, withLeaf(func(c *Certificate) { c.IssuerSerial = 6 })), p.server.Public, "issuer serial 6"},
		{"leaf key is not the server static", good, other.Public, "static"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyCertChain(tc.chain, p.root.Public, tc.static, now)
			if !errors.Is(err, ErrCertificate) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want ErrCertificate mentioning %q", err, tc.want)
			}
		})
	}
}

func TestIssueCertChainRejectsPre1970(t *testing.T) {
	p := newPKI(t)
	if _, err := NewCertChain(p.root, p.inter, p.server.Public, time.Time{}, time.Now()); err == nil {
		t.Fatal("a zero notBefore was accepted")
	}
	if _, err := NewCertChain(p.root, p.inter, p.server.Public, time.Unix(-5, 0), time.Now()); err == nil {
		t.Fatal("a notBefore before 1970 was accepted")
	}
}

func TestFromUnixSaturates(t *testing.T) {
	if got := fromUnix(math.MaxUint64); got.Unix() != math.MaxInt64 {
		t.Fatalf("fromUnix(MaxUint64) = %v", got.Unix())
	}
}

func TestKeyPairFromPrivate(t *testing.T) {
	kp, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if again := KeyPairFromPrivate(kp.Private); again != kp {
		t.Fatal("KeyPairFromPrivate does not reproduce a generated pair")
	}
	// An unclamped private key is clamped, so it signs consistently with
	// its public key.
	var raw [32]byte
	for i := range raw {
		raw[i] = 0xff
	}
	kp = KeyPairFromPrivate(raw)
	if kp.Private[0]&7 != 0 || kp.Private[31]&0x80 != 0 || kp.Private[31]&0x40 == 0 {
		t.Fatalf("private key not clamped: %x", kp.Private)
	}
	sig := xeddsaSign(kp.Private, []byte("m"))
	if !xeddsaVerify(kp.Public, []byte("m"), sig) {
		t.Fatal("a signature does not verify under its own key")
	}
}
