package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/waent/waent"
	"github.com/waent/waent/store/memstore"
)

// bareHandler is a Handler over a Client that was never started: enough
// for routing and for the routes that need no chat connection.
func bareHandler(t *testing.T, opts Options) *Handler {
	t.Helper()
	c, err := waent.New(waent.Config{Store: memstore.New(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := New(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The parts of an OpenAPI document the checks below read.
type oaDoc struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]oaOp `json:"paths"`
	Components struct {
		SecuritySchemes map[string]struct {
			Type   string `json:"type"`
			Scheme string `json:"scheme"`
			In     string `json:"in"`
			Name   string `json:"name"`
		} `json:"securitySchemes"`
	} `json:"components"`
}

type oaOp struct {
	OperationID string                `json:"operationId"`
	Role        string                `json:"x-role"`
	Security    []map[string][]string `json:"security"`
	Parameters  []struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

var oaMethods = []string{"get", "put", "post", "delete", "patch", "head", "options", "trace"}

func loadOpenAPI(t *testing.T) (oaDoc, map[string]any) {
	t.Helper()
	var doc oaDoc
	if err := json.Unmarshal([]byte(openAPIDocument), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(openAPIDocument), &raw); err != nil {
		t.Fatal(err)
	}
	return doc, raw
}

// TestOpenAPIMatchesRoutes: every route of the table is in the document
// with the security its role implies, and the document has nothing else.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	h := bareHandler(t, Options{})
	doc, _ := loadOpenAPI(t)
	inTable := map[string]bool{}
	for _, rt := range h.routes {
		key := rt.method + " " + rt.pattern
		if inTable[key] {
			t.Errorf("route %s is in the table twice", key)
		}
		inTable[key] = true
		op, ok := doc.Paths[rt.pattern][strings.ToLower(rt.method)]
		if !ok {
			t.Errorf("route %s is not in openapi.json", key)
			continue
		}
		if op.Role != rt.role.String() {
			t.Errorf("%s: x-role %q, route role %q", key, op.Role, rt.role)
		}
		var want []string
		switch {
		case rt.pattern == "/v1/users/login":
			want = []string{"basicAuth"}
		case rt.role == RoleNone:
			want = nil
		case rt.role == RoleAPI:
			want = []string{"apiKeyAuth", "bearerAuth"}
		default:
			want = []string{"bearerAuth"}
		}
		if op.Security == nil {
			t.Errorf("%s: no security declared (an empty list is needed for open routes)", key)
		}
		var got []string
		for _, req := range op.Security {
			for name := range req {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: security %v, want %v for role %s", key, got, want, rt.role)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !slices.Contains(oaMethods, method) {
				continue // path-level keys such as parameters
			}
			if key := strings.ToUpper(method) + " " + path; !inTable[key] {
				t.Errorf("openapi.json has %s, which the handler does not serve", key)
			}
		}
	}
}

// TestOpenAPIStructure checks what a generator relies on: version and
// info, unique operation ids, declared path parameters, a success and an
// error response per operation, defined security schemes and resolvable
// references.
func TestOpenAPIStructure(t *testing.T) {
	doc, raw := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") || doc.Info.Title == "" || doc.Info.Version == "" {
		t.Fatalf("openapi %q, info %+v", doc.OpenAPI, doc.Info)
	}
	for name, s := range doc.Components.SecuritySchemes {
		switch {
		case s.Type == "http" && (s.Scheme == "basic" || s.Scheme == "bearer"):
		case s.Type == "apiKey" && s.In == "header" && s.Name == "Authorization":
		default:
			t.Errorf("security scheme %s: %+v", name, s)
		}
	}
	ids := map[string]string{}
	param := regexp.MustCompile(`{([^}]+)}`)
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/") {
			t.Errorf("path %q does not start with /", path)
		}
		var inPath []string
		for _, m := range param.FindAllStringSubmatch(path, -1) {
			inPath = append(inPath, m[1])
		}
		for method, op := range ops {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s used by %s and %s", op.OperationID, prev, where)
			}
			ids[op.OperationID] = where
			var declared []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					if !p.Required {
						t.Errorf("%s: path parameter %s not required", where, p.Name)
					}
					declared = append(declared, p.Name)
				}
			}
			slices.Sort(declared)
			want := slices.Sorted(slices.Values(inPath))
			if !slices.Equal(declared, want) {
				t.Errorf("%s: path parameters %v, path has %v", where, declared, want)
			}
			if _, ok := op.Responses["default"]; !ok {
				t.Errorf("%s: no default (error) response", where)
			}
			success := false
			for code := range op.Responses {
				success = success || strings.HasPrefix(code, "2")
			}
			if !success {
				t.Errorf("%s: no 2xx response", where)
			}
			for _, req := range op.Security {
				for name := range req {
					if _, ok := doc.Components.SecuritySchemes[name]; !ok {
						t.Errorf("%s: undefined security scheme %s", where, name)
					}
				}
			}
		}
	}
	var refs int
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if !resolves(raw, ref) {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(raw)
	if refs == 0 {
		t.Error("no $ref checked")
	}
}

func resolves(doc map[string]any, ref string) bool {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// TestOpenAPIServed: the document needs no credentials, and behind a
// prefix its server URL is the prefix.
func TestOpenAPIServed(t *testing.T) {
	for _, prefix := range []string{"", "/wa"} {
		h := bareHandler(t, Options{Prefix: prefix})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", prefix+"/v1/openapi.json", nil))
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("prefix %q: %d %s", prefix, rec.Code, rec.Header().Get("Content-Type"))
		}
		var doc struct {
			OpenAPI string                     `json:"openapi"`
			Servers []struct{ URL string }     `json:"servers"`
			Paths   map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		want := prefix
		if want == "" {
			want = "/"
		}
		if len(doc.Servers) != 1 || doc.Servers[0].URL != want || len(doc.Paths) == 0 || doc.OpenAPI == "" {
			t.Errorf("prefix %q: servers %+v, %d paths", prefix, doc.Servers, len(doc.Paths))
		}
	}
}
