package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/waent/waent"
)

// FuzzPostMessages feeds arbitrary bodies to POST /v1/messages. Whatever
// the body, the handler must not panic and must answer either 201 with a
// message id or an errors envelope whose HTTP status is the one its code
// maps to. The client is not registered, so a body that validates fails
// fast in Send with 1011 instead of filling an outbox with messages to
// numbers that do not exist; the network and handler are built once, and
// each input is served in-process without a socket.
func FuzzPostMessages(f *testing.F) {
	seeds := []string{
		// Every type, valid.
		`{"to":"16315551000","type":"text","text":{"body":"hi"}}`,
		`{"to":"+1 (631) 555-1000","text":{"body":"default type"},"preview_url":true}`,
		`{"to":"16315551000","context":{"message_id":"gBE1"},"text":{"body":"re"}}`,
		`{"to":"16315551000","type":"image","image":{"id":"f3b1","caption":"c"}}`,
		`{"to":"16315551000","type":"image","image":{"link":"https://x.example/a.jpg","provider":{"name":"p"}}}`,
		`{"to":"16315551000","type":"audio","audio":{"id":"a1"}}`,
		`{"to":"16315551000","type":"video","video":{"id":"v1","caption":"c"}}`,
		`{"to":"16315551000","type":"document","document":{"id":"d1","caption":"c","filename":"x.pdf"}}`,
		`{"to":"16315551000","type":"sticker","sticker":{"id":"s1"}}`,
		`{"to":"16315551000","type":"location","location":{"latitude":"-90","longitude":180,"name":"n","address":"a"}}`,
		`{"to":"16315551000","type":"contacts","contacts":[{"name":{"formatted_name":"A"},"birthday":"2000-02-29","phones":[{"phone":"+1 5","wa_id":"15"}]}]}`,
		`{"to":"16315551000","type":"interactive","interactive":{"type":"button","header":{"type":"image","image":{"id":"i1"}},"body":{"text":"b"},"footer":{"text":"f"},"action":{"buttons":[{"type":"reply","reply":{"id":"1","title":"Yes"}}]}}}`,
		`{"to":"16315551000","type":"interactive","interactive":{"type":"list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"button":"Pick","sections":[{"title":"s1","rows":[{"id":"r1","title":"R1","description":"d"}]}]}}}`,
		`{"to":"16315551000","type":"interactive","interactive":{"type":"product","action":{"catalog_id":"c1","product_retailer_id":"sku1"}}}`,
		`{"to":"16315551000","type":"interactive","interactive":{"type":"product_list","header":{"type":"text","text":"h"},"body":{"text":"b"},"action":{"catalog_id":"c1","sections":[{"title":"s","product_items":[{"product_retailer_id":"sku1"}]}]}}}`,
		`{"to":"16315551000","type":"template","ttl":{"days":2},"template":{"namespace":"ns","name":"t","language":{"policy":"deterministic","code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"Jane"},{"type":"currency","currency":{"fallback_value":"$1","code":"USD","amount_1000":1000}},{"type":"date_time","date_time":{"fallback_value":"Feb 25","day_of_week":"5"}}]},{"type":"button","sub_type":"url","index":"1","parameters":[{"type":"text","text":"x"}]}]}}`,
		`{"to":"16315551000","type":"hsm","hsm":{"namespace":"ns","element_name":"e","language":{"policy":"fallback","code":"de"},"localizable_params":[{"default":"t"},{"default":"x","date_time":{"unix_epoch":{"timestamp":1485470276}}}]}}`,
		`{"to":"16315551000","type":"hsm","hsm":{"namespace":"ns","element_name":"e","fallback_lg":"en","fallback_lc":"US"}}`,
		`{"to":"16315551000","type":"reaction","reaction":{"message_id":"gBE1","emoji":"👍"}}`,
		`{"to":"1555-1600000000","recipient_type":"group","text":{"body":"hi"}}`,
		// Broken.
		``, `null`, `[]`, `"x"`, `5`, `{`, `{"to":`, `{"to":"1"} trailing`, "\xff\xfe{}",
		`{"to":5,"text":{"body":"x"}}`, `{"to":"1","text":"x"}`, `{"to":"1","text":{"body":5}}`,
		`{"to":"1","type":"poll"}`, `{"to":"1","type":7}`, `{"to":"1","ttl":""}`,
		`{"to":"1","type":"location","location":{"latitude":"NaN","longitude":1e999}}`,
		`{"to":"1","type":"template","template":{"components":[{"parameters":[{"currency":{"amount_1000":1e30}}]}]}}`,
		`{"to":"1","type":"hsm","hsm":{"localizable_params":[{"date_time":{"component":{"day_of_week":"x"}}}]}}`,
		`{"to":"1","type":"interactive","interactive":{"type":"list","action":{"sections":[{"rows":[{}]}]}}}`,
		`{"to":"1","text":{"body":"x"},"image":{"id":"1"},"contacts":{}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	a := newAPI(f, apiOptions{unregistered: true})
	token := "Bearer " + a.admin
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/v1/messages", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		var out struct {
			Meta     *struct{ Version string } `json:"meta"`
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
			Errors []struct {
				Code  int    `json:"code"`
				Title string `json:"title"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Meta == nil {
			t.Fatalf("answer %d %q is not an envelope: %v", rec.Code, rec.Body.Bytes(), err)
		}
		if rec.Code == http.StatusCreated {
			if len(out.Messages) != 1 || out.Messages[0].ID == "" || len(out.Errors) != 0 {
				t.Fatalf("201 without one message id: %s", rec.Body.Bytes())
			}
			return
		}
		if len(out.Errors) != 1 || out.Errors[0].Title == "" {
			t.Fatalf("%d without one titled error: %s", rec.Code, rec.Body.Bytes())
		}
		if code := out.Errors[0].Code; rec.Code != waent.HTTPStatus(code) {
			t.Fatalf("status %d for code %d (want %d): %s", rec.Code, code, waent.HTTPStatus(code), rec.Body.Bytes())
		}
		if out.Errors[0].Code == waent.CodeInternal {
			t.Fatalf("internal error for a request body: %s", rec.Body.Bytes())
		}
	})
}
