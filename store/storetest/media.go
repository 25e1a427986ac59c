package storetest

import (
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func media(id string, lastUsed time.Duration) store.Media {
	return store.Media{
		ID:         id,
		Origin:     store.MediaUploaded,
		MimeType:   "image/jpeg",
		Size:       12345,
		SHA256:     hashOf(id),
		Filename:   id + ".jpg",
		CreatedAt:  at(-24 * time.Hour),
		LastUsedAt: at(lastUsed),
	}
}

func testMedia(t *testing.T, s store.Store) {
	ctx := t.Context()
	check := func(what string, want store.Media) {
		t.Helper()
		got, err := s.GetMedia(ctx, want.ID)
		if ok(t, "GetMedia "+what, err) {
			equal(t, "GetMedia "+what, got, want)
		}
	}
	checkUnused := func(what string, before time.Time, limit int, want ...store.Media) {
		t.Helper()
		got, err := s.UnusedMedia(ctx, before, limit)
		if ok(t, "UnusedMedia "+what, err) {
			equal(t, "UnusedMedia "+what, got, want)
		}
	}

	m1 := media("8f1c4f5e-0a8e-4c57-9d2e-1b7a0c3f2d11", 0)
	m1.SHA256 = nil // optional
	m2 := store.Media{
		ID:            "inbound-2",
		Origin:        store.MediaInbound,
		MimeType:      "application/pdf",
		Size:          100 << 20,
		SHA256:        hashOf("two"),
		Filename:      "report.pdf",
		CreatedAt:     at(time.Minute),
		LastUsedAt:    at(2 * time.Minute),
		MediaKey:      key(7),
		FileEncSHA256: hashOf("two-enc"),
		DirectPath:    "/v/t62.7119-24/12345_67890.enc?ccb=11-4",
		UploadedAt:    at(3 * time.Minute),
	}

	_, err := s.GetMedia(ctx, m1.ID)
	isErr(t, "GetMedia when empty", err, store.ErrNotFound)
	checkUnused("when empty", at(time.Hour), 10)

	for _, c := range []struct {
		what   string
		mutate func(*store.Media)
	}{
		{"an empty id", func(m *store.Media) { m.ID = "" }},
		{"an unknown origin", func(m *store.Media) { m.Origin = "stolen" }},
		{"no mime type", func(m *store.Media) { m.MimeType = "" }},
		{"a negative size", func(m *store.Media) { m.Size = -1 }},
		{"a 31-byte sha256", func(m *store.Media) { m.SHA256 = m.SHA256[:31] }},
		{"a 31-byte media key", func(m *store.Media) { m.MediaKey = key(1)[:31] }},
	} {
		bad := media("bad-media", 0)
		c.mutate(&bad)
		isErr(t, "CreateMedia with "+c.what, s.CreateMedia(ctx, bad), store.ErrInvalid)
	}
	_, err = s.GetMedia(ctx, "bad-media")
	isErr(t, "GetMedia after invalid creates", err, store.ErrNotFound)

	must(t, "CreateMedia", s.CreateMedia(ctx, m1))
	must(t, "CreateMedia", s.CreateMedia(ctx, m2))
	check("after create", m1)
	check("after create (every field set)", m2)

	dup := m2
	dup.ID, dup.MimeType = m1.ID, "video/mp4"
	isErr(t, "CreateMedia of an existing id", s.CreateMedia(ctx, dup), store.ErrConflict)
	check("after a duplicate create", m1)

	// Update replaces every field but CreatedAt, clearing fields too.
	m1b := m2
	m1b.ID = m1.ID
	m1b.CreatedAt = at(50 * time.Hour)
	m1b.LastUsedAt = at(time.Hour)
	must(t, "UpdateMedia", s.UpdateMedia(ctx, m1b))
	m1b.CreatedAt = m1.CreatedAt
	check("after update", m1b)
	m2b := m2
	m2b.MediaKey, m2b.FileEncSHA256, m2b.DirectPath, m2b.UploadedAt = nil, nil, "", time.Time{}
	m2b.Filename = ""
	must(t, "UpdateMedia clearing the upload", s.UpdateMedia(ctx, m2b))
	check("after clearing the upload", m2b)
	isErr(t, "UpdateMedia of an absent id", s.UpdateMedia(ctx, media("absent", 0)), store.ErrNotFound)
	_, err = s.GetMedia(ctx, "absent")
	isErr(t, "GetMedia after updating an absent id", err, store.ErrNotFound)
	bad := m2b
	bad.Origin = "stolen"
	isErr(t, "UpdateMedia with an unknown origin", s.UpdateMedia(ctx, bad), store.ErrInvalid)
	check("after an invalid update", m2b)

	// Least recently used first.
	m3, m4, m5 := media("m3", -3*time.Hour), media("m4", -time.Hour), media("m5", -2*time.Hour)
	for _, m := range []store.Media{m3, m4, m5} {
		must(t, "CreateMedia", s.CreateMedia(ctx, m))
	}
	checkUnused("before -30m", at(-30*time.Minute), 10, m3, m5, m4)
	checkUnused("before -30m, limit 2", at(-30*time.Minute), 2, m3, m5)
	checkUnused("before -90m", at(-90*time.Minute), 10, m3, m5)
	checkUnused("before -5h", at(-5*time.Hour), 10)
	checkUnused("before +90m", at(90*time.Minute), 10, m3, m5, m4, m2b, m1b)

	must(t, "DeleteMedia", s.DeleteMedia(ctx, m3.ID))
	_, err = s.GetMedia(ctx, m3.ID)
	isErr(t, "GetMedia after delete", err, store.ErrNotFound)
	absentDelete(t, "DeleteMedia", s.DeleteMedia(ctx, m3.ID))
	checkUnused("after delete", at(-30*time.Minute), 10, m5, m4)
}
