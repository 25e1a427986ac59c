package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testDirectory(t *testing.T, s store.Store) {
	t.Run("Contacts", func(t *testing.T) { testContacts(t, s) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, s) })
}

func testContacts(t *testing.T, s store.Store) {
	ctx := t.Context()
	checkGet := func(what string, inputs []string, want ...store.Contact) {
		t.Helper()
		got, err := s.GetContacts(ctx, inputs)
		if ok(t, "GetContacts "+what, err) {
			equal(t, "GetContacts "+what, got, want)
		}
	}

	c1 := store.Contact{Input: "+1 555 0100", WAID: "15550100", Status: store.ContactValid, CheckedAt: at(0)}
	c2 := store.Contact{Input: "+1 555 0199", Status: store.ContactInvalid, CheckedAt: at(10 * time.Second)}
	c3 := store.Contact{Input: "abc", Status: store.ContactProcessing, CheckedAt: at(time.Minute)}
	all := []string{c1.Input, c2.Input, c3.Input}

	checkGet("when empty", all)

	// Invalid entries fail the whole batch.
	for _, c := range []struct {
		what string
		bad  store.Contact
	}{
		{"an empty input", store.Contact{Status: store.ContactInvalid, CheckedAt: at(0)}},
		{"a 256-byte input", store.Contact{Input: strings.Repeat("1", 256), Status: store.ContactInvalid, CheckedAt: at(0)}},
		{"an unknown status", store.Contact{Input: "x", Status: "maybe", CheckedAt: at(0)}},
		{"a valid status without a wa_id", store.Contact{Input: "y", Status: store.ContactValid, CheckedAt: at(0)}},
	} {
		isErr(t, "PutContacts with "+c.what, s.PutContacts(ctx, []store.Contact{c1, c.bad}), store.ErrInvalid)
	}
	checkGet("after invalid batches", all)

	must(t, "PutContacts", s.PutContacts(ctx, []store.Contact{c1, c2, c3}))
	// Only the inputs that have an entry, in the order asked.
	checkGet("in input order", []string{c3.Input, "+1 555 0000", c1.Input, c2.Input}, c3, c1, c2)
	checkGet("one", []string{c2.Input}, c2)
	checkGet("unknown only", []string{"nobody"})
	checkGet("no inputs", nil)

	// Upsert by input.
	c1b := store.Contact{Input: c1.Input, Status: store.ContactInvalid, CheckedAt: at(2 * time.Hour)}
	c4 := store.Contact{Input: "+44 20 7946 0000", WAID: "442079460000", Status: store.ContactValid, CheckedAt: at(3 * time.Hour)}
	must(t, "PutContacts (upsert)", s.PutContacts(ctx, []store.Contact{c1b, c4}))
	checkGet("after upsert", []string{c1.Input, c2.Input, c3.Input, c4.Input}, c1b, c2, c3, c4)

	_, err := s.PruneContacts(ctx, at(30*time.Second), 0)
	isErr(t, "PruneContacts without a limit", err, store.ErrInvalid)
	n, err := s.PruneContacts(ctx, at(30*time.Second), 10)
	if ok(t, "PruneContacts", err) && n != 1 {
		t.Errorf("PruneContacts before +30s = %d, want 1", n)
	}
	checkGet("after prune", []string{c1.Input, c2.Input, c3.Input, c4.Input}, c1b, c3, c4)
	n, err = s.PruneContacts(ctx, at(30*time.Second), 10)
	if ok(t, "PruneContacts again", err) && n != 0 {
		t.Errorf("PruneContacts again = %d, want 0", n)
	}
}

func testSettings(t *testing.T, s store.Store) {
	ctx := t.Context()
	const app, profile = "application", "profile"
	check := func(what string, want store.SettingsDoc) {
		t.Helper()
		got, err := s.GetSettings(ctx, want.Name)
		if ok(t, "GetSettings "+what, err) {
			equal(t, "GetSettings "+what, got, want)
		}
	}
	put := func(what, name string, value []byte, expect int64, when time.Time) store.SettingsDoc {
		t.Helper()
		got, err := s.PutSettings(ctx, name, value, expect, when)
		must(t, "PutSettings "+what, err)
		want := store.SettingsDoc{Name: name, Version: expect + 1, Value: value, UpdatedAt: when}
		equal(t, "PutSettings "+what+": returned document", got, want)
		return want
	}

	_, err := s.GetSettings(ctx, app)
	isErr(t, "GetSettings when empty", err, store.ErrNotFound)

	v1 := []byte(`{"webhooks": {"url":"https://example.com/hook"},  "callback_persist":true}`)
	v2 := []byte(`{"webhooks": {"url":"https://example.com/hook2"}}`)
	v3 := []byte(`{"sent_status":true}`)

	doc := put("creating", app, v1, 0, at(0))
	check("after create", doc)
	doc = put("version 1 -> 2", app, v2, 1, at(time.Minute))
	check("after update", doc)

	// Stale or wrong versions conflict and change nothing.
	_, err = s.PutSettings(ctx, app, v3, 1, at(2*time.Minute))
	isErr(t, "PutSettings with a stale version", err, store.ErrConflict)
	_, err = s.PutSettings(ctx, app, v3, 0, at(2*time.Minute))
	isErr(t, "PutSettings creating a document that exists", err, store.ErrConflict)
	_, err = s.PutSettings(ctx, app, v3, 5, at(2*time.Minute))
	isErr(t, "PutSettings with a future version", err, store.ErrConflict)
	check("after conflicts", doc)
	_, err = s.PutSettings(ctx, profile, v3, 1, at(2*time.Minute))
	isErr(t, "PutSettings with version 1 of an absent document", err, store.ErrConflict)
	_, err = s.GetSettings(ctx, profile)
	isErr(t, "GetSettings after a conflicting put", err, store.ErrNotFound)

	// Names.
	_, err = s.PutSettings(ctx, "", v3, 0, at(0))
	isErr(t, "PutSettings with an empty name", err, store.ErrInvalid)
	_, err = s.PutSettings(ctx, strings.Repeat("n", 65), v3, 0, at(0))
	isErr(t, "PutSettings with a 65-byte name", err, store.ErrInvalid)
	long := put("with a 64-byte name", strings.Repeat("n", 64), v3, 0, at(0))
	check("with a 64-byte name", long)

	prof := put("another name", profile, v3, 0, at(3*time.Minute))
	must(t, "DeleteSettings", s.DeleteSettings(ctx, app))
	_, err = s.GetSettings(ctx, app)
	isErr(t, "GetSettings after delete", err, store.ErrNotFound)
	isErr(t, "DeleteSettings again", s.DeleteSettings(ctx, app), store.ErrNotFound)
	check("not deleted", prof)
	_, err = s.PutSettings(ctx, app, v3, 2, at(4*time.Minute))
	isErr(t, "PutSettings with the version from before the delete", err, store.ErrConflict)
	doc = put("re-creating after delete", app, v3, 0, at(4*time.Minute))
	check("after re-create", doc)
}
