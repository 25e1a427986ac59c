package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// verify is the receiver's side of Standard Webhooks, written from the
// spec: it accepts if any v1 signature matches the key.
func verify(key []byte, h http.Header, body []byte) bool {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(h.Get("webhook-id") + "." + h.Get("webhook-timestamp") + "." + string(body)))
	want := m.Sum(nil)
	for _, part := range strings.Split(h.Get("webhook-signature"), " ") {
		v, sig, ok := strings.Cut(part, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

func TestSignatures(t *testing.T) {
	oldKey := []byte("0123456789abcdef0123456789abcdef")
	newKey := "a raw secret, not whsec"
	type seen struct {
		h    http.Header
		body []byte
	}
	got := make(chan seen, 10)
	srv, ca := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Clone(), body}
	}))
	at := time.Unix(1_700_000_123, 0)
	ctx := context.Background()

	rotating := httpsSink(t, srv.URL, ca, func(c *HTTPConfig) {
		c.Secrets = []string{"whsec_" + base64.StdEncoding.EncodeToString(oldKey), newKey}
		c.Now = func() time.Time { return at }
	})
	body := statusPayload("sig")
	if err := rotating.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if string(s.body) != string(body) {
		t.Fatalf("body changed in transit")
	}
	if ts := s.h.Get("webhook-timestamp"); ts != "1700000123" {
		t.Errorf("timestamp %q", ts)
	}
	if n := len(strings.Split(s.h.Get("webhook-signature"), " ")); n != 2 {
		t.Errorf("%d signatures, want one per secret", n)
	}
	if !verify(oldKey, s.h, s.body) || !verify([]byte(newKey), s.h, s.body) {
		t.Errorf("signature %q does not verify with both keys", s.h.Get("webhook-signature"))
	}
	if verify([]byte("some other key"), s.h, s.body) {
		t.Error("signature verifies with a wrong key")
	}
	tampered := append([]byte(nil), s.body...)
	tampered[len(tampered)-3] ^= 1
	if verify(oldKey, s.h, tampered) {
		t.Error("signature verifies a tampered body")
	}
	firstID := s.h.Get("webhook-id")
	if firstID == "" {
		t.Fatal("no webhook-id")
	}

	// After rotation only the new key signs; the id is stable for a body
	// (retries deduplicate) and differs between bodies.
	rotated := httpsSink(t, srv.URL, ca, func(c *HTTPConfig) { c.Secrets = []string{newKey} })
	for _, b := range [][]byte{body, statusPayload("other")} {
		if err := rotated.Deliver(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	same, other := <-got, <-got
	if !verify([]byte(newKey), same.h, same.body) || verify(oldKey, same.h, same.body) {
		t.Error("rotated sink: wrong key set")
	}
	if same.h.Get("webhook-id") != firstID || other.h.Get("webhook-id") == firstID {
		t.Errorf("ids %q %q %q: want stable per body, distinct across bodies", firstID, same.h.Get("webhook-id"), other.h.Get("webhook-id"))
	}

	plain := httpsSink(t, srv.URL, ca, nil)
	if err := plain.Deliver(ctx, body); err != nil {
		t.Fatal(err)
	}
	if h := (<-got).h; h.Get("webhook-signature") != "" || h.Get("webhook-id") != "" {
		t.Error("unsigned sink sent signature headers")
	}
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{`{"statuses":[{"id":"a"}]}`, `{"statuses":[{"id":"b"}]}`}, `{"statuses":[{"id":"a"},{"id":"b"}]}`},
		{[]string{`{"contacts":[{"wa_id":"1"}],"messages":[{"id":"m1"}]}`, ` { "messages" : [ {"id":"m2"} ] , "contacts":[{"wa_id":"2"}] } `},
			`{"contacts":[{"wa_id":"1"},{"wa_id":"2"}],"messages":[{"id":"m1"},{"id":"m2"}]}`},
		{[]string{`{"statuses":[]}`, `{"errors":[{"code":1}]}`, `{"statuses":[{"id":"x"}]}`}, `{"statuses":[{"id":"x"}],"errors":[{"code":1}]}`},
		{[]string{`{"a\"b":[1]}`, `{"a\"b":[2,3]}`}, `{"a\"b":[1,2,3]}`},
		{[]string{`{}`}, `{}`},
	} {
		var in [][]byte
		for _, s := range tc.in {
			in = append(in, []byte(s))
		}
		got, err := Merge(in...)
		if err != nil || string(got) != tc.want {
			t.Errorf("Merge(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("Merge(%q) is not valid JSON", tc.in)
		}
	}
	for _, bad := range []string{``, `[]`, `{"a":1}`, `{"a":[1]`, `{"a":[1]} {}`, `{"a":{}}`, `null`, `{"a":[1,]}`} {
		if _, err := Merge([]byte(`{"a":[0]}`), []byte(bad)); err == nil {
			t.Errorf("Merge accepted %q", bad)
		}
	}
}

func FuzzMerge(f *testing.F) {
	f.Add([]byte(`{"statuses":[{"id":"a"}]}`), []byte(`{"statuses":[{"id":"b"}]}`))
	f.Add([]byte(`{"contacts":[],"messages":[1]}`), []byte(`{"messages":[2],"x":[[]]}`))
	f.Add([]byte(`{"a":[1]}`), []byte(`[1]`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		out, err := Merge(a, b)
		if err != nil {
			return
		}
		var env map[string][]json.RawMessage
		if err := json.Unmarshal(out, &env); err != nil {
			t.Fatalf("Merge(%q, %q) = %q: %v", a, b, out, err)
		}
	})
}
