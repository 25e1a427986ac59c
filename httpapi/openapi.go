package httpapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPIDocument describes the routes of table(); openapi_test.go keeps
// the two in step. A string, so nothing can change it.
//
//go:embed openapi.json
var openAPIDocument string

// openAPI serves the OpenAPI 3 document of this surface. Behind a Prefix
// the document's server URL is the prefix, so generated clients call the
// right paths.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	doc := []byte(openAPIDocument)
	if h.opts.Prefix != "" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil {
			h.fail(w, r, err)
			return
		}
		m["servers"], _ = json.Marshal([]map[string]string{{"url": h.opts.Prefix}})
		b, err := json.Marshal(m)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		doc = b
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}
