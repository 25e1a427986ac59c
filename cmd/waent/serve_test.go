package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/waenttest"
)

// runServe runs `waent serve` in-process until the returned stop is
// called; it returns the base URL and stop, which reports the exit code.
func runServe(t *testing.T, args []string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errOut bytes.Buffer
	code := make(chan int, 1)
	go func() {
		c := run(ctx, append([]string{"serve"}, args...), pw, &errOut)
		pw.Close()
		code <- c
	}()
	sc := bufio.NewScanner(pr)
	var base string
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "waent serving the /v1 API on "); ok {
			base = rest
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if base == "" {
		cancel()
		t.Fatalf("serve exited %d: %s", <-code, errOut.String())
	}
	return base, func() int {
		cancel()
		select {
		case c := <-code:
			if c != 0 {
				t.Logf("serve stderr: %s", errOut.String())
			}
			return c
		case <-time.After(60 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
}

func call(t *testing.T, method, url, token string, body any, basic ...string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func tokenOf(t *testing.T, out map[string]any) string {
	t.Helper()
	users, _ := out["users"].([]any)
	if len(users) == 0 {
		t.Fatalf("no token in %v", out)
	}
	tok, _ := users[0].(map[string]any)["token"].(string)
	return tok
}

// TestServeRegistersSendsAndRestarts runs serve against a simulated
// network given only by flags (chat host and ports, root key,
// registration URL): registration over /v1/account, a send, then a
// graceful stop and a restart on the same data that finds the account,
// users and message again.
func TestServeRegistersSendsAndRestarts(t *testing.T) {
	simNet := waenttest.New(t)
	host, p1, p2 := simNet.ChatAddr()
	root := simNet.RootKey()
	data := t.TempDir()
	args := []string{"--listen", "127.0.0.1:0", "--data", data, "--chat-hosts", host,
		"--chat-ports", strconv.Itoa(p1) + "," + strconv.Itoa(p2),
		"--root-key", hex.EncodeToString(root[:]), "--registration-url", simNet.RegistrationURL()}
	// Some configuration from the environment, as a container would.
	t.Setenv("WAENT_LOG_FORMAT", "text")
	t.Setenv("WAENT_LOG_LEVEL", "info")
	base, stop := runServe(t, args)

	_, out := call(t, "POST", base+"/v1/users/login", "", map[string]string{"new_password": "Serve-Pass-7"}, "admin", "secret")
	tok := tokenOf(t, out)
	if st, out := call(t, "POST", base+"/v1/account", tok, map[string]string{"cc": "1", "phone_number": "5550100", "method": "sms"}); st != 202 && st != 201 {
		t.Fatalf("register: %d %v", st, out)
	}
	code, ok := simNet.Registration().IssuedCode("1", "5550100")
	if !ok {
		t.Fatal("no code issued")
	}
	if st, out := call(t, "POST", base+"/v1/account/verify", tok, map[string]string{"code": code}); st != 201 && st != 200 {
		t.Fatalf("verify: %d %v", st, out)
	}
	alice, err := simNet.NewUser("447700900001", waenttest.UserOptions{PushName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	send := map[string]any{"to": alice.Phone(), "type": "text", "text": map[string]string{"body": "hello via serve"}}
	var id string
	deadline := time.Now().Add(30 * time.Second)
	for { // 1011 until the connection is up and the backlog processed
		st, out := call(t, "POST", base+"/v1/messages", tok, send)
		if st == 201 {
			id, _ = out["messages"].([]any)[0].(map[string]any)["id"].(string)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send: %d %v", st, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := alice.WaitReceived(ctx, 1)
	if err != nil || got[0].ID != id || got[0].Text != "hello via serve" {
		t.Fatalf("Alice got %+v, %v", got, err)
	}
	if c := stop(); c != 0 {
		t.Fatalf("serve exit %d after cancel", c)
	}
	logText, err := os.ReadFile(filepath.Join(data, "logs", "waent.log"))
	if err != nil || !strings.Contains(string(logText), "msg=\"waent serving\"") {
		t.Fatalf("log file: %v\n%s", err, logText)
	}

	// Same data again: the new password, the registration and the
	// message are all still there.
	base, stop = runServe(t, args)
	defer stop()
	_, out = call(t, "POST", base+"/v1/users/login", "", nil, "admin", "Serve-Pass-7")
	tok = tokenOf(t, out)
	deadline = time.Now().Add(30 * time.Second)
	for {
		st, out := call(t, "POST", base+"/v1/messages", tok, map[string]any{"to": alice.Phone(), "type": "text", "text": map[string]string{"body": "after restart"}})
		if st == 201 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("send after restart: %d %v", st, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// At least once: a message whose server ack had not arrived when
	// serve stopped is sent again after the restart under the same id,
	// and the phone drops the copy (Duplicates counts it). What must hold
	// is that nothing is lost and nothing is shown twice.
	got2, err := alice.WaitReceived(ctx, 2)
	if err != nil || len(got2) != 2 || got2[0].ID != id || got2[1].Text != "after restart" {
		t.Fatalf("after restart Alice got %+v (dups %d), %v", got2, alice.Duplicates(), err)
	}
	if d := alice.Duplicates(); d > 1 {
		t.Fatalf("Alice saw %d redeliveries; at most the one unacked message may come again", d)
	}
}

// TestServeHTTPS serves the API over TLS with the given certificate.
func TestServeHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := writeSelfSigned(t, dir)
	simNet := waenttest.New(t)
	root := simNet.RootKey()
	base, stop := runServe(t, []string{"--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
		"--data", dir, "--log-file", "-", "--log-level", "error",
		"--root-key", base64.StdEncoding.EncodeToString(root[:]), "--registration-url", simNet.RegistrationURL()})
	defer stop()
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base %s", base)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	res, err := hc.Get(base + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.TLS == nil {
		t.Fatalf("GET /v1/health over TLS: %d, tls %v", res.StatusCode, res.TLS != nil)
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
