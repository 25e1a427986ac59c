package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMigrateCreatesSQLiteDatabase(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "data", "waent.db")
	for range 2 { // the second run finds the schema current
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"migrate", "--dsn", dsn}, &out, &errOut); code != 0 {
			t.Fatalf("migrate exited %d: %s", code, errOut.String())
		}
		if !strings.Contains(out.String(), "sqlite database is at schema version") {
			t.Fatalf("migrate printed %q", out.String())
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), "unknown command") {
		t.Fatalf("stderr %q", errOut.String())
	}
}

// TestMain lets a test run this binary's main as a child process: with
// WAENT_TEST_MAIN=1 the test binary is the waent command, so the sandbox
// tests exercise flag parsing, signal handling and exit codes exactly as
// a built binary would, without a separate go build.
func TestMain(m *testing.M) {
	if os.Getenv("WAENT_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestFlagsEnvAndConfigFile(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "waent.json")
	if err := os.WriteFile(cfgFile, []byte(`{"listen":"127.0.0.1:1","log-level":"debug","chat-ports":[5222,443],"data":"/from/file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WAENT_LOG_LEVEL", "warn") // env beats the file
	t.Setenv("WAENT_DATA", "/from/env") // the flag beats env
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c serverConfig
	c.register(fs)
	if err := parseFlags(fs, []string{"--config", cfgFile, "--data", "/from/flag"}, "config"); err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:1" || c.log.level != "warn" || c.dataDir != "/from/flag" || c.chatPorts != "5222,443" {
		t.Fatalf("listen %q level %q data %q ports %q", c.listen, c.log.level, c.dataDir, c.chatPorts)
	}
	c.resolve()
	if c.dsn != "sqlite:/from/flag/waent.db" || c.mediaDir != "/from/flag/media" {
		t.Fatalf("derived dsn %q media %q", c.dsn, c.mediaDir)
	}

	// A typo in the file is an error, not silently ignored.
	if err := os.WriteFile(cfgFile, []byte(`{"lissten":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fs2 := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	var c2 serverConfig
	c2.register(fs2)
	if err := parseFlags(fs2, []string{"--config", cfgFile}, "config"); err == nil || !strings.Contains(err.Error(), `unknown key "lissten"`) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"serve", "--listen", "0.0.0.0:8443", "--registration-url", "https://v.example",
		"--root-key", strings.Repeat("ab", 32), "--data", t.TempDir()}, &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), "not a loopback address") {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestLogRotationKeepsCompressedBackups(t *testing.T) {
	dir := t.TempDir()
	lf := logFlags{level: "info", format: "json", file: filepath.Join(dir, "waent.log"), maxSizeMB: 1, backups: 2}
	log, closer, err := lf.open(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 1000)
	for range 3 * 1100 { // a bit over 3 MB: three rotations
		log.Info(line)
	}
	closer.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gz, _ := filepath.Glob(filepath.Join(dir, "waent-*.log.gz"))
		plain, _ := filepath.Glob(filepath.Join(dir, "waent-*.log"))
		if len(gz) == 2 && len(plain) == 0 {
			break // two backups kept, both compressed; the oldest removed
		}
		if time.Now().After(deadline) {
			t.Fatalf("backups: %d compressed %v, %d plain %v", len(gz), gz, len(plain), plain)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(dir, "waent.log")); err != nil {
		t.Fatalf("live log: %v", err)
	}
}
