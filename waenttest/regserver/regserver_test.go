package regserver_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/waenttest/regserver"
)

// These tests speak the wire protocol by hand, independently of package
// conn/register, so a mistake shared by client and server cannot hide.

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// params is a valid query for cc 1, number 6315550000, and the key it
// registers.
func params() (url.Values, [32]byte) {
	var key [32]byte
	rand.Read(key[:])
	return url.Values{
		"cc": {"1"}, "in": {"6315550000"}, "lg": {"en"}, "lc": {"US"},
		"id":         {b64(randBytes(20))},
		"authkey":    {b64(key[:])},
		"e_regid":    {b64([]byte{0, 0, 0x30, 0x39})},
		"e_keytype":  {b64([]byte{5})},
		"e_ident":    {b64(randBytes(32))},
		"e_skey_id":  {b64([]byte{0, 0, 1})},
		"e_skey_val": {b64(randBytes(32))},
		"e_skey_sig": {b64(randBytes(64))},
	}, key
}

type reply struct {
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	Param      string `json:"param"`
	Login      string `json:"login"`
	Type       string `json:"type"`
	Method     string `json:"method"`
	Length     int    `json:"length"`
	RetryAfter int64  `json:"retry_after"`
	SMSWait    int64  `json:"sms_wait"`
	VoiceWait  int64  `json:"voice_wait"`
}

func get(t testing.TB, base, endpoint, rawQuery string) reply {
	t.Helper()
	resp, err := http.Get(base + "/v2/" + endpoint + "?" + rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("%s: HTTP %s, %s", endpoint, resp.Status, resp.Header.Get("Content-Type"))
	}
	var r reply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func with(q url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

func start(t *testing.T, opts regserver.Options) (*regserver.Server, string) {
	t.Helper()
	s := regserver.New(opts)
	web := httptest.NewServer(s)
	t.Cleanup(web.Close)
	return s, web.URL
}

func TestBadParams(t *testing.T) {
	_, base := start(t, regserver.Options{})
	good, _ := params()
	good.Set("method", "sms")
	padded := b64(randBytes(32)) + "="

	cases := []struct {
		name, endpoint, query string
		reason, param         string
	}{
		{"bad escape", "code", "cc=%zz", "bad_param", "query"},
		{"duplicate", "code", with(good).Encode() + "&cc=44", "bad_param", "cc"},
		{"letters in cc", "code", with(good, "cc", "1a").Encode(), "bad_param", "cc"},
		{"plus in cc", "code", with(good, "cc", "+1").Encode(), "bad_param", "cc"},
		{"leading zero cc", "code", with(good, "cc", "01").Encode(), "bad_param", "cc"},
		{"long cc", "code", with(good, "cc", "1234").Encode(), "bad_param", "cc"},
		{"short in", "code", with(good, "in", "123").Encode(), "bad_param", "in"},
		{"over 15 digits", "code", with(good, "in", "631555000012345").Encode(), "bad_param", "in"},
		{"lg upper", "code", with(good, "lg", "EN").Encode(), "bad_param", "lg"},
		{"lc lower", "code", with(good, "lc", "us").Encode(), "bad_param", "lc"},
		{"id short", "code", with(good, "id", b64(randBytes(19))).Encode(), "bad_param", "id"},
		{"authkey std alphabet", "code", with(good, "authkey", strings.Repeat("+/", 21)+"AA").Encode(), "bad_param", "authkey"},
		{"authkey padded", "code", with(good, "authkey", padded).Encode(), "bad_param", "authkey"},
		{"authkey zero", "code", with(good, "authkey", b64(make([]byte, 32))).Encode(), "bad_param", "authkey"},
		{"authkey short", "code", with(good, "authkey", b64(randBytes(31))).Encode(), "bad_param", "authkey"},
		{"regid 3 bytes", "code", with(good, "e_regid", b64(randBytes(3))).Encode(), "bad_param", "e_regid"},
		{"keytype 6", "code", with(good, "e_keytype", b64([]byte{6})).Encode(), "bad_param", "e_keytype"},
		{"ident 33", "code", with(good, "e_ident", b64(randBytes(33))).Encode(), "bad_param", "e_ident"},
		{"skey id 4", "code", with(good, "e_skey_id", b64(randBytes(4))).Encode(), "bad_param", "e_skey_id"},
		{"skey val 31", "code", with(good, "e_skey_val", b64(randBytes(31))).Encode(), "bad_param", "e_skey_val"},
		{"skey sig 63", "code", with(good, "e_skey_sig", b64(randBytes(63))).Encode(), "bad_param", "e_skey_sig"},
		{"non-canonical base64", "code", with(good, "e_keytype", "Bf").Encode(), "bad_param", "e_keytype"},
		{"method fax", "code", with(good, "method", "fax").Encode(), "bad_param", "method"},
		{"code letters", "register", with(good, "code", "12a456").Encode(), "bad_param", "code"},
		{"code short", "register", with(good, "code", "12345").Encode(), "bad_param", "code"},
		{"code long", "register", with(good, "code", "1234567").Encode(), "bad_param", "code"},
	}
	for _, name := range []string{"cc", "in", "lg", "lc", "id", "authkey", "e_regid", "e_keytype", "e_ident", "e_skey_id", "e_skey_val", "e_skey_sig", "method"} {
		q := with(good)
		q.Del(name)
		cases = append(cases, struct{ name, endpoint, query, reason, param string }{"missing " + name, "code", q.Encode(), "missing", name})
	}
	cases = append(cases, struct{ name, endpoint, query, reason, param string }{"missing code", "register", good.Encode(), "missing", "code"})
	cases = append(cases, struct{ name, endpoint, query, reason, param string }{"empty value", "exist", with(good, "in", "").Encode(), "missing", "in"})

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, base, tc.endpoint, tc.query)
			if r.Status != "fail" || r.Reason != tc.reason || r.Param != tc.param {
				t.Fatalf("reply %+v, want fail/%s param %s", r, tc.reason, tc.param)
			}
		})
	}
	if r := get(t, base, "code", good.Encode()); r.Status != "sent" {
		t.Fatalf("the valid query was refused: %+v", r)
	}
}

func TestRoutes(t *testing.T) {
	_, base := start(t, regserver.Options{})
	q, _ := params()
	resp, err := http.Post(base+"/v2/exist?"+q.Encode(), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %s", resp.Status)
	}
	resp, err = http.Get(base + "/v2/unknown?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown path: %s", resp.Status)
	}
}

func TestRegisterReplies(t *testing.T) {
	s, base := start(t, regserver.Options{CodeLength: 8})
	q, key := params()

	if r := get(t, base, "exist", q.Encode()); r.Status != "fail" || r.Reason != "incorrect" || r.Login != "16315550000" {
		t.Fatalf("exist before: %+v", r)
	}
	r := get(t, base, "code", with(q, "method", "voice").Encode())
	if r.Status != "sent" || r.Method != "voice" || r.Length != 8 || r.Login != "16315550000" {
		t.Fatalf("code: %+v", r)
	}
	code, ok := s.IssuedCode("1", "6315550000")
	if !ok || len(code) != 8 {
		t.Fatalf("IssuedCode = %q, %v", code, ok)
	}
	r = get(t, base, "register", with(q, "code", code).Encode())
	if r.Status != "ok" || r.Type != "new" || r.Login != "16315550000" {
		t.Fatalf("register: %+v", r)
	}
	if got, _ := s.Registered("16315550000"); got != key {
		t.Fatal("Registered returns another key")
	}
	if r := get(t, base, "exist", q.Encode()); r.Status != "ok" || r.Type != "existing" {
		t.Fatalf("exist after: %+v", r)
	}
	if r := get(t, base, "code", with(q, "method", "sms").Encode()); r.Status != "ok" {
		t.Fatalf("code when registered to this key: %+v, want ok (nothing to do)", r)
	}
	if r := get(t, base, "register", with(q, "code", code).Encode()); r.Reason != "stale" {
		t.Fatalf("reused code: %+v, want fail/stale", r)
	}

	// A new installation takes the number over: type existing, new key.
	q2, key2 := params()
	if r := get(t, base, "code", with(q2, "method", "sms").Encode()); r.Status != "sent" {
		t.Fatalf("code for the new install: %+v", r)
	}
	code, _ = s.IssuedCode("1", "6315550000")
	if r := get(t, base, "register", with(q2, "code", code).Encode()); r.Status != "ok" || r.Type != "existing" {
		t.Fatalf("takeover: %+v, want ok/existing", r)
	}
	if got, _ := s.Registered("16315550000"); got != key2 {
		t.Fatal("the takeover did not replace the key")
	}
}

func TestTooRecent(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	_, base := start(t, regserver.Options{Now: clock, RetryAfter: 90 * time.Second})
	q, _ := params()
	q.Set("method", "sms")
	if r := get(t, base, "code", q.Encode()); r.Status != "sent" || r.RetryAfter != 90 || r.SMSWait != 90 || r.VoiceWait != 90 {
		t.Fatalf("first: %+v", r)
	}
	advance(500 * time.Millisecond)
	if r := get(t, base, "code", q.Encode()); r.Reason != "too_recent" || r.RetryAfter != 90 {
		t.Fatalf("early: %+v, want too_recent with 90s (rounded up)", r)
	}
	advance(89500 * time.Millisecond)
	if r := get(t, base, "code", q.Encode()); r.Status != "sent" {
		t.Fatalf("on time: %+v", r)
	}
}

// TestCodesPerNumberBounded: only the three newest codes stay valid.
func TestCodesPerNumberBounded(t *testing.T) {
	s, base := start(t, regserver.Options{})
	q, _ := params()
	var codes []string
	for range 5 {
		if r := get(t, base, "code", with(q, "method", "sms").Encode()); r.Status != "sent" {
			t.Fatal(r)
		}
		c, _ := s.IssuedCode("1", "6315550000")
		codes = append(codes, c)
	}
	for _, later := range codes[2:] {
		if later == codes[0] {
			t.Skip("random codes coincided")
		}
	}
	if r := get(t, base, "register", with(q, "code", codes[0]).Encode()); r.Reason != "incorrect" {
		t.Fatalf("the oldest of five codes: %+v, want incorrect", r)
	}
	if r := get(t, base, "register", with(q, "code", codes[2]).Encode()); r.Status != "ok" {
		t.Fatalf("the third newest code: %+v, want ok", r)
	}
}

// TestPendingBounded: numbers with outstanding codes are capped; the
// longest idle go first.
func TestPendingBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s, base := start(t, regserver.Options{Now: clock, MaxPending: 10})
	for i := range 50 {
		mu.Lock()
		now = now.Add(time.Second)
		mu.Unlock()
		q, _ := params()
		if r := get(t, base, "code", with(q, "in", fmt.Sprintf("55500%05d", i), "method", "sms").Encode()); r.Status != "sent" {
			t.Fatal(r)
		}
	}
	kept := 0
	for i := range 50 {
		if _, ok := s.IssuedCode("1", fmt.Sprintf("55500%05d", i)); ok {
			kept++
			if i < 40 {
				t.Errorf("number %d kept over newer ones", i)
			}
		}
	}
	if kept != 10 {
		t.Fatalf("%d numbers keep codes, want the cap of 10", kept)
	}
}

func TestBlockedEverywhere(t *testing.T) {
	s, base := start(t, regserver.Options{})
	q, key := params()
	s.Register("16315550000", key)
	s.Block("16315550000")
	for _, ep := range []string{"exist", "code", "register"} {
		r := get(t, base, ep, with(q, "method", "sms", "code", "123456").Encode())
		if r.Status != "fail" || r.Reason != "blocked" {
			t.Errorf("%s: %+v, want fail/blocked", ep, r)
		}
	}
	if _, ok := s.Registered("16315550000"); ok {
		t.Fatal("blocked number reported registered")
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	s, base := start(t, regserver.Options{})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			q, key := params()
			in := fmt.Sprintf("77700%05d", i)
			q.Set("in", in)
			if r := get(t, base, "code", with(q, "method", "sms").Encode()); r.Status != "sent" {
				t.Error(r)
				return
			}
			code, _ := s.IssuedCode("1", in)
			if r := get(t, base, "register", with(q, "code", code).Encode()); r.Status != "ok" {
				t.Error(r)
				return
			}
			if got, ok := s.Registered("1" + in); !ok || got != key {
				t.Errorf("%s: wrong key", in)
			}
		})
	}
	wg.Wait()
}
