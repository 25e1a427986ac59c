package storetest

import (
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func template(ns, name, lang string, st store.TemplateStatus, d time.Duration) store.Template {
	return store.Template{
		TemplateKey: store.TemplateKey{Namespace: ns, Name: name, Language: lang},
		Category:    "MARKETING",
		Status:      st,
		Components:  []byte(`[{"type":"BODY", "text":"Hello {{1}}, from ` + ns + "/" + name + "/" + lang + `"}]`),
		UpdatedAt:   at(d),
	}
}

func testTemplates(t *testing.T, s store.Store) {
	ctx := t.Context()
	checkGet := func(what string, want store.Template) {
		t.Helper()
		got, err := s.GetTemplate(ctx, want.TemplateKey)
		if ok(t, "GetTemplate "+what, err) {
			equal(t, "GetTemplate "+what, got, want)
		}
	}
	checkList := func(what string, f store.TemplateFilter, want ...store.Template) {
		t.Helper()
		got, err := s.ListTemplates(ctx, f)
		if ok(t, "ListTemplates "+what, err) {
			equal(t, "ListTemplates "+what, got, want)
		}
	}

	welcomeEN := template("ns1", "welcome", "en_US", store.TemplateApproved, 0)
	welcomeES := template("ns1", "welcome", "es", store.TemplatePending, time.Second)
	alertEN := template("ns1", "alert", "en_US", store.TemplateRejected, 2*time.Second)
	other := template("ns2", "welcome", "en", store.TemplateDisabled, 3*time.Second)
	other.Category, other.Components = "UTILITY", nil
	english := template("ns1", "welcome", "en", store.TemplatePaused, 4*time.Second)

	_, err := s.GetTemplate(ctx, welcomeEN.TemplateKey)
	isErr(t, "GetTemplate when empty", err, store.ErrNotFound)
	checkList("when empty", store.TemplateFilter{})

	bad := template("ns1", "welcome", "en_US", "bogus", 0)
	isErr(t, "PutTemplates with an unknown status", s.PutTemplates(ctx, []store.Template{alertEN, bad}), store.ErrInvalid)
	bad = template("ns1", "welcome", "", store.TemplateApproved, 0)
	isErr(t, "PutTemplates without a language", s.PutTemplates(ctx, []store.Template{alertEN, bad}), store.ErrInvalid)
	bad = template("", "welcome", "en", store.TemplateApproved, 0)
	isErr(t, "PutTemplates without a namespace", s.PutTemplates(ctx, []store.Template{alertEN, bad}), store.ErrInvalid)
	checkList("after invalid batches", store.TemplateFilter{})

	must(t, "PutTemplates", s.PutTemplates(ctx, []store.Template{welcomeEN, other, welcomeES, alertEN, english}))
	for _, tp := range []store.Template{welcomeEN, welcomeES, alertEN, other, english} {
		checkGet("after put", tp)
	}
	_, err = s.GetTemplate(ctx, store.TemplateKey{Namespace: "ns1", Name: "welcome", Language: "fr"})
	isErr(t, "GetTemplate of another language", err, store.ErrNotFound)

	checkList("all", store.TemplateFilter{}, alertEN, english, welcomeEN, welcomeES, other)
	checkList("by namespace", store.TemplateFilter{Namespace: "ns1"}, alertEN, english, welcomeEN, welcomeES)
	checkList("by name", store.TemplateFilter{Name: "welcome"}, english, welcomeEN, welcomeES, other)
	checkList("by namespace and name", store.TemplateFilter{Namespace: "ns1", Name: "welcome"}, english, welcomeEN, welcomeES)
	checkList("matching nothing", store.TemplateFilter{Namespace: "ns3"})
	checkList("matching nothing by name", store.TemplateFilter{Name: "welcom"})

	// Upsert by key.
	welcomeES2 := template("ns1", "welcome", "es", store.TemplateApproved, time.Hour)
	welcomeES2.Category, welcomeES2.Components = "UTILITY", []byte(`[{"type":"BODY","text":"Hola {{1}}"}]`)
	must(t, "PutTemplates (upsert)", s.PutTemplates(ctx, []store.Template{welcomeES2}))
	checkGet("after upsert", welcomeES2)
	checkList("after upsert", store.TemplateFilter{Namespace: "ns1", Name: "welcome"}, english, welcomeEN, welcomeES2)

	must(t, "DeleteTemplate", s.DeleteTemplate(ctx, alertEN.TemplateKey))
	_, err = s.GetTemplate(ctx, alertEN.TemplateKey)
	isErr(t, "GetTemplate after delete", err, store.ErrNotFound)
	absentDelete(t, "DeleteTemplate", s.DeleteTemplate(ctx, alertEN.TemplateKey))
	checkList("after delete", store.TemplateFilter{}, english, welcomeEN, welcomeES2, other)
}
