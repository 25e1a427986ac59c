package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestGeneratedUpToDate fails when tokens_gen.go was edited by hand or the
// token list changed without running go generate.
func TestGeneratedUpToDate(t *testing.T) {
	src, err := os.ReadFile("../../testdata/tokens-v3.txt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := generate(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../tokens_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("tokens_gen.go is stale: run go generate ./conn/wabin/")
	}
}

func TestParseRejects(t *testing.T) {
	src, err := os.ReadFile("../../testdata/tokens-v3.txt")
	if err != nil {
		t.Fatal(err)
	}
	good := string(src)
	cases := map[string]string{
		"no version":      strings.Replace(good, "version 3\n", "", 1),
		"two versions":    strings.Replace(good, "version 3\n", "version 3\nversion 4\n", 1),
		"short single":    strings.Replace(good, "\nxmlstreamend\n", "\n", 1),
		"duplicate":       strings.Replace(good, "\nxmlstreamend\n", "\nxmlstreamstart\n", 1),
		"whitespace":      strings.Replace(good, "\nxmlstreamend\n", "\nxmlstream end\n", 1),
		"unknown section": strings.Replace(good, "[double 3]", "[triple 3]", 1),
		"bad dictionary":  strings.Replace(good, "[double 3]", "[double 4]", 1),
		"repeated dict":   strings.Replace(good, "[double 3]", "[double 2]", 1),
		"missing dict":    good[:strings.Index(good, "[double 3]")],
	}
	for name, in := range cases {
		if _, err := parse([]byte(in)); err == nil {
			t.Errorf("%s: parse succeeded", name)
		}
	}
	if _, err := parse(src); err != nil {
		t.Fatalf("good input: %v", err)
	}
}
