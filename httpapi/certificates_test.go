package httpapi_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"testing"
	"time"
)

// chainPEM makes a root, an intermediate and a leaf (with its key),
// valid from an hour ago for a day.
func chainPEM(t *testing.T) (root, inter, leaf, key []byte) {
	t.Helper()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tmpl := func(n int64, ca bool) *x509.Certificate {
		c := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "c" + string(rune('0'+n))},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: ca}
		if ca {
			c.KeyUsage = x509.KeyUsageCertSign
		}
		return c
	}
	issue := func(tm, parent *x509.Certificate, pub, signer any) (*x509.Certificate, []byte) {
		der, err := x509.CreateCertificate(rand.Reader, tm, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	rk, ik, lk := newKey(), newKey(), newKey()
	rc, root := issue(tmpl(1, true), tmpl(1, true), &rk.PublicKey, rk)
	ic, inter := issue(tmpl(2, true), rc, &ik.PublicKey, rk)
	_, leaf = issue(tmpl(3, false), ic, &lk.PublicKey, ik)
	der, _ := x509.MarshalPKCS8PrivateKey(lk)
	key = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return root, inter, leaf, key
}

func TestWebhookCAAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	const path = "/v1/certificates/webhooks/ca"
	root, inter, _, key := chainPEM(t)
	if res := a.do("GET", path, nil, a.admin); res.status != http.StatusNotFound || len(res.raw) != 0 {
		t.Fatalf("GET before upload: %d %q", res.status, res.raw)
	}
	a.raw("POST", path, "text/plain", []byte("not a certificate")).wantError(400, 1009)
	a.raw("POST", path, "text/plain", key).wantError(400, 1009)
	a.raw("POST", path, "text/plain", nil).wantError(400, 1008)
	bundle := append(append([]byte{}, root...), inter...)
	if res := a.raw("POST", path, "text/plain", bundle); res.status != http.StatusCreated {
		t.Fatalf("POST CA: %d %s", res.status, res.raw)
	}
	res := a.do("GET", path, nil, a.admin)
	if res.status != 200 || res.header.Get("Content-Type") != "text/plain; charset=utf-8" || !bytes.Equal(res.raw, bundle) {
		t.Fatalf("GET CA: %d %v %q", res.status, res.header, res.raw)
	}
	if res := a.do("DELETE", path, nil, a.admin); res.status != 200 {
		t.Fatalf("DELETE CA: %d %s", res.status, res.raw)
	}
	if res := a.do("GET", path, nil, a.admin); res.status != http.StatusNotFound || len(res.raw) != 0 {
		t.Fatalf("GET after DELETE: %d %q", res.status, res.raw)
	}
}

func TestExternalCertAPI(t *testing.T) {
	a := newAPI(t, apiOptions{})
	root, inter, leaf, key := chainPEM(t)
	if res := a.do("GET", "/v1/certificates/external/ca", nil, a.admin); res.status != http.StatusNotFound || len(res.raw) != 0 {
		t.Fatalf("GET before upload: %d %q", res.status, res.raw)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	// Fewer than three sections, or out of order.
	a.raw("POST", "/v1/certificates/external", "text/plain", cat(key, leaf)).wantError(400, 1009)
	a.raw("POST", "/v1/certificates/external", "text/plain", cat(leaf, key, inter)).wantError(400, 1009)
	if res := a.raw("POST", "/v1/certificates/external", "text/plain", cat(key, leaf, inter, root)); res.status != http.StatusCreated {
		t.Fatalf("POST external: %d %s", res.status, res.raw)
	}
	res := a.do("GET", "/v1/certificates/external/ca", nil, a.admin)
	if res.status != 200 || !bytes.Equal(res.raw, cat(inter, root)) {
		t.Fatalf("GET external CA: %d %q", res.status, res.raw)
	}
	cert, err := a.client.ExternalCert(t.Context())
	if err != nil || len(cert.Certificate) != 3 {
		t.Fatalf("ExternalCert: %v", err)
	}
}
