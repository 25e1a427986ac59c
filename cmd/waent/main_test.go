package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
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
