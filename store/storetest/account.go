package storetest

import (
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testAccount(t *testing.T, s store.Store) {
	ctx := t.Context()

	if _, err := s.GetAccount(ctx); !isErr(t, "GetAccount before the first PutAccount", err, store.ErrNotFound) {
		t.FailNow()
	}

	a1 := store.Account{
		State:          store.RegistrationCodeRequested,
		CC:             "1",
		PhoneNumber:    "5550100",
		NoiseKey:       keyPair(1),
		IdentityKey:    keyPair(2),
		RegistrationID: 12345,
		Shards:         1,
		CreatedAt:      at(0),
		UpdatedAt:      at(0),
	}

	// Invalid accounts are refused and nothing is written.
	short := a1
	short.NoiseKey.Public = key(9)[:store.KeyLen-1]
	isErr(t, "PutAccount with a 31-byte noise public key", s.PutAccount(ctx, short), store.ErrInvalid)
	shortID := a1
	shortID.IdentityKey.Private = nil
	isErr(t, "PutAccount without an identity private key", s.PutAccount(ctx, shortID), store.ErrInvalid)
	badState := a1
	badState.State = "bogus"
	isErr(t, "PutAccount with an unknown state", s.PutAccount(ctx, badState), store.ErrInvalid)
	if _, err := s.GetAccount(ctx); !isErr(t, "GetAccount after only invalid puts", err, store.ErrNotFound) {
		t.FailNow()
	}

	must(t, "PutAccount", s.PutAccount(ctx, a1))
	got, err := s.GetAccount(ctx)
	must(t, "GetAccount", err)
	equal(t, "GetAccount after the first put", got, a1)

	// A replacement takes every field but CreatedAt, which is kept from
	// the first write.
	a2 := store.Account{
		WAID:           "15550100",
		State:          store.RegistrationRegistered,
		CC:             "1",
		PhoneNumber:    "5550100",
		VerifiedName:   "CgoIAhIGd2FlbnQ=",
		VName:          "Acme Corp",
		NoiseKey:       keyPair(3),
		IdentityKey:    keyPair(4),
		RegistrationID: 1<<31 + 7, // beyond int32: the field is a uint32
		Shards:         4,
		CreatedAt:      at(48 * time.Hour),
		UpdatedAt:      at(time.Hour),
	}
	must(t, "PutAccount (replace)", s.PutAccount(ctx, a2))
	want := a2
	want.CreatedAt = a1.CreatedAt
	got, err = s.GetAccount(ctx)
	must(t, "GetAccount", err)
	equal(t, "GetAccount after a replacement", got, want)

	// An invalid replacement leaves the stored account alone.
	unreg := a2
	unreg.WAID = ""
	isErr(t, "PutAccount registered without a wa_id", s.PutAccount(ctx, unreg), store.ErrInvalid)
	neg := a2
	neg.Shards = -1
	isErr(t, "PutAccount with a negative shard count", s.PutAccount(ctx, neg), store.ErrInvalid)
	got, err = s.GetAccount(ctx)
	must(t, "GetAccount", err)
	equal(t, "GetAccount after invalid replacements", got, want)

	// The zero time means unset and round-trips as zero.
	a3 := a2
	a3.VerifiedName, a3.VName = "", ""
	a3.UpdatedAt = time.Time{}
	must(t, "PutAccount with a zero UpdatedAt", s.PutAccount(ctx, a3))
	want = a3
	want.CreatedAt = a1.CreatedAt
	got, err = s.GetAccount(ctx)
	must(t, "GetAccount", err)
	equal(t, "GetAccount after a put with a zero UpdatedAt", got, want)
}
