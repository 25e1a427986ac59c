package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeChatHost accepts TCP connections on loopback, standing in for a
// chat host's port, and closes them.
func fakeChatHost(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().(*net.TCPAddr).Port
}

// closedPort is a loopback port nobody listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func noEnv(string) string { return "" }

func rowStatus(results []checkResult, name string) checkStatus {
	for _, r := range results {
		if r.Name == name {
			return r.Status
		}
	}
	return ""
}

func TestDoctorPassesAgainstLoopback(t *testing.T) {
	port := fakeChatHost(t)
	reg := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotFound) }))
	defer reg.Close()
	data := t.TempDir()
	c := serverConfig{dataDir: data, registrationURL: reg.URL, log: logFlags{file: ""}}
	c.resolve()
	results := runDoctor(context.Background(), &c, doctorEnv{
		getenv: noEnv, http: reg.Client(), timeout: 2 * time.Second, minFree: 10 << 20,
		hosts: []string{"127.0.0.1"}, ports: []int{port},
	})
	var out bytes.Buffer
	if printChecks(&out, results) {
		t.Fatalf("doctor failed:\n%s", out.String())
	}
	for _, name := range []string{"tcp 127.0.0.1:" + strconv.Itoa(port), "https " + strings.TrimPrefix(reg.URL, "https://"), "database sqlite", "disk data", "disk media", "disk log"} {
		if st := rowStatus(results, name); st != checkPass {
			t.Errorf("%s: %q\n%s", name, st, out.String())
		}
	}
	if !regexp.MustCompile(`(?m)^CHECK\s+RESULT\s+DETAIL$`).MatchString(out.String()) || !strings.Contains(out.String(), "all ") {
		t.Fatalf("table:\n%s", out.String())
	}
}

func TestDoctorReportsFailures(t *testing.T) {
	port, closed := fakeChatHost(t), closedPort(t)
	c := serverConfig{dataDir: t.TempDir(), registrationURL: "https://127.0.0.1:" + strconv.Itoa(closed) + "/", log: logFlags{file: "-"}}
	c.resolve()
	env := func(k string) string {
		if k == "HTTPS_PROXY" {
			return "http://user:hunter2@127.0.0.1:1"
		}
		if k == "NO_PROXY" {
			return "127.0.0.1"
		}
		return ""
	}
	results := runDoctor(context.Background(), &c, doctorEnv{
		getenv: env, timeout: 2 * time.Second, minFree: 1 << 60, // more than any disk has
		hosts: []string{"127.0.0.1"}, ports: []int{port, closed},
	})
	var out bytes.Buffer
	if !printChecks(&out, results) {
		t.Fatalf("doctor passed:\n%s", out.String())
	}
	want := map[string]checkStatus{
		"tcp 127.0.0.1:" + strconv.Itoa(port):     checkPass,
		"tcp 127.0.0.1:" + strconv.Itoa(closed):   checkFail,
		"https 127.0.0.1:" + strconv.Itoa(closed): checkFail,
		"disk data":         checkFail,
		"disk log":          checkInfo,
		"proxy HTTPS_PROXY": checkInfo,
	}
	for name, st := range want {
		if got := rowStatus(results, name); got != st {
			t.Errorf("%s: %q, want %q", name, got, st)
		}
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("the proxy password is printed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "checks failed") {
		t.Errorf("no summary:\n%s", out.String())
	}
}

func TestDoctorCommandExitStatus(t *testing.T) {
	port, closed := fakeChatHost(t), closedPort(t)
	reg := httptest.NewServer(http.NotFoundHandler())
	defer reg.Close()
	dir := t.TempDir()
	args := func(p int) []string {
		return []string{"doctor", "--hosts", "127.0.0.1", "--chat-hosts", "127.0.0.1", "--chat-ports", strconv.Itoa(p),
			"--registration-url", reg.URL, "--data", dir, "--timeout", "2s"}
	}
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	t.Setenv("HTTP_PROXY", "")
	t.Setenv("http_proxy", "")
	t.Setenv("ALL_PROXY", "")
	t.Setenv("all_proxy", "")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args(port), &out, &errOut); code != 0 {
		t.Fatalf("healthy doctor exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	// Plain-HTTP registration is a warning, not a failure.
	if !strings.Contains(out.String(), "WARN") {
		t.Errorf("no warning for http registration:\n%s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), args(closed), &out, &errOut); code != 1 {
		t.Fatalf("doctor with an unreachable port exit %d:\n%s", code, out.String())
	}
	// A database the doctor can read after migrate creates it.
	dsn := "sqlite:" + filepath.Join(dir, "waent.db")
	if code := run(context.Background(), []string{"migrate", "--dsn", dsn}, &out, &errOut); code != 0 {
		t.Fatal(errOut.String())
	}
	if r := dbCheck(context.Background(), dsn, 2*time.Second); r.Status != checkPass || !strings.Contains(r.Detail, "SQLite 3.") {
		t.Fatalf("%+v", r)
	}
}

func TestMySQLVersionSupport(t *testing.T) {
	for v, ok := range map[string]bool{
		"8.0.36": true, "5.7.44-log": true, "5.6.51": false, "10.11.6-MariaDB-0+deb12u1": true,
		"10.1.48-MariaDB": false, "junk": false,
	} {
		if got, _ := mysqlSupported(v); got != ok {
			t.Errorf("%s: %v, want %v", v, got, ok)
		}
	}
}
