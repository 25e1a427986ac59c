package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

// base is the fixed origin of every time the suite writes. It has
// nanoseconds, so that a store that does not truncate to the microsecond is
// caught, and inputs are given in a zone other than UTC (see at), so that a
// store that does not convert is caught too.
var base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

var zone = time.FixedZone("UTC+0530", 5*3600+30*60)

// at returns base+d in a non-UTC zone, with nanoseconds.
func at(d time.Duration) time.Time { return base.Add(d).In(zone) }

// norm is what the store keeps of t.
func norm(t time.Time) time.Time { return store.NormalizeTime(t) }

// bytesOf returns n deterministic bytes derived from seed.
func bytesOf(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)*7 + byte(i>>3)
	}
	return b
}

func key(seed byte) []byte { return bytesOf(seed, store.KeyLen) }

func keyPair(seed byte) store.KeyPair {
	return store.KeyPair{Public: bytesOf(seed, store.KeyLen), Private: bytesOf(seed+101, store.KeyLen)}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// ---- errors ----

// isErr reports (and fails the test) unless err wraps want.
func isErr(t *testing.T, what string, err, want error) bool {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want one wrapping %q", what, err, want)
		return false
	}
	return true
}

// ok reports (and fails the test) if err is not nil.
func ok(t *testing.T, what string, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: unexpected error: %v", what, err)
		return false
	}
	return true
}

// must stops the test if err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

// absentDelete accepts nil or ErrNotFound: the contract says which one only
// for some Delete methods.
func absentDelete(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s of an absent record: got error %v, want nil or ErrNotFound", what, err)
	}
}

// ---- comparison ----

var timeType = reflect.TypeFor[time.Time]()

// equal compares got with what the store must keep of want: want with every
// time passed through store.NormalizeTime. Times must be equal with == (so
// in UTC, without a monotonic reading); byte slices of length 0 compare equal
// whether nil or empty. It reports every difference and returns whether
// there was none.
func equal[T any](t *testing.T, what string, got, want T) bool {
	t.Helper()
	var diffs []string
	root := strings.ReplaceAll(reflect.TypeOf(got).String(), "store.", "")
	diffValue(&diffs, root, reflect.ValueOf(got), reflect.ValueOf(normalized(want)))
	if len(diffs) == 0 {
		return true
	}
	const maxLines = 25
	if len(diffs) > maxLines {
		diffs = append(diffs[:maxLines], fmt.Sprintf("... and %d more differences", len(diffs)-maxLines))
	}
	t.Errorf("%s: got differs from want:\n\t%s", what, strings.Join(diffs, "\n\t"))
	return false
}

// normalized returns a deep copy of v with every time.Time normalised.
func normalized[T any](v T) T {
	src := reflect.ValueOf(&v).Elem()
	dst := reflect.New(src.Type()).Elem()
	normInto(dst, src)
	return dst.Interface().(T)
}

func normInto(dst, src reflect.Value) {
	if src.Type() == timeType {
		dst.Set(reflect.ValueOf(store.NormalizeTime(src.Interface().(time.Time))))
		return
	}
	switch src.Kind() {
	case reflect.Struct:
		for i := range src.NumField() {
			normInto(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		dst.Set(reflect.MakeSlice(src.Type(), src.Len(), src.Len()))
		for i := range src.Len() {
			normInto(dst.Index(i), src.Index(i))
		}
	default:
		dst.Set(src)
	}
}

func diffValue(out *[]string, path string, got, want reflect.Value) {
	if got.Type() == timeType {
		g, w := got.Interface().(time.Time), want.Interface().(time.Time)
		if g != w {
			note := ""
			if g.Equal(w) {
				note = " (same instant, but not as stored: want UTC, microseconds, no monotonic reading)"
			}
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s%s", path, fmtTime(g), fmtTime(w), note))
		}
		return
	}
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			f := got.Type().Field(i)
			diffValue(out, path+"."+f.Name, got.Field(i), want.Field(i))
		}
	case reflect.Slice:
		if got.Type().Elem().Kind() == reflect.Uint8 {
			g, w := got.Bytes(), want.Bytes()
			if !bytes.Equal(g, w) {
				*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, fmtBytes(g), fmtBytes(w)))
			}
			return
		}
		if got.Len() != want.Len() {
			*out = append(*out, fmt.Sprintf("%s: got %d elements, want %d", path, got.Len(), want.Len()))
		}
		for i := range min(got.Len(), want.Len()) {
			diffValue(out, fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i))
		}
		for i := want.Len(); i < got.Len(); i++ {
			*out = append(*out, fmt.Sprintf("%s[%d]: unexpected %+v", path, i, got.Index(i).Interface()))
		}
		for i := got.Len(); i < want.Len(); i++ {
			*out = append(*out, fmt.Sprintf("%s[%d]: missing %+v", path, i, want.Index(i).Interface()))
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			*out = append(*out, fmt.Sprintf("%s: got %s, want %s", path, fmtAny(got.Interface()), fmtAny(want.Interface())))
		}
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "zero time"
	}
	return fmt.Sprintf("%s [%s]", t.Format(time.RFC3339Nano), t.Location())
}

func fmtBytes(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 48 {
		return fmt.Sprintf("%q...(%d bytes)", b[:48], len(b))
	}
	return fmt.Sprintf("%q", b)
}

func fmtAny(v any) string {
	if s, ok := v.(fmt.Stringer); ok {
		return fmt.Sprintf("%s (%#v)", s, v)
	}
	return fmt.Sprintf("%#v", v)
}
