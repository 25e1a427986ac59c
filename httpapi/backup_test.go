package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/waenttest"
)

const backupPass = "Backup-pass-123"

// TestBackupRestoreEndpoints: POST /v1/settings/backup on a registered
// instance, POST /v1/settings/restore on a fresh unregistered one on the
// same network, which then sends as the same number.
func TestBackupRestoreEndpoints(t *testing.T) {
	src := newAPI(t, apiOptions{})
	ctx := context.Background()

	// Admin only.
	if res := src.do("POST", "/v1/users", map[string]string{"username": "bob1", "password": "B0b-password"}, src.admin); res.status != http.StatusCreated {
		t.Fatalf("create user: %d %s", res.status, res.raw)
	}
	bob := src.login("bob1", "B0b-password", "")
	src.do("POST", "/v1/settings/backup", map[string]string{"password": backupPass}, bob).wantError(403, waent.CodeAccessDenied)
	src.do("POST", "/v1/settings/restore", map[string]string{"password": backupPass, "data": "x"}, bob).wantError(403, waent.CodeAccessDenied)

	src.do("POST", "/v1/settings/backup", nil, src.admin).wantError(400, waent.CodeMissingParameter)
	src.do("POST", "/v1/settings/backup", map[string]string{}, src.admin).wantError(400, waent.CodeMissingParameter)
	src.do("POST", "/v1/settings/backup", `{"password":12345678}`, src.admin).wantError(400, waent.CodeInvalidRequest)
	src.do("POST", "/v1/settings/backup", map[string]string{"password": "short"}, src.admin).wantError(400, waent.CodeInvalidParameter)

	res := src.do("POST", "/v1/settings/backup", map[string]string{"password": backupPass}, src.admin)
	if res.status != http.StatusOK {
		t.Fatalf("backup: %d %s", res.status, res.raw)
	}
	var out struct {
		Settings struct {
			Data string `json:"data"`
		} `json:"settings"`
		Meta   map[string]any    `json:"meta"`
		Errors []json.RawMessage `json:"errors"`
	}
	res.decode(&out)
	if out.Meta == nil || out.Errors != nil {
		t.Fatalf("backup envelope %s", res.raw)
	}
	if _, err := base64.StdEncoding.DecodeString(out.Settings.Data); err != nil || len(out.Settings.Data) < 100 {
		t.Fatalf("backup data %q: %v", out.Settings.Data, err)
	}
	blob := out.Settings.Data

	// The target: a fresh, unregistered instance on the same network.
	dst := newAPI(t, apiOptions{unregistered: true, cfg: func(c *waent.Config) {
		c.Dialer, c.ChatRootKey, c.RegistrationURL = src.net.Dialer(), src.net.RootKey(), src.net.RegistrationURL()
	}})
	dst.do("POST", "/v1/settings/backup", map[string]string{"password": backupPass}, dst.admin).wantError(500, waent.CodeServiceNotReady)
	dst.do("POST", "/v1/settings/restore", map[string]string{"data": blob}, dst.admin).wantError(400, waent.CodeMissingParameter)
	dst.do("POST", "/v1/settings/restore", map[string]string{"password": backupPass}, dst.admin).wantError(400, waent.CodeMissingParameter)
	dst.do("POST", "/v1/settings/restore", map[string]string{"password": backupPass, "data": "%%%"}, dst.admin).wantError(400, waent.CodeInvalidParameter)
	dst.do("POST", "/v1/settings/restore", map[string]string{"password": "wrong-password", "data": blob}, dst.admin).wantError(400, waent.CodeInvalidParameter)
	if acct, err := dst.st.GetAccount(ctx); err != nil || acct.State == store.RegistrationRegistered {
		t.Fatalf("wrong password changed the account: %+v %v", acct, err)
	}

	// One connection per number: the old instance goes first.
	src.client.Close()
	res = dst.do("POST", "/v1/settings/restore", map[string]string{"password": backupPass, "data": blob}, dst.admin)
	if res.status != http.StatusOK {
		t.Fatalf("restore: %d %s", res.status, res.raw)
	}
	var env map[string]json.RawMessage
	res.decode(&env)
	if len(env) != 1 || env["meta"] == nil {
		t.Fatalf("restore answer %s, want only meta", res.raw)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !dst.client.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("restored instance not ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := dst.client.WAID(); got != businessCC+businessNumber {
		t.Fatalf("restored WAID %q", got)
	}
	if code, ok := src.net.Registration().IssuedCode(businessCC, businessNumber); ok {
		t.Fatalf("the restore asked for a registration code (%s)", code)
	}

	// It sends as the same number.
	user, err := src.net.NewUser("447700900123", waenttest.UserOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res = dst.do("POST", "/v1/messages", map[string]any{"to": user.Phone(), "type": "text", "text": map[string]string{"body": "restored"}}, dst.admin)
	if res.status != http.StatusCreated {
		t.Fatalf("send after restore: %d %s", res.status, res.raw)
	}
	got, err := user.WaitReceived(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].From != businessCC+businessNumber || got[0].Text != "restored" {
		t.Fatalf("user got %+v", got[0])
	}

	// Registered now: a second restore is refused.
	dst.do("POST", "/v1/settings/restore", map[string]string{"password": backupPass, "data": blob}, dst.admin).wantError(403, waent.CodeAccessDenied)
}
