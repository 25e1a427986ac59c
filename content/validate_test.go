package content

import (
	"errors"
	"strings"
	"testing"
)

// validBodies are accepted requests of every type; each must pass.
var validBodies = map[string]string{
	"text":         `{"to":"1555","type":"text","text":{"body":"hi"}}`,
	"text default": `{"to":"1555","text":{"body":"hi"}}`,
	"text preview": `{"to":"1555","preview_url":true,"recipient_type":"individual","text":{"body":"see https://example.com"}}`,
	"text reply":   `{"to":"1555","context":{"message_id":"gBE1"},"text":{"body":"hi"}}`,
	"group":        `{"to":"1555-1600000000","recipient_type":"group","text":{"body":"hi"}}`,
	"ttl":          `{"to":"1555","type":"template","ttl":{"days":2},"template":{"namespace":"ns","name":"t","language":{"policy":"deterministic","code":"en"}}}`,
	"image id":     `{"to":"1555","type":"image","image":{"id":"f3b1","caption":"c"}}`,
	"image link":   `{"to":"1555","type":"image","image":{"link":"https://x.example/a.jpg","provider":{"name":"p"}}}`,
	"audio":        `{"to":"1555","type":"audio","audio":{"id":"a1"}}`,
	"video":        `{"to":"1555","type":"video","video":{"id":"v1","caption":"c"}}`,
	"document":     `{"to":"1555","type":"document","document":{"id":"d1","caption":"c","filename":"x.pdf"}}`,
	"sticker":      `{"to":"1555","type":"sticker","sticker":{"id":"s1"}}`,
	"location":     `{"to":"1555","type":"location","location":{"latitude":"-90","longitude":180,"name":"n","address":"a"}}`,
	"contacts":     `{"to":"1555","type":"contacts","contacts":[{"name":{"formatted_name":"A"},"birthday":"2000-02-29"}]}`,
	"button": `{"to":"1555","type":"interactive","interactive":{"type":"button",
		"header":{"type":"image","image":{"id":"i1"}},"body":{"text":"b"},"footer":{"text":"f"},
		"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"Yes"}},{"type":"reply","reply":{"id":"2","title":"No"}}]}}}`,
	"list": `{"to":"1555","type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"h"},
		"body":{"text":"b"},"action":{"button":"Pick","sections":[{"title":"s1","rows":[{"id":"r1","title":"R1","description":"d"}]},
		{"title":"s2","rows":[{"id":"r2","title":"R2"}]}]}}}`,
	"list one untitled section": `{"to":"1555","type":"interactive","interactive":{"type":"list","body":{"text":"b"},
		"action":{"button":"Pick","sections":[{"rows":[{"id":"r1","title":"R1"}]}]}}}`,
	"product": `{"to":"1555","type":"interactive","interactive":{"type":"product",
		"action":{"catalog_id":"c1","product_retailer_id":"sku1"}}}`,
	"product_list": `{"to":"1555","type":"interactive","interactive":{"type":"product_list","header":{"type":"text","text":"h"},
		"body":{"text":"b"},"action":{"catalog_id":"c1","sections":[{"title":"s","product_items":[{"product_retailer_id":"sku1"}]}]}}}`,
	"template": `{"to":"1555","type":"template","template":{"namespace":"ns","name":"t","language":{"policy":"deterministic","code":"en_US"},
		"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://x.example/i.png"}}]},
		{"type":"body","parameters":[{"type":"text","text":"Jane"},
		{"type":"currency","currency":{"fallback_value":"$100.99","code":"USD","amount_1000":100990}},
		{"type":"date_time","date_time":{"fallback_value":"Feb 25","day_of_week":"5","year":1977}}]},
		{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload","payload":"p"}]},
		{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"sfx"}]}]}}`,
	"hsm": `{"to":"1555","type":"hsm","hsm":{"namespace":"ns","element_name":"e","language":{"policy":"fallback","code":"de"},
		"localizable_params":[{"default":"t"},{"default":"$1","currency":{"currency_code":"USD","amount_1000":1000}},
		{"default":"Feb 25","date_time":{"component":{"day_of_week":5,"month":2}}},
		{"default":"x","date_time":{"unix_epoch":{"timestamp":1485470276}}}]}}`,
	"hsm legacy language": `{"to":"1555","type":"hsm","hsm":{"namespace":"ns","element_name":"e","fallback_lg":"en","fallback_lc":"US"}}`,
	"reaction":            `{"to":"1555","type":"reaction","reaction":{"message_id":"gBE1","emoji":"👍"}}`,
	"reaction removal":    `{"to":"1555","type":"reaction","reaction":{"message_id":"gBE1","emoji":""}}`,
}

func TestValidateAccepts(t *testing.T) {
	for name, body := range validBodies {
		t.Run(name, func(t *testing.T) {
			o, err := DecodeOutgoing([]byte(body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := o.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // 2 bytes, 1 character
	rows := func(n int) string {
		var rs []string
		for i := range n {
			rs = append(rs, `{"id":"r`+string(rune('a'+i))+`","title":"t"}`)
		}
		return strings.Join(rs, ",")
	}
	items := func(n int) string {
		return strings.TrimSuffix(strings.Repeat(`{"product_retailer_id":"s"},`, n), ",")
	}
	iv := func(inner string) string { return `{"to":"1555","type":"interactive","interactive":` + inner + `}` }
	tpl := func(inner string) string {
		return `{"to":"1555","type":"template","template":{"namespace":"ns","name":"t","language":{"code":"en"},` + inner + `}}`
	}
	hsm := func(inner string) string {
		return `{"to":"1555","type":"hsm","hsm":{"namespace":"ns","element_name":"e",` + inner + `}}`
	}
	tests := []struct {
		name, body string
		code       int
		details    string
	}{
		// Envelope.
		{"recipient_type", `{"to":"1","recipient_type":"broadcast","text":{"body":"x"}}`, 1002,
			"Parameter 'recipient_type' has invalid value 'broadcast'"},
		{"no to", `{"text":{"body":"x"}}`, 1008, "Missing mandatory parameter 'to'"},
		{"empty ttl", `{"to":"1","ttl":"","text":{"body":"x"}}`, 1009, "Empty TTL value not allowed"},
		{"unknown type", `{"to":"1","type":"poll"}`, 501, "Message type 'poll' is not supported"},
		{"stray object", `{"to":"1","text":{"body":"x"},"image":{"id":"1"}}`, 1010,
			"Parameter 'image' is not required for type 'text'"},
		{"context without id", `{"to":"1","context":{},"text":{"body":"x"}}`, 1008,
			"Missing mandatory parameter 'context.message_id'"},
		{"context on template", `{"to":"1","type":"template","context":{"message_id":"m"},"template":{}}`, 1010,
			"Parameter 'context' is not required for type 'template'"},
		// Text.
		{"no text", `{"to":"1","type":"text"}`, 1008, "Parameter 'text' is mandatory for type 'text'"},
		{"empty body", `{"to":"1","text":{"body":""}}`, 1008, "Missing mandatory parameter 'text.body'"},
		{"too long", `{"to":"1","text":{"body":"` + long(4097) + `"}}`, 1001,
			"Text body is 4097 characters long, the limit is 4096"},
		// Media.
		{"no image", `{"to":"1","type":"image"}`, 1008, "Parameter 'image' is mandatory for type 'image'"},
		{"neither id nor link", `{"to":"1","type":"image","image":{}}`, 1008,
			"Atleast one of the following parameters must be present: image.id, image.link"},
		{"id and link", `{"to":"1","type":"video","video":{"id":"1","link":"https://a.example/v"}}`, 1010,
			"Exactly one of the following parameters must be present: video.id, video.link"},
		{"bad link", `{"to":"1","type":"image","image":{"link":"ftp://a.example/x"}}`, 1009,
			"Parameter 'image.link' has invalid value 'ftp://a.example/x'"},
		{"provider with id", `{"to":"1","type":"image","image":{"id":"1","provider":{"name":"p"}}}`, 1010,
			"Parameter 'image.provider' is not required for type 'image'"},
		{"provider without name", `{"to":"1","type":"image","image":{"link":"http://a.example/x","provider":{"name":""}}}`, 1008,
			"Missing mandatory parameter 'image.provider.name'"},
		{"audio caption", `{"to":"1","type":"audio","audio":{"id":"1","caption":"c"}}`, 1010,
			"Parameter 'audio.caption' is not required for type 'audio'"},
		{"sticker caption", `{"to":"1","type":"sticker","sticker":{"id":"1","caption":"c"}}`, 1010,
			"Parameter 'sticker.caption' is not required for type 'sticker'"},
		{"image filename", `{"to":"1","type":"image","image":{"id":"1","filename":"a.jpg"}}`, 1010,
			"Parameter 'image.filename' is not required for type 'image'"},
		// Location.
		{"no location", `{"to":"1","type":"location"}`, 1008, "Parameter 'location' is mandatory for type 'location'"},
		{"no latitude", `{"to":"1","type":"location","location":{"longitude":1}}`, 1008,
			"Missing mandatory parameter 'location.latitude'"},
		{"no longitude", `{"to":"1","type":"location","location":{"latitude":1}}`, 1008,
			"Missing mandatory parameter 'location.longitude'"},
		{"latitude range", `{"to":"1","type":"location","location":{"latitude":90.5,"longitude":1}}`, 1009,
			"Parameter 'location.latitude' has invalid value '90.5'"},
		{"longitude range", `{"to":"1","type":"location","location":{"latitude":1,"longitude":-181}}`, 1009,
			"Parameter 'location.longitude' has invalid value '-181'"},
		// Contacts.
		{"no contacts", `{"to":"1","type":"contacts","contacts":[]}`, 1008,
			"Parameter 'contacts' is mandatory for type 'contacts'"},
		{"no formatted name", `{"to":"1","type":"contacts","contacts":[{"name":{"first_name":"A"}}]}`, 1008,
			"Missing mandatory parameter 'contacts[0].name.formatted_name'"},
		{"bad birthday", `{"to":"1","type":"contacts","contacts":[{"name":{"formatted_name":"A"}},{"name":{"formatted_name":"B"},"birthday":"2001-02-29"}]}`,
			1009, "Parameter 'contacts[1].birthday' has invalid value '2001-02-29'"},
		// Interactive: common parts.
		{"no interactive", `{"to":"1","type":"interactive"}`, 1008,
			"Parameter 'interactive' is mandatory for type 'interactive'"},
		{"no interactive type", iv(`{}`), 1008, "Missing mandatory parameter 'interactive.type'"},
		{"bad interactive type", iv(`{"type":"carousel"}`), 1009,
			"Parameter 'interactive.type' has invalid value 'carousel'"},
		{"no body", iv(`{"type":"button"}`), 1008,
			"Parameter 'interactive.body.text' is mandatory for type 'button'"},
		{"long body", iv(`{"type":"button","body":{"text":"` + long(1025) + `"}}`), 1009,
			"Parameter 'interactive.body.text' is longer than 1024 characters"},
		{"empty footer", iv(`{"type":"button","body":{"text":"b"},"footer":{"text":""}}`), 1008,
			"Missing mandatory parameter 'interactive.footer.text'"},
		{"long footer", iv(`{"type":"button","body":{"text":"b"},"footer":{"text":"` + long(61) + `"}}`), 1009,
			"Parameter 'interactive.footer.text' is longer than 60 characters"},
		{"no action", iv(`{"type":"button","body":{"text":"b"}}`), 1008,
			"Parameter 'interactive.action' is mandatory for type 'button'"},
		// Interactive: headers.
		{"header without type", iv(`{"type":"button","header":{},"body":{"text":"b"}}`), 2036,
			"Parameter 'interactive.header.type' is missing"},
		{"header bad type", iv(`{"type":"button","header":{"type":"gif"},"body":{"text":"b"}}`), 2036,
			"Parameter 'interactive.header.type' has invalid value 'gif'"},
		{"list media header", iv(`{"type":"list","header":{"type":"image","image":{"id":"1"}},"body":{"text":"b"}}`), 2036,
			"Header type 'image' is not allowed for interactive type 'list'"},
		{"header mixed", iv(`{"type":"button","header":{"type":"text","text":"t","image":{"id":"1"}},"body":{"text":"b"}}`), 2036,
			"Parameter 'interactive.header.image' is not allowed with header type 'text'"},
		{"header no text", iv(`{"type":"button","header":{"type":"text"},"body":{"text":"b"}}`), 2036,
			"Parameter 'interactive.header.text' is mandatory for header type 'text'"},
		{"header long text", iv(`{"type":"button","header":{"type":"text","text":"` + long(61) + `"},"body":{"text":"b"}}`), 2036,
			"Parameter 'interactive.header.text' is longer than 60 characters"},
		{"header no media", iv(`{"type":"button","header":{"type":"video"},"body":{"text":"b"}}`), 2036,
			"Parameter 'interactive.header.video' is mandatory for header type 'video'"},
		{"header media bad", iv(`{"type":"button","header":{"type":"document","document":{}},"body":{"text":"b"}}`), 1008,
			"Atleast one of the following parameters must be present: interactive.header.document.id, interactive.header.document.link"},
		{"product header", iv(`{"type":"product","header":{"type":"text","text":"h"}}`), 1010,
			"Parameter 'interactive.header' is not required for type 'product'"},
		{"product_list no header", iv(`{"type":"product_list","body":{"text":"b"}}`), 1008,
			"Parameter 'interactive.header' is mandatory for type 'product_list'"},
		// Interactive: buttons.
		{"no buttons", iv(`{"type":"button","body":{"text":"b"},"action":{}}`), 1008,
			"Missing mandatory parameter 'interactive.action.buttons'"},
		{"four buttons", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[` +
			`{"type":"reply","reply":{"id":"1","title":"1"}},{"type":"reply","reply":{"id":"2","title":"2"}},` +
			`{"type":"reply","reply":{"id":"3","title":"3"}},{"type":"reply","reply":{"id":"4","title":"4"}}]}}`), 1009,
			"Parameter 'interactive.action.buttons' holds 4 buttons, the limit is 3"},
		{"button type", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"url"}]}}`), 1009,
			"Parameter 'interactive.action.buttons[0].type' has invalid value 'url'"},
		{"button no type", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.buttons[0].type'"},
		{"button no reply", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply"}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.buttons[0].reply'"},
		{"button no id", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"title":"t"}}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.buttons[0].reply.id'"},
		{"button long id", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"` + long(257) + `","title":"t"}}]}}`), 1009,
			"Parameter 'interactive.action.buttons[0].reply.id' is longer than 256 characters"},
		{"button no title", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1"}}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.buttons[0].reply.title'"},
		{"button long title", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"` + long(21) + `"}}]}}`), 1009,
			"Parameter 'interactive.action.buttons[0].reply.title' is longer than 20 characters"},
		{"button dup id", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"a"}},{"type":"reply","reply":{"id":"1","title":"b"}}]}}`), 1009,
			"Button id '1' is not unique"},
		{"button dup title", iv(`{"type":"button","body":{"text":"b"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"a"}},{"type":"reply","reply":{"id":"2","title":"a"}}]}}`), 1009,
			"Button title 'a' is not unique"},
		{"button with sections", iv(`{"type":"button","body":{"text":"b"},"action":{"sections":[]}}`), 1010,
			"Parameter 'interactive.action.sections' is not required for type 'button'"},
		// Interactive: lists.
		{"list no button", iv(`{"type":"list","body":{"text":"b"},"action":{}}`), 1008,
			"Missing mandatory parameter 'interactive.action.button'"},
		{"list long button", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"` + long(21) + `"}}`), 1009,
			"Parameter 'interactive.action.button' is longer than 20 characters"},
		{"list with buttons", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","buttons":[]}}`), 1010,
			"Parameter 'interactive.action.buttons' is not required for type 'list'"},
		{"list no sections", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x"}}`), 2015,
			"Parameter 'interactive.action.sections' must hold 1 to 10 sections, not 0"},
		{"list 11 sections", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[` +
			strings.TrimSuffix(strings.Repeat(`{"title":"s","rows":[{"id":"r","title":"t"}]},`, 11), ",") + `]}}`), 2015,
			"Parameter 'interactive.action.sections' must hold 1 to 10 sections, not 11"},
		{"list untitled section", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"title":"a","rows":[{"id":"1","title":"t"}]},{"rows":[{"id":"2","title":"t"}]}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.sections[1].title'"},
		{"list long section title", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"title":"` + long(25) + `","rows":[{"id":"1","title":"t"}]}]}}`), 1009,
			"Parameter 'interactive.action.sections[0].title' is longer than 24 characters"},
		{"list empty section", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"title":"a","rows":[]}]}}`), 2016,
			"Parameter 'interactive.action.sections[0].rows' must hold at least 1 row"},
		{"list 11 rows", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"title":"a","rows":[` + rows(6) +
			`]},{"title":"b","rows":[` + strings.ReplaceAll(rows(5), `"r`, `"q`) + `]}]}}`), 2016,
			"Parameter 'interactive.action.sections' holds 11 rows, the limit is 10"},
		{"row no id", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"rows":[{"title":"t"}]}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.sections[0].rows[0].id'"},
		{"row long id", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"rows":[{"id":"` + long(201) + `","title":"t"}]}]}}`), 1009,
			"Parameter 'interactive.action.sections[0].rows[0].id' is longer than 200 characters"},
		{"row no title", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"rows":[{"id":"1"}]}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.sections[0].rows[0].title'"},
		{"row long title", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"rows":[{"id":"1","title":"` + long(25) + `"}]}]}}`), 1009,
			"Parameter 'interactive.action.sections[0].rows[0].title' is longer than 24 characters"},
		{"row long description", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"rows":[{"id":"1","title":"t","description":"` + long(73) + `"}]}]}}`), 1009,
			"Parameter 'interactive.action.sections[0].rows[0].description' is longer than 72 characters"},
		{"row dup id", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"title":"a","rows":[{"id":"1","title":"t"}]},{"title":"b","rows":[{"id":"1","title":"u"}]}]}}`), 1009,
			"Row id '1' is not unique"},
		{"list products", iv(`{"type":"list","body":{"text":"b"},"action":{"button":"x","sections":[{"product_items":[]}]}}`), 1010,
			"Parameter 'interactive.action.sections[0].product_items' is not required for type 'list'"},
		// Interactive: products.
		{"product no catalog", iv(`{"type":"product","action":{"product_retailer_id":"s"}}`), 1008,
			"Missing mandatory parameter 'interactive.action.catalog_id'"},
		{"product no retailer id", iv(`{"type":"product","action":{"catalog_id":"c"}}`), 1008,
			"Missing mandatory parameter 'interactive.action.product_retailer_id'"},
		{"product with sections", iv(`{"type":"product","action":{"catalog_id":"c","product_retailer_id":"s","sections":[]}}`), 1010,
			"Parameter 'interactive.action.sections' is not required for type 'product'"},
		{"product_list no catalog", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{}}`), 1008,
			"Missing mandatory parameter 'interactive.action.catalog_id'"},
		{"product_list retailer id", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c","product_retailer_id":"s"}}`), 1010,
			"Parameter 'interactive.action.product_retailer_id' is not required for type 'product_list'"},
		{"product_list no sections", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c"}}`), 2015,
			"Parameter 'interactive.action.sections' must hold 1 to 10 sections, not 0"},
		{"product_list empty section", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c","sections":[{"title":"s","product_items":[]}]}}`), 2023,
			"Parameter 'interactive.action.sections[0].product_items' must hold at least 1 product"},
		{"product_list 31 products", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c","sections":[{"title":"a","product_items":[` +
			items(16) + `]},{"title":"b","product_items":[` + items(15) + `]}]}}`), 2023,
			"Parameter 'interactive.action.sections' holds 31 products, the limit is 30"},
		{"product_list item without id", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c","sections":[{"product_items":[{}]}]}}`), 1008,
			"Missing mandatory parameter 'interactive.action.sections[0].product_items[0].product_retailer_id'"},
		{"product_list rows", iv(`{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c","sections":[{"rows":[]}]}}`), 1010,
			"Parameter 'interactive.action.sections[0].rows' is not required for type 'product_list'"},
		// Template.
		{"no template", `{"to":"1","type":"template"}`, 1008, "Parameter 'template' is mandatory for type 'template'"},
		{"no namespace", `{"to":"1","type":"template","template":{"name":"t"}}`, 1008, "Missing mandatory parameter 'template.namespace'"},
		{"no name", `{"to":"1","type":"template","template":{"namespace":"n"}}`, 1008, "Missing mandatory parameter 'template.name'"},
		{"no language", `{"to":"1","type":"template","template":{"namespace":"n","name":"t"}}`, 1008,
			"Missing mandatory parameter 'template.language'"},
		{"no language code", `{"to":"1","type":"template","template":{"namespace":"n","name":"t","language":{"policy":"deterministic"}}}`, 1008,
			"Missing mandatory parameter 'template.language.code'"},
		{"bad language code", `{"to":"1","type":"template","template":{"namespace":"n","name":"t","language":{"code":"english"}}}`, 1009,
			"Parameter 'template.language.code' has invalid value 'english'"},
		{"bad policy", `{"to":"1","type":"template","template":{"namespace":"n","name":"t","language":{"code":"en","policy":"strict"}}}`, 1009,
			"Parameter 'template.language.policy' has invalid value 'strict'"},
		{"component no type", tpl(`"components":[{}]`), 1008, "Missing mandatory parameter 'template.components[0].type'"},
		{"component footer", tpl(`"components":[{"type":"footer"}]`), 1009,
			"Parameter 'template.components[0].type' has invalid value 'footer'"},
		{"body sub_type", tpl(`"components":[{"type":"body","sub_type":"url"}]`), 1010,
			"Parameter 'template.components[0].sub_type' is not required for type 'body'"},
		{"header index", tpl(`"components":[{"type":"header","index":"0"}]`), 1010,
			"Parameter 'template.components[0].index' is not required for type 'header'"},
		{"two bodies", tpl(`"components":[{"type":"body"},{"type":"body"}]`), 1009,
			"Parameter 'template.components' repeats the body component"},
		{"button no sub_type", tpl(`"components":[{"type":"button","index":"0"}]`), 1008,
			"Missing mandatory parameter 'template.components[0].sub_type'"},
		{"button bad sub_type", tpl(`"components":[{"type":"button","sub_type":"call","index":"0"}]`), 1009,
			"Parameter 'template.components[0].sub_type' has invalid value 'call'"},
		{"button no index", tpl(`"components":[{"type":"button","sub_type":"url"}]`), 1008,
			"Missing mandatory parameter 'template.components[0].index'"},
		{"button bad index", tpl(`"components":[{"type":"button","sub_type":"url","index":"10"}]`), 1009,
			"Parameter 'template.components[0].index' has invalid value '10'"},
		{"button dup index", tpl(`"components":[{"type":"button","sub_type":"url","index":"1"},{"type":"button","sub_type":"quick_reply","index":"1"}]`), 1009,
			"Parameter 'template.components' repeats the button 1 component"},
		{"param no type", tpl(`"components":[{"type":"body","parameters":[{}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].type'"},
		{"param bad type", tpl(`"components":[{"type":"body","parameters":[{"type":"location"}]}]`), 1009,
			"Parameter 'template.components[0].parameters[0].type' has invalid value 'location'"},
		{"param stray field", tpl(`"components":[{"type":"body","parameters":[{"type":"text","text":"a","payload":"p"}]}]`), 1010,
			"Parameter 'template.components[0].parameters[0].payload' is not required for type 'text'"},
		{"param no text", tpl(`"components":[{"type":"body","parameters":[{"type":"text"}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].text'"},
		{"param no payload", tpl(`"components":[{"type":"button","sub_type":"quick_reply","index":"0","parameters":[{"type":"payload"}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].payload'"},
		{"param no currency", tpl(`"components":[{"type":"body","parameters":[{"type":"currency"}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].currency'"},
		{"currency no fallback", tpl(`"components":[{"type":"body","parameters":[{"type":"currency","currency":{"code":"USD","amount_1000":1}}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].currency.fallback_value'"},
		{"currency no code", tpl(`"components":[{"type":"body","parameters":[{"type":"currency","currency":{"fallback_value":"$1","amount_1000":1}}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].currency.code'"},
		{"param no date_time", tpl(`"components":[{"type":"body","parameters":[{"type":"date_time"}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].date_time'"},
		{"date_time no fallback", tpl(`"components":[{"type":"body","parameters":[{"type":"date_time","date_time":{"year":2000}}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].date_time.fallback_value'"},
		{"date_time two forms", tpl(`"components":[{"type":"body","parameters":[{"type":"date_time","date_time":{"fallback_value":"x","year":2000,"timestamp":1}}]}]`), 1010,
			"Exactly one of the following parameters must be present: template.components[0].parameters[0].date_time.component, template.components[0].parameters[0].date_time.unix_epoch"},
		{"date_time month", tpl(`"components":[{"type":"body","parameters":[{"type":"date_time","date_time":{"fallback_value":"x","month":13}}]}]`), 1009,
			"Parameter 'template.components[0].parameters[0].date_time.month' has invalid value '13'"},
		{"date_time day_of_week", tpl(`"components":[{"type":"body","parameters":[{"type":"date_time","date_time":{"fallback_value":"x","day_of_week":"0"}}]}]`), 1009,
			"Parameter 'template.components[0].parameters[0].date_time.day_of_week' has invalid value '0'"},
		{"date_time calendar", tpl(`"components":[{"type":"body","parameters":[{"type":"date_time","date_time":{"fallback_value":"x","calendar":"JULIAN"}}]}]`), 1009,
			"Parameter 'template.components[0].parameters[0].date_time.calendar' has invalid value 'JULIAN'"},
		{"param no image", tpl(`"components":[{"type":"header","parameters":[{"type":"image"}]}]`), 1008,
			"Missing mandatory parameter 'template.components[0].parameters[0].image'"},
		{"param image caption ok, filename not", tpl(`"components":[{"type":"header","parameters":[{"type":"image","image":{"id":"1","filename":"x"}}]}]`), 1010,
			"Parameter 'template.components[0].parameters[0].image.filename' is not required for type 'image'"},
		// HSM.
		{"no hsm", `{"to":"1","type":"hsm"}`, 1008, "Parameter 'hsm' is mandatory for type 'hsm'"},
		{"hsm no namespace", `{"to":"1","type":"hsm","hsm":{"element_name":"e"}}`, 1008, "Missing mandatory parameter 'hsm.namespace'"},
		{"hsm no element_name", `{"to":"1","type":"hsm","hsm":{"namespace":"n"}}`, 1008, "Missing mandatory parameter 'hsm.element_name'"},
		{"hsm both languages", hsm(`"language":{"code":"en"},"fallback_lg":"en"`), 1010,
			"Exactly one of the following parameters must be present: hsm.language, hsm.fallback_lg"},
		{"hsm no language", hsm(`"localizable_params":[]`), 1008,
			"Atleast one of the following parameters must be present: hsm.language, hsm.fallback_lg"},
		{"hsm lc without lg", hsm(`"fallback_lc":"US"`), 1008, "Missing mandatory parameter 'hsm.fallback_lg'"},
		{"hsm bad language", hsm(`"language":{"code":"en_US_POSIX"}`), 1009,
			"Parameter 'hsm.language.code' has invalid value 'en_US_POSIX'"},
		{"hsm param no default", hsm(`"fallback_lg":"en","localizable_params":[{"default":"a"},{}]`), 1008,
			"Missing mandatory parameter 'hsm.localizable_params[1].default'"},
		{"hsm currency and date", hsm(`"fallback_lg":"en","localizable_params":[{"default":"a","currency":{"currency_code":"USD"},"date_time":{"unix_epoch":{"timestamp":1}}}]`), 1010,
			"Exactly one of the following parameters must be present: hsm.localizable_params[0].currency, hsm.localizable_params[0].date_time"},
		{"hsm currency code", hsm(`"fallback_lg":"en","localizable_params":[{"default":"a","currency":{"amount_1000":1}}]`), 1008,
			"Missing mandatory parameter 'hsm.localizable_params[0].currency.currency_code'"},
		{"hsm date no form", hsm(`"fallback_lg":"en","localizable_params":[{"default":"a","date_time":{}}]`), 1008,
			"Atleast one of the following parameters must be present: hsm.localizable_params[0].date_time.component, hsm.localizable_params[0].date_time.unix_epoch"},
		{"hsm date component", hsm(`"fallback_lg":"en","localizable_params":[{"default":"a","date_time":{"component":{"hour":24}}}]`), 1009,
			"Parameter 'hsm.localizable_params[0].date_time.component.hour' has invalid value '24'"},
		// Reaction.
		{"no reaction", `{"to":"1","type":"reaction"}`, 1008, "Parameter 'reaction' is mandatory for type 'reaction'"},
		{"reaction no id", `{"to":"1","type":"reaction","reaction":{"emoji":"👍"}}`, 1008,
			"Missing mandatory parameter 'reaction.message_id'"},
		{"reaction text", `{"to":"1","type":"reaction","reaction":{"message_id":"m","emoji":"this is not an emoji at all"}}`, 1009,
			"Parameter 'reaction.emoji' has invalid value 'this is not an emoji at all'"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		if seen[tc.name] {
			t.Fatalf("duplicate case %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			o, err := DecodeOutgoing([]byte(tc.body))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkError(t, o.Validate(), tc.code, tc.details)
		})
	}
}

// checkError asserts that err is a *Error with code, details and the
// code's documented title.
func checkError(t *testing.T, err error, code int, details string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want *Error %d", err, err, code)
	}
	if e.Code != code || e.Details != details {
		t.Fatalf("got %d %q\nwant %d %q", e.Code, e.Details, code, details)
	}
	if e.Title == "" || e.Title != titles[code] {
		t.Fatalf("title %q, want %q", e.Title, titles[code])
	}
}

func TestValidateNil(t *testing.T) {
	var o *Outgoing
	checkError(t, o.Validate(), 1008, "Missing mandatory parameter 'to'")
}

// A nil *Error must not leak out as a non-nil error interface.
func TestValidateReturnsUntypedNil(t *testing.T) {
	o := &Outgoing{To: "1", Text: &Text{Body: "x"}}
	if err := o.Validate(); err != nil {
		t.Fatalf("got %#v", err)
	}
}

func TestDecodeOutgoingErrors(t *testing.T) {
	tests := []struct {
		name, body string
		code       int
		details    string
	}{
		{"empty", ``, 1025, "Unable to decode the request: unexpected end of JSON input"},
		{"truncated", `{"to":`, 1025, "Unable to decode the request: unexpected end of JSON input"},
		{"trailing", `{} x`, 1025, "Unable to decode the request: invalid character 'x' after top-level value"},
		{"array", `[]`, 1025, "Unable to decode the request: json: cannot unmarshal array into Go value of type content.Outgoing"},
		{"wrong type", `{"text":{"body":5}}`, 1009, "Parameter 'text.body' has invalid value 'number'"},
		{"bad coordinate", `{"location":{"latitude":"north"}}`, 1009, `Invalid coordinate value "north"`},
		{"NaN coordinate", `{"location":{"latitude":"NaN"}}`, 1009, `Invalid coordinate value "NaN"`},
		{"bad integer", `{"template":{"components":[{"parameters":[{"date_time":{"year":"` + strings.Repeat("x", 70) + `"}}]}]}}`, 1009,
			`Invalid integer value "` + strings.Repeat("x", 63) + `...`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := DecodeOutgoing([]byte(tc.body))
			if o != nil {
				t.Fatalf("got %+v with the error", o)
			}
			checkError(t, err, tc.code, tc.details)
		})
	}
}

// On-Prem ignored fields it did not know.
func TestDecodeOutgoingIgnoresUnknownFields(t *testing.T) {
	o, err := DecodeOutgoing([]byte(`{"to":"1","messaging_product":"whatsapp","text":{"body":"x","extra":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	if o.To != "1" || o.Text.Body != "x" {
		t.Fatalf("got %+v", o)
	}
}
