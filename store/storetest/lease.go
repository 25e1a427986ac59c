package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	const name, ttl = "primary", 10 * time.Second
	check := func(what string, want store.Lease) {
		t.Helper()
		got, err := s.GetLease(ctx, want.Name)
		if ok(t, "GetLease "+what, err) {
			equal(t, "GetLease "+what, got, want)
		}
	}
	acquire := func(what, holder string, now time.Time, want store.Lease) store.Lease {
		t.Helper()
		got, err := s.AcquireLease(ctx, name, holder, now, ttl)
		must(t, "AcquireLease "+what, err)
		equal(t, "AcquireLease "+what, got, want)
		return got
	}

	_, err := s.GetLease(ctx, name)
	isErr(t, "GetLease never granted", err, store.ErrNotFound)
	isErr(t, "ReleaseLease never granted", s.ReleaseLease(ctx, name, "a", 1), store.ErrNotFound)

	_, err = s.AcquireLease(ctx, "", "a", at(0), ttl)
	isErr(t, "AcquireLease with an empty name", err, store.ErrInvalid)
	_, err = s.AcquireLease(ctx, name, "", at(0), ttl)
	isErr(t, "AcquireLease with an empty holder", err, store.ErrInvalid)
	_, err = s.AcquireLease(ctx, name, strings.Repeat("h", 65), at(0), ttl)
	isErr(t, "AcquireLease with a 65-byte holder", err, store.ErrInvalid)
	_, err = s.GetLease(ctx, name)
	isErr(t, "GetLease after invalid acquires", err, store.ErrNotFound)

	// Free: granted.
	got, err := s.AcquireLease(ctx, name, "a", at(0), ttl)
	must(t, "AcquireLease of a free lease", err)
	tok1 := got.Token
	l := store.Lease{Name: name, Holder: "a", Token: tok1, ExpiresAt: at(ttl)}
	equal(t, "AcquireLease of a free lease", got, l)
	check("after the first grant", l)

	// Held: another holder conflicts.
	_, err = s.AcquireLease(ctx, name, "b", at(5*time.Second), ttl)
	isErr(t, "AcquireLease held by another", err, store.ErrConflict)
	check("after a conflicting acquire", l)

	// Renewal keeps the token and extends.
	l = acquire("renewal", "a", at(5*time.Second), store.Lease{Name: name, Holder: "a", Token: tok1, ExpiresAt: at(5*time.Second + ttl)})
	check("after renewal", l)
	_, err = s.AcquireLease(ctx, name, "b", at(14*time.Second), ttl)
	isErr(t, "AcquireLease held by another, before the renewed expiry", err, store.ErrConflict)

	// Expired: another holder takes it with a higher token.
	got, err = s.AcquireLease(ctx, name, "b", at(16*time.Second), ttl)
	must(t, "AcquireLease of an expired lease", err)
	tok2 := got.Token
	if tok2 <= tok1 {
		t.Errorf("AcquireLease after expiry: token %d, want above the previous %d", tok2, tok1)
	}
	l = store.Lease{Name: name, Holder: "b", Token: tok2, ExpiresAt: at(16*time.Second + ttl)}
	equal(t, "AcquireLease of an expired lease", got, l)
	check("after a takeover", l)

	// Release needs the right holder and token.
	isErr(t, "ReleaseLease by the previous holder", s.ReleaseLease(ctx, name, "a", tok1), store.ErrConflict)
	isErr(t, "ReleaseLease with the previous token", s.ReleaseLease(ctx, name, "b", tok1), store.ErrConflict)
	isErr(t, "ReleaseLease by a stranger with the current token", s.ReleaseLease(ctx, name, "c", tok2), store.ErrConflict)
	check("after refused releases", l)
	must(t, "ReleaseLease", s.ReleaseLease(ctx, name, "b", tok2))
	l = store.Lease{Name: name, Token: tok2}
	check("after release", l)

	// Released: another holder takes it at once, with a higher token.
	got, err = s.AcquireLease(ctx, name, "a", at(17*time.Second), ttl)
	must(t, "AcquireLease after release", err)
	tok3 := got.Token
	if tok3 <= tok2 {
		t.Errorf("AcquireLease after release: token %d, want above the previous %d", tok3, tok2)
	}
	l = store.Lease{Name: name, Holder: "a", Token: tok3, ExpiresAt: at(17*time.Second + ttl)}
	equal(t, "AcquireLease after release", got, l)
	check("after acquire following a release", l)

	// A lease valid until ExpiresAt is expired at ExpiresAt: another holder
	// may take it at that very instant.
	exp := l.ExpiresAt
	_, err = s.AcquireLease(ctx, name, "b", exp.Add(-time.Microsecond), ttl)
	isErr(t, "AcquireLease held by another, 1µs before expiry", err, store.ErrConflict)
	got, err = s.AcquireLease(ctx, name, "b", exp, ttl)
	must(t, "AcquireLease at exactly the expiry", err)
	tok4 := got.Token
	if tok4 <= tok3 {
		t.Errorf("AcquireLease at the expiry: token %d, want above the previous %d", tok4, tok3)
	}
	l = store.Lease{Name: name, Holder: "b", Token: tok4, ExpiresAt: exp.Add(ttl)}
	equal(t, "AcquireLease at exactly the expiry", got, l)

	// The holder of an expired lease nobody took renews it: it never
	// changed hands, so the token stays.
	late := l.ExpiresAt.Add(time.Hour)
	l = acquire("renewal after expiry", "b", late, store.Lease{Name: name, Holder: "b", Token: tok4, ExpiresAt: late.Add(ttl)})
	check("after a renewal after expiry", l)

	// A release ends the tenure: the same holder acquiring again gets a
	// new token, so writes fenced with the old one can be told apart.
	must(t, "ReleaseLease", s.ReleaseLease(ctx, name, "b", tok4))
	got, err = s.AcquireLease(ctx, name, "b", late, ttl)
	must(t, "AcquireLease by the holder that released it", err)
	if got.Token <= tok4 {
		t.Errorf("AcquireLease after releasing it: token %d, want above the released %d", got.Token, tok4)
	}
	l = store.Lease{Name: name, Holder: "b", Token: got.Token, ExpiresAt: late.Add(ttl)}
	equal(t, "AcquireLease by the holder that released it", got, l)
	check("after re-acquiring", l)

	for _, bad := range []time.Duration{0, -time.Second} {
		_, err = s.AcquireLease(ctx, "zero-ttl", "a", at(0), bad)
		isErr(t, fmt.Sprintf("AcquireLease with ttl %s", bad), err, store.ErrInvalid)
	}
	_, err = s.GetLease(ctx, "zero-ttl")
	isErr(t, "GetLease after acquires with a bad ttl", err, store.ErrNotFound)

	// Leases are independent by name.
	other, err := s.AcquireLease(ctx, "backup", "b", at(17*time.Second), time.Minute)
	must(t, "AcquireLease of another name", err)
	equal(t, "AcquireLease of another name", other, store.Lease{Name: "backup", Holder: "b", Token: other.Token, ExpiresAt: at(77 * time.Second)})
	check("other name", other)
	check("first name unchanged", l)
}
