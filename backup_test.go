package waent_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/waenttest"
)

const backupPassword = "correct horse battery"

func wantErrCode(t *testing.T, err error, code int) {
	t.Helper()
	var we *waent.Error
	if !errors.As(err, &we) || we.Code != code {
		t.Fatalf("got %v, want code %d", err, code)
	}
}

// TestBackupRestoreSameNumber is the acceptance: a backup taken on one
// instance, restored on a new instance with an empty database, brings
// back the registered account without a registration code; it sends and
// receives as the same number, and its settings are back.
func TestBackupRestoreSameNumber(t *testing.T) {
	ctx := context.Background()
	net := waenttest.New(t)
	stA := memstore.New()
	a := startClient(t, net, stA)
	user := newUsers(t, net, 1)[0]
	waid := businessCC + businessNumber

	if _, err := a.PatchSettings(ctx, []byte(`{"webhooks":{"url":"https://127.0.0.1:1/wa"},"sent_status":true}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetAbout(ctx, "Backed up and restored"); err != nil {
		t.Fatal(err)
	}
	oldID, err := a.Send(ctx, text(user.Phone(), "before the move"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := user.WaitReceived(ctx, 1); err != nil {
		t.Fatal(err)
	}
	_, uploadedA, err := stA.CountPreKeys(ctx)
	if err != nil || uploadedA == 0 {
		t.Fatalf("A uploaded %d prekeys (%v)", uploadedA, err)
	}

	wantErrCode(t, func() error { _, err := a.Backup(ctx, ""); return err }(), waent.CodeMissingParameter)
	wantErrCode(t, func() error { _, err := a.Backup(ctx, "short"); return err }(), waent.CodeInvalidParameter)
	start := time.Now()
	blob, err := a.Backup(ctx, backupPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup: %d bytes of base64 in %v", len(blob), time.Since(start))
	if _, err := base64.StdEncoding.DecodeString(blob); err != nil {
		t.Fatalf("backup is not base64: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	// A new data directory: an empty SQLite database.
	stB := sqltest.Open(t, sqlstore.SQLite)
	b, err := waent.New(testConfig(net, stB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Health() != waent.HealthUnregistered {
		t.Fatalf("fresh instance health %s", b.Health())
	}
	wantErrCode(t, func() error { _, err := b.Backup(ctx, backupPassword); return err }(), waent.CodeServiceNotReady)
	loginsBefore := net.Logins(waid)

	// Wrong password and damaged data: refused, nothing written.
	wantErrCode(t, b.Restore(ctx, backupPassword+"x", blob), waent.CodeInvalidParameter)
	raw, _ := base64.StdEncoding.DecodeString(blob)
	raw[len(raw)/2] ^= 0x40
	wantErrCode(t, b.Restore(ctx, backupPassword, base64.StdEncoding.EncodeToString(raw)), waent.CodeInvalidParameter)
	wantErrCode(t, b.Restore(ctx, backupPassword, "not base64!"), waent.CodeInvalidParameter)
	wantErrCode(t, b.Restore(ctx, backupPassword, ""), waent.CodeMissingParameter)
	if acct, err := stB.GetAccount(ctx); err != nil || acct.State == store.RegistrationRegistered || acct.WAID != "" {
		t.Fatalf("after failed restores the account is %+v (%v)", acct, err)
	}
	if total, _, _ := stB.CountPreKeys(ctx); total != 0 {
		t.Fatalf("failed restores left %d prekeys", total)
	}
	if about, _ := b.About(ctx); about != "" {
		t.Fatalf("failed restores set about %q", about)
	}
	if b.WAID() != "" || b.Health() != waent.HealthUnregistered {
		t.Fatalf("failed restores changed the client: %q %s", b.WAID(), b.Health())
	}

	if err := b.Restore(ctx, backupPassword, blob); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "restored client ready", b.Ready)
	if b.WAID() != waid {
		t.Fatalf("restored WAID %q, want %q", b.WAID(), waid)
	}
	// It logged in with the restored noise key, and no registration code
	// was asked for.
	if net.Logins(waid) <= loginsBefore {
		t.Fatal("restored client did not log in")
	}
	if code, ok := net.Registration().IssuedCode(businessCC, businessNumber); ok {
		t.Fatalf("a registration code (%s) was requested during the restore", code)
	}
	if s := b.Settings(); s.Webhooks.URL != "https://127.0.0.1:1/wa" || !s.SentStatus {
		t.Fatalf("settings not restored: %+v", s.Webhooks)
	}
	if about, _ := b.About(ctx); about != "Backed up and restored" {
		t.Fatalf("about %q after restore", about)
	}
	if _, err := stB.GetMessage(ctx, oldID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a message came with the backup: %v", err)
	}
	acctA, _ := stA.GetAccount(ctx)
	acctB, _ := stB.GetAccount(ctx)
	if string(acctA.IdentityKey.Private) != string(acctB.IdentityKey.Private) || acctA.RegistrationID != acctB.RegistrationID {
		t.Fatal("the restored identity differs")
	}
	totalA, _, _ := stA.CountPreKeys(ctx)
	totalB, uploadedB, _ := stB.CountPreKeys(ctx)
	if totalB != totalA || uploadedB != uploadedA {
		t.Fatalf("prekeys: restored %d (%d uploaded), backed up %d (%d uploaded)", totalB, uploadedB, totalA, uploadedA)
	}

	// Sends work as the same number, and the user's reply comes back.
	if _, err := b.Send(ctx, text(user.Phone(), "after the move")); err != nil {
		t.Fatal(err)
	}
	got, err := user.WaitReceived(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got[1].From != waid || got[1].Text != "after the move" {
		t.Fatalf("user got %+v", got[1])
	}
	replyID, err := user.SendText(ctx, waid, "welcome back")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reply stored", func() bool { _, err := stB.GetMessage(ctx, replyID); return err == nil })

	// A user who never wrote before takes a one-time prekey A uploaded:
	// the restored instance holds its private half.
	stranger, err := net.NewUser("447700900777", waenttest.UserOptions{PushName: "Stranger"})
	if err != nil {
		t.Fatal(err)
	}
	firstID, err := stranger.SendText(ctx, waid, "hello new machine")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "first message from a new user", func() bool { _, err := stB.GetMessage(ctx, firstID); return err == nil })
	if stranger.DecryptFailures() != 0 || user.DecryptFailures() != 0 {
		t.Fatalf("decrypt failures: user %d, stranger %d", user.DecryptFailures(), stranger.DecryptFailures())
	}

	// A registered instance refuses a restore, even of its own backup.
	wantErrCode(t, b.Restore(ctx, backupPassword, blob), waent.CodeAccessDenied)
}

// TestRestoreReplacesSettings: the restored instance has exactly the
// backed-up settings, not a mix with what was set on it before.
func TestRestoreReplacesSettings(t *testing.T) {
	ctx := context.Background()
	net := waenttest.New(t)
	a := startClient(t, net, memstore.New())
	if err := a.SetAbout(ctx, "from the backup"); err != nil {
		t.Fatal(err)
	}
	blob, err := a.Backup(ctx, backupPassword)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()

	st := memstore.New()
	b, err := waent.New(testConfig(net, st))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// Not started: the restore is written and picked up by Start.
	if _, err := b.PatchSettings(ctx, []byte(`{"log_level":"debug"}`)); err != nil {
		t.Fatal(err)
	}
	addr := "Old street 1"
	if _, err := b.SetBusinessProfile(ctx, waent.BusinessProfileUpdate{Address: &addr}); err != nil {
		t.Fatal(err)
	}
	if err := b.Restore(ctx, backupPassword, blob); err != nil {
		t.Fatal(err)
	}
	if b.Settings().LogLevel != "info" {
		t.Fatalf("log_level %q survived the restore", b.Settings().LogLevel)
	}
	if bp, _ := b.BusinessProfile(ctx); bp.Address != "" {
		t.Fatalf("business profile %+v survived the restore", bp)
	}
	if about, _ := b.About(ctx); about != "from the backup" {
		t.Fatalf("about %q", about)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "restored client ready after Start", b.Ready)
	if b.WAID() != businessCC+businessNumber {
		t.Fatalf("WAID %q", b.WAID())
	}
}
