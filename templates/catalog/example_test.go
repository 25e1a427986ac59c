package catalog_test

import (
	"fmt"
	"log"

	"github.com/waent/waent/templates/catalog"
)

// A phone renders a template from its own copy: the parameters arrive
// flattened (header, body, buttons) and are split by the template's slots.
func ExampleTemplate_Render() {
	t := catalog.Template{Namespace: "acme_ns", Name: "shipped", Language: "en", Status: "approved",
		Components: []catalog.Component{
			{Type: catalog.Header, Text: "Order {{1}}"},
			{Type: catalog.Body, Text: "Hi {{1}}, it ships {{2}}."},
			{Type: catalog.Buttons, Buttons: []catalog.Button{{Type: catalog.URLButton, Text: "Track", URL: "https://acme.example/t/{{1}}"}}},
		}}
	r, err := t.Render([]string{"#42", "Jane", "today", "X42"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Text())
	fmt.Println(r.Buttons[0].URL)
	// Output:
	// Order #42
	// Hi Jane, it ships today.
	// [Track]
	// https://acme.example/t/X42
}
