package waent_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/waent/waent"

// layer ranks the project's packages as DESIGN.md draws them: a package may
// import only packages of a strictly lower rank. Sibling implementations
// (memstore, sqlstore) therefore cannot depend on each other, and nothing
// below httpapi can reach up into it.
func layer(pkg string) (int, bool) {
	switch {
	case pkg == "store", pkg == "waproto", strings.HasPrefix(pkg, "waproto/"):
		return 0, true
	case pkg == "store/memstore", pkg == "store/sqlstore", pkg == "store/storetest", pkg == "store/filemedia":
		return 1, true
	case pkg == "store/sqlstore/sqltest":
		return 2, true
	case strings.HasPrefix(pkg, "conn/"), strings.HasPrefix(pkg, "crypto/"), strings.HasPrefix(pkg, "waenttest/"), pkg == "content", strings.HasPrefix(pkg, "templates/"):
		return 3, true // building blocks: codec, noise, registration client and server
	case pkg == "conn", pkg == "crypto":
		return 4, true
	case pkg == "waenttest":
		return 5, true
	case pkg == "outbox", pkg == "templates", pkg == "gc", pkg == "webhook":
		return 6, true
	case pkg == "":
		return 7, true
	case pkg == "httpapi", strings.HasPrefix(pkg, "httpapi/"):
		return 8, true
	case strings.HasPrefix(pkg, "cmd/"), strings.HasPrefix(pkg, "examples/"):
		return 9, true
	case strings.HasPrefix(pkg, "internal/"):
		return -1, true // helpers: checked only for not importing upward of their users
	}
	return 0, false
}

// TestLayers parses every non-test Go file and checks each import of a
// project package against the layer ranks.
func TestLayers(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != "." {
				return filepath.SkipDir // a nested module (cross-checks) is not part of the build
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			pkg = ""
		}
		from, ok := layer(pkg)
		if !ok {
			t.Errorf("%s: package %q has no layer; add it to layer() in layers_test.go", path, pkg)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != module && !strings.HasPrefix(p, module+"/") {
				continue
			}
			target := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			to, ok := layer(target)
			checked++
			if !ok || (from >= 0 && to >= from) {
				t.Errorf("%s: %q (layer %d) must not import %q (layer %d): imports point down only", path, pkg, from, target, to)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("found no project imports at all; is the test running from the module root?")
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal(err)
	}
}
