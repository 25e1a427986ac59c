package templates_test

import (
	"context"
	"fmt"
	"log"

	"github.com/waent/waent/content"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/templates"
	"github.com/waent/waent/templates/catalog"
)

// A catalogue pulled from the server validates sends before they are
// accepted: here a legacy hsm send with one parameter too many.
func Example() {
	ctx := context.Background()
	cat, err := templates.New(templates.Config{Store: memstore.New()})
	if err != nil {
		log.Fatal(err)
	}
	err = cat.Apply(ctx, templates.Snapshot{Namespace: "acme_ns", Templates: []catalog.Template{{
		Namespace: "acme_ns", Name: "welcome", Language: "en", Status: "approved",
		Components: []catalog.Component{{Type: catalog.Body, Text: "Welcome, {{1}}!"}},
	}}})
	if err != nil {
		log.Fatal(err)
	}
	msg := &content.Outgoing{To: "15550001", Type: "hsm", HSM: &content.HSM{
		Namespace: "acme_ns", ElementName: "welcome",
		Language:          &content.Language{Policy: "deterministic", Code: "en"},
		LocalizableParams: []content.LocalizableParam{{Default: "Jane"}, {Default: "extra"}},
	}}
	_, err = cat.Validate(msg)
	fmt.Println(err)
	// Output: 2000 Template Param Count Mismatch: Number of localizable_params 2 does not match the expected number of params 1
}
