package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/waent/waent/waenttest"
)

type ctContactsAnswer struct {
	Contacts []struct {
		Input  string  `json:"input"`
		Status string  `json:"status"`
		WAID   *string `json:"wa_id"`
	} `json:"contacts"`
}

// TestCheckContacts: numbers in any format come back in request order
// with their status; wa_id only for valid ones.
func TestCheckContacts(t *testing.T) {
	a := newAPI(t, apiOptions{})
	for _, p := range []string{"16315551001", "16315551004", "16315551005"} {
		if _, err := a.net.NewUser(p, waenttest.UserOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	inputs := []string{"+1 631 555 1001", "6315551004", "+1 (631) 555-1004", "1-631-555-1005", "+1 631 555 9999", "not a number"}
	want := []struct{ status, waID string }{
		{"valid", "16315551001"}, {"valid", "16315551004"}, {"valid", "16315551004"},
		{"valid", "16315551005"}, {"invalid", ""}, {"invalid", ""},
	}
	res := a.do("POST", "/v1/contacts", map[string]any{"blocking": "wait", "contacts": inputs, "force_check": true}, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("contacts: %d %s", res.status, res.raw)
	}
	var out ctContactsAnswer
	res.decode(&out)
	if len(out.Contacts) != len(inputs) {
		t.Fatalf("answer %s", res.raw)
	}
	for i, c := range out.Contacts {
		if c.Input != inputs[i] || c.Status != want[i].status {
			t.Errorf("contact %d: %+v, want input %q status %s", i, c, inputs[i], want[i].status)
		}
		switch {
		case want[i].waID == "" && c.WAID != nil:
			t.Errorf("contact %d %q: wa_id %q on a %s number", i, c.Input, *c.WAID, c.Status)
		case want[i].waID != "" && (c.WAID == nil || *c.WAID != want[i].waID):
			t.Errorf("contact %d %q: wa_id %v, want %s", i, c.Input, c.WAID, want[i].waID)
		}
	}

	// no_wait: a number not in the cache is "processing", then checked in
	// the background; a cached one answers at once.
	res = a.do("POST", "/v1/contacts", map[string]any{"contacts": []string{"+1 631 555 1005", "+1 631 555 1001"}}, a.admin)
	out = ctContactsAnswer{}
	res.decode(&out)
	if res.status != 200 || len(out.Contacts) != 2 || out.Contacts[0].Status != "processing" || out.Contacts[0].WAID != nil ||
		out.Contacts[1].Status != "valid" {
		t.Fatalf("no_wait: %d %s", res.status, res.raw)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		res = a.do("POST", "/v1/contacts", map[string]any{"blocking": "no_wait", "contacts": []string{"+1 631 555 1005"}}, a.admin)
		out = ctContactsAnswer{}
		res.decode(&out)
		if len(out.Contacts) == 1 && out.Contacts[0].Status == "valid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("background check never finished: %s", res.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCheckContactsErrors covers each documented refusal.
func TestCheckContactsErrors(t *testing.T) {
	a := newAPI(t, apiOptions{})
	tests := []struct {
		name   string
		body   any
		status int
		code   int
		detail string
	}{
		{"contacts missing", map[string]any{"blocking": "wait"}, 400, 1008, "Missing mandatory parameter 'contacts'"},
		{"contacts empty", map[string]any{"contacts": []string{}}, 400, 1008, "Missing mandatory parameter 'contacts'"},
		{"blocking invalid", map[string]any{"blocking": "sometimes", "contacts": []string{"1"}}, 400, 1009,
			"Parameter 'blocking' has invalid value 'sometimes'"},
		{"invalid JSON", `{"contacts":[`, 400, 1025, ""},
		{"contacts not strings", `{"contacts":[16315551001]}`, 400, 1025, ""},
		{"empty body", ``, 400, 1008, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := a.do("POST", "/v1/contacts", tc.body, a.admin)
			env := msgErrorOf(t, res)
			if res.status != tc.status || env.Errors[0].Code != tc.code {
				t.Fatalf("got %d %s, want %d / %d", res.status, res.raw, tc.status, tc.code)
			}
			if tc.detail != "" && env.Errors[0].Details != tc.detail {
				t.Errorf("details %q, want %q", env.Errors[0].Details, tc.detail)
			}
		})
	}
}

type ctIdentity struct {
	Hash             string `json:"hash"`
	CreatedTimestamp int64  `json:"created_timestamp"`
	Acknowledged     bool   `json:"acknowledged"`
}

func ctGetIdentity(t testing.TB, a *api, waID string) ctIdentity {
	t.Helper()
	res := a.do("GET", "/v1/contacts/"+waID+"/identity", nil, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("GET identity: %d %s", res.status, res.raw)
	}
	var out struct {
		Contacts *ctIdentity `json:"contacts"`
	}
	res.decode(&out)
	if out.Contacts == nil || out.Contacts.Hash == "" {
		t.Fatalf("identity answer %s", res.raw)
	}
	return *out.Contacts
}

// ctChangeIdentity reinstalls u and has it write to the business, which
// records its new identity unacknowledged; it returns the new hash.
func ctChangeIdentity(t testing.TB, a *api, u *waenttest.User) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	before := ctGetIdentity(t, a, u.Phone())
	if err := u.Reinstall(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := u.SendText(ctx, a.client.WAID(), "new phone, who dis"); err != nil {
		t.Fatal(err)
	}
	for {
		id := ctGetIdentity(t, a, u.Phone())
		if !id.Acknowledged {
			if id.Hash == before.Hash {
				t.Fatalf("identity changed but hash %s did not", id.Hash)
			}
			return id.Hash
		}
		if ctx.Err() != nil {
			t.Fatal("identity change never recorded")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIdentity: GET answers the peer's identity as one "contacts" object
// (hash, created_timestamp in ms, acknowledged); after a change PUT with
// the current hash acknowledges it; wrong hashes, unknown peers and bad
// ids are refused with their codes.
func TestIdentity(t *testing.T) {
	a := newAPI(t, apiOptions{})
	start := time.Now()
	u, err := a.net.NewUser("16315551040", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a.do("GET", "/v1/contacts/16315551040/identity", nil, a.admin).wantError(404, 1006)
	a.do("PUT", "/v1/contacts/16315551040/identity", map[string]string{"hash": "UKD6Y/5SqDU="}, a.admin).wantError(404, 1006)

	id := msgSentID(t, a.do("POST", "/v1/messages", map[string]any{"to": u.Phone(), "text": map[string]string{"body": "hi"}}, a.admin))
	msgWaitReceived(t, u, id)
	res := a.do("GET", "/v1/contacts/16315551040/identity", nil, a.admin)
	var raw struct {
		Contacts json.RawMessage `json:"contacts"`
	}
	res.decode(&raw)
	if len(raw.Contacts) == 0 || raw.Contacts[0] != '{' {
		t.Fatalf("contacts is not an object: %s", res.raw)
	}
	first := ctGetIdentity(t, a, "+16315551040")
	if !first.Acknowledged || len(first.Hash) != 12 {
		t.Fatalf("first identity %+v: want acknowledged with a 12-character hash", first)
	}
	if ms := first.CreatedTimestamp; ms < start.Add(-time.Minute).UnixMilli() || ms > time.Now().Add(time.Minute).UnixMilli() {
		t.Fatalf("created_timestamp %d is not milliseconds of now", ms)
	}

	hash := ctChangeIdentity(t, a, u)
	a.do("PUT", "/v1/contacts/16315551040/identity", map[string]string{"hash": first.Hash}, a.admin).wantError(400, 1009)
	a.do("PUT", "/v1/contacts/16315551040/identity", map[string]string{}, a.admin).wantError(400, 1008)
	a.do("PUT", "/v1/contacts/16315551040/identity", `{"hash":`, a.admin).wantError(400, 1025)
	if got := ctGetIdentity(t, a, "16315551040"); got.Acknowledged {
		t.Fatal("acknowledged by a refused PUT")
	}
	res = a.do("PUT", "/v1/contacts/16315551040/identity", map[string]string{"hash": hash}, a.admin)
	if res.status != http.StatusOK {
		t.Fatalf("acknowledge: %d %s", res.status, res.raw)
	}
	if got := ctGetIdentity(t, a, "16315551040"); !got.Acknowledged || got.Hash != hash {
		t.Fatalf("after acknowledging: %+v", got)
	}

	a.do("GET", "/v1/contacts/abc/identity", nil, a.admin).wantError(400, 1009)
	a.do("PUT", "/v1/contacts/abc/identity", map[string]string{"hash": hash}, a.admin).wantError(400, 1009)
	if res := a.do("GET", "/v1/contacts/16315551040/identity", nil, ""); res.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d", res.status)
	}
}
