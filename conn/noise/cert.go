package noise

import (
	"crypto/subtle"
	"fmt"
	"math"
	"sync"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/logger"
	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/waproto"
)

// Certificate is one link of the server's certificate chain, decoded.
// Times have second precision on the wire.
type Certificate struct {
	Serial, IssuerSerial uint32
	Key                  [32]byte
	NotBefore, NotAfter  time.Time
}

const sigLen = 64

// NewCertChain issues a chain for a server whose Noise static public key
// is leafKey: an intermediate certificate for intermediate.Public (serial
// 1, issuer serial 0, signed by root) and a leaf for leafKey (serial 2,
// issuer serial 1, signed by intermediate), both valid from notBefore to
// notAfter. It returns the marshaled waproto.CertChain that ServerConfig
// wants.
func NewCertChain(root, intermediate KeyPair, leafKey [32]byte, notBefore, notAfter time.Time) ([]byte, error) {
	return IssueCertChain(root, intermediate,
		Certificate{Serial: 1, IssuerSerial: 0, Key: intermediate.Public, NotBefore: notBefore, NotAfter: notAfter},
		Certificate{Serial: 2, IssuerSerial: 1, Key: leafKey, NotBefore: notBefore, NotAfter: notAfter})
}

// IssueCertChain signs inter with root and leaf with intermediate,
// exactly as given, and returns the marshaled waproto.CertChain. Unlike
// NewCertChain it does not make the chain consistent, so a test server
// can present an expired or mislinked chain.
func IssueCertChain(root, intermediate KeyPair, inter, leaf Certificate) ([]byte, error) {
	ic, err := signCert(root, inter)
	if err != nil {
		return nil, fmt.Errorf("noise: intermediate certificate: %w", err)
	}
	lc, err := signCert(intermediate, leaf)
	if err != nil {
		return nil, fmt.Errorf("noise: leaf certificate: %w", err)
	}
	b, err := proto.Marshal(&waproto.CertChain{Leaf: lc, Intermediate: ic})
	if err != nil {
		return nil, fmt.Errorf("noise: marshal certificate chain: %w", err)
	}
	return b, nil
}

func signCert(issuer KeyPair, c Certificate) (*waproto.CertChain_NoiseCertificate, error) {
	nb, err := unixSeconds(c.NotBefore)
	if err != nil {
		return nil, err
	}
	na, err := unixSeconds(c.NotAfter)
	if err != nil {
		return nil, err
	}
	details, err := proto.Marshal(&waproto.CertChain_NoiseCertificate_Details{
		Serial:       proto.Uint32(c.Serial),
		IssuerSerial: proto.Uint32(c.IssuerSerial),
		Key:          c.Key[:],
		NotBefore:    proto.Uint64(nb),
		NotAfter:     proto.Uint64(na),
	})
	if err != nil {
		return nil, err
	}
	sig := xeddsaSign(issuer.Private, details)
	return &waproto.CertChain_NoiseCertificate{Details: details, Signature: sig[:]}, nil
}

func unixSeconds(t time.Time) (uint64, error) {
	if t.IsZero() || t.Unix() < 0 {
		return 0, fmt.Errorf("validity time %v is before 1970", t)
	}
	return uint64(t.Unix()), nil
}

// ParseCertChain decodes a marshaled chain without verifying anything.
func ParseCertChain(chain []byte) (leaf, intermediate Certificate, err error) {
	var cc waproto.CertChain
	if err := proto.Unmarshal(chain, &cc); err != nil {
		return leaf, intermediate, fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	if cc.Leaf == nil || cc.Intermediate == nil {
		return leaf, intermediate, fmt.Errorf("%w: chain lacks a leaf or an intermediate", ErrCertificate)
	}
	if leaf, err = parseDetails(cc.Leaf.GetDetails(), "leaf"); err != nil {
		return leaf, intermediate, err
	}
	intermediate, err = parseDetails(cc.Intermediate.GetDetails(), "intermediate")
	return leaf, intermediate, err
}

func parseDetails(b []byte, which string) (Certificate, error) {
	var d waproto.CertChain_NoiseCertificate_Details
	if err := proto.Unmarshal(b, &d); err != nil {
		return Certificate{}, fmt.Errorf("%w: %s details: %w", ErrCertificate, which, err)
	}
	if len(d.GetKey()) != 32 {
		return Certificate{}, fmt.Errorf("%w: %s key is %d bytes, want 32", ErrCertificate, which, len(d.GetKey()))
	}
	return Certificate{
		Serial:       d.GetSerial(),
		IssuerSerial: d.GetIssuerSerial(),
		Key:          [32]byte(d.GetKey()),
		NotBefore:    fromUnix(d.GetNotBefore()),
		NotAfter:     fromUnix(d.GetNotAfter()),
	}, nil
}

// fromUnix saturates instead of wrapping: a notAfter beyond int64 seconds
// means "forever", not a date in 1901.
func fromUnix(s uint64) time.Time {
	return time.Unix(int64(min(s, math.MaxInt64)), 0)
}

// VerifyCertChain checks a marshaled chain as protocol.md §1.4 orders it:
// both signatures are 64 bytes; the intermediate's signature verifies
// under root over its raw details bytes; the intermediate's issuer serial
// is 0 and its key 32 bytes; the leaf's signature verifies under the
// intermediate key; both are valid at now; the leaf's issuer serial is
// the intermediate's serial; and the leaf key equals serverStatic. All
// failures wrap ErrCertificate.
func VerifyCertChain(chain []byte, root [32]byte, serverStatic [32]byte, now time.Time) error {
	var cc waproto.CertChain
	if err := proto.Unmarshal(chain, &cc); err != nil {
		return fmt.Errorf("%w: %w", ErrCertificate, err)
	}
	leaf, inter := cc.GetLeaf(), cc.GetIntermediate()
	if leaf == nil || inter == nil {
		return fmt.Errorf("%w: chain lacks a leaf or an intermediate", ErrCertificate)
	}
	if len(inter.GetSignature()) != sigLen || len(leaf.GetSignature()) != sigLen {
		return fmt.Errorf("%w: signatures are %d and %d bytes, want %d", ErrCertificate, len(inter.GetSignature()), len(leaf.GetSignature()), sigLen)
	}
	if !xeddsaVerify(root, inter.GetDetails(), [sigLen]byte(inter.GetSignature())) {
		return fmt.Errorf("%w: intermediate is not signed by the trusted root", ErrCertificate)
	}
	ic, err := parseDetails(inter.GetDetails(), "intermediate")
	if err != nil {
		return err
	}
	if ic.IssuerSerial != 0 {
		return fmt.Errorf("%w: intermediate issuer serial is %d, want 0", ErrCertificate, ic.IssuerSerial)
	}
	if !xeddsaVerify(ic.Key, leaf.GetDetails(), [sigLen]byte(leaf.GetSignature())) {
		return fmt.Errorf("%w: leaf is not signed by the intermediate", ErrCertificate)
	}
	lc, err := parseDetails(leaf.GetDetails(), "leaf")
	if err != nil {
		return err
	}
	for _, c := range []struct {
		name string
		cert Certificate
	}{{"intermediate", ic}, {"leaf", lc}} {
		if now.Before(c.cert.NotBefore) || now.After(c.cert.NotAfter) {
			return fmt.Errorf("%w: %s is valid from %v to %v, not at %v", ErrCertificate, c.name,
				c.cert.NotBefore.UTC(), c.cert.NotAfter.UTC(), now.UTC())
		}
	}
	if lc.IssuerSerial != ic.Serial {
		return fmt.Errorf("%w: leaf issuer serial %d is not the intermediate's serial %d", ErrCertificate, lc.IssuerSerial, ic.Serial)
	}
	if subtle.ConstantTimeCompare(lc.Key[:], serverStatic[:]) != 1 {
		return fmt.Errorf("%w: leaf key is not the server's static key", ErrCertificate)
	}
	return nil
}

// libsignalReady initialises libsignal's logger once. Its first use
// lazily assigns a package variable without synchronisation, which is a
// data race when two handshakes verify certificates at the same time.
var libsignalReady = sync.OnceFunc(func() { logger.Debug() })

func xeddsaSign(priv [32]byte, msg []byte) [sigLen]byte {
	libsignalReady()
	return ecc.CalculateSignature(ecc.NewDjbECPrivateKey(priv), msg)
}

func xeddsaVerify(pub [32]byte, msg []byte, sig [sigLen]byte) bool {
	libsignalReady()
	return ecc.VerifySignature(ecc.NewDjbECPublicKey(pub), msg, sig)
}
