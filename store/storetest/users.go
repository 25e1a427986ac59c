package storetest

import (
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	checkUser := func(what string, want store.User) {
		t.Helper()
		got, err := s.GetUser(ctx, want.Username)
		if ok(t, "GetUser "+what, err) {
			equal(t, "GetUser "+what, got, want)
		}
	}
	checkList := func(what string, want ...store.User) {
		t.Helper()
		got, err := s.ListUsers(ctx)
		if ok(t, "ListUsers "+what, err) {
			equal(t, "ListUsers "+what, got, want)
		}
	}
	checkToken := func(what string, want store.Token) {
		t.Helper()
		got, err := s.GetToken(ctx, want.Hash)
		if ok(t, "GetToken "+what, err) {
			equal(t, "GetToken "+what, got, want)
		}
	}
	checkNoToken := func(what string, hash []byte) {
		t.Helper()
		_, err := s.GetToken(ctx, hash)
		isErr(t, "GetToken "+what, err, store.ErrNotFound)
	}

	_, err := s.GetUser(ctx, "alice")
	isErr(t, "GetUser when empty", err, store.ErrNotFound)
	checkList("when empty")

	bob := store.User{Username: "bob", PasswordHash: "$2a$10$bobbobbob", Role: store.RoleUser, MustChangePassword: false, CreatedAt: at(0), UpdatedAt: at(0)}
	alice := store.User{Username: "alice", PasswordHash: "$2a$10$alicealice", Role: store.RoleAdmin, MustChangePassword: true, CreatedAt: at(time.Minute), UpdatedAt: at(2 * time.Minute)}
	carol := store.User{Username: "carol", PasswordHash: "$2a$10$carolcarol", Role: store.RoleUser, CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}

	for _, c := range []struct {
		what string
		u    store.User
	}{
		{"an empty username", store.User{PasswordHash: "h", Role: store.RoleUser}},
		{"a 65-byte username", store.User{Username: string(bytesOf('a', 65)), PasswordHash: "h", Role: store.RoleUser}},
		{"an empty hash", store.User{Username: "dave", Role: store.RoleUser}},
		{"an unknown role", store.User{Username: "dave", PasswordHash: "h", Role: "ROLE_ROOT"}},
	} {
		isErr(t, "CreateUser with "+c.what, s.CreateUser(ctx, c.u), store.ErrInvalid)
	}
	checkList("after invalid creates")

	for _, u := range []store.User{bob, alice, carol} {
		must(t, "CreateUser "+u.Username, s.CreateUser(ctx, u))
	}
	checkUser("after create", alice)
	checkUser("after create", bob)
	checkList("ordered by username", alice, bob, carol)

	dup := alice
	dup.PasswordHash, dup.Role = "$2a$10$other", store.RoleUser
	isErr(t, "CreateUser of an existing username", s.CreateUser(ctx, dup), store.ErrConflict)
	checkUser("after a duplicate create", alice)

	// Update takes hash, role, flag and UpdatedAt; CreatedAt is kept.
	alice2 := store.User{Username: "alice", PasswordHash: "$2a$10$newalice", Role: store.RoleUser, MustChangePassword: false, CreatedAt: at(99 * time.Hour), UpdatedAt: at(3 * time.Hour)}
	must(t, "UpdateUser", s.UpdateUser(ctx, alice2))
	want := alice2
	want.CreatedAt = alice.CreatedAt
	alice = want
	checkUser("after update", alice)
	isErr(t, "UpdateUser of an absent user", s.UpdateUser(ctx, store.User{Username: "dave", PasswordHash: "h", Role: store.RoleUser, UpdatedAt: at(0)}), store.ErrNotFound)
	_, err = s.GetUser(ctx, "dave")
	isErr(t, "GetUser after updating an absent user", err, store.ErrNotFound)
	bad := alice2
	bad.Role = "ROLE_ROOT"
	isErr(t, "UpdateUser with an unknown role", s.UpdateUser(ctx, bad), store.ErrInvalid)
	checkUser("after an invalid update", alice)

	// Tokens.
	t1 := store.Token{Hash: hashOf("t1"), Username: "bob", CreatedAt: at(0), ExpiresAt: at(24 * time.Hour)}
	t2 := store.Token{Hash: hashOf("t2"), Username: "bob", CreatedAt: at(time.Minute), ExpiresAt: at(48 * time.Hour)}
	t3 := store.Token{Hash: hashOf("t3"), Username: "carol", CreatedAt: at(2 * time.Minute), ExpiresAt: at(time.Hour)}
	t4 := store.Token{Hash: hashOf("t4"), Username: "bob", CreatedAt: at(3 * time.Minute), ExpiresAt: at(72 * time.Hour), RevokedAt: at(10 * time.Minute)}

	checkNoToken("when empty", t1.Hash)
	isErr(t, "CreateToken for an absent user", s.CreateToken(ctx, store.Token{Hash: hashOf("t0"), Username: "dave", CreatedAt: at(0), ExpiresAt: at(time.Hour)}), store.ErrNotFound)
	checkNoToken("after creating one for an absent user", hashOf("t0"))
	isErr(t, "CreateToken with a 31-byte hash", s.CreateToken(ctx, store.Token{Hash: hashOf("t0")[:31], Username: "bob", ExpiresAt: at(time.Hour)}), store.ErrInvalid)
	isErr(t, "CreateToken without an expiry", s.CreateToken(ctx, store.Token{Hash: hashOf("t0"), Username: "bob"}), store.ErrInvalid)
	isErr(t, "CreateToken without a username", s.CreateToken(ctx, store.Token{Hash: hashOf("t0"), ExpiresAt: at(time.Hour)}), store.ErrInvalid)
	checkNoToken("after invalid creates", hashOf("t0"))

	for _, tk := range []store.Token{t1, t2, t3, t4} {
		must(t, "CreateToken", s.CreateToken(ctx, tk))
	}
	for _, tk := range []store.Token{t1, t2, t3, t4} {
		checkToken("after create", tk)
	}
	dupTok := t1
	dupTok.Username, dupTok.ExpiresAt = "carol", at(5*time.Hour)
	isErr(t, "CreateToken of an existing hash", s.CreateToken(ctx, dupTok), store.ErrConflict)
	checkToken("after a duplicate create", t1)

	// Revoking counts and touches only unrevoked tokens of the user.
	n, err := s.RevokeUserTokens(ctx, "bob", at(2*time.Hour))
	if ok(t, "RevokeUserTokens bob", err) && n != 2 {
		t.Errorf("RevokeUserTokens bob = %d, want 2 (one of the three was revoked already)", n)
	}
	t1.RevokedAt, t2.RevokedAt = at(2*time.Hour), at(2*time.Hour)
	for _, tk := range []store.Token{t1, t2, t3, t4} {
		checkToken("after revoking bob's", tk)
	}
	n, err = s.RevokeUserTokens(ctx, "bob", at(3*time.Hour))
	if ok(t, "RevokeUserTokens bob again", err) && n != 0 {
		t.Errorf("RevokeUserTokens bob again = %d, want 0", n)
	}
	checkToken("after revoking again", t1)
	n, err = s.RevokeUserTokens(ctx, "nobody", at(3*time.Hour))
	if ok(t, "RevokeUserTokens of an unknown user", err) && n != 0 {
		t.Errorf("RevokeUserTokens of an unknown user = %d, want 0", n)
	}

	_, err = s.PruneTokens(ctx, at(30*time.Hour), 0)
	isErr(t, "PruneTokens without a limit", err, store.ErrInvalid)
	// Bounded: two expired tokens go one batch at a time.
	n, err = s.PruneTokens(ctx, at(30*time.Hour), 1)
	if ok(t, "PruneTokens, first batch", err) && n != 1 {
		t.Errorf("PruneTokens batch of 1 = %d, want 1", n)
	}
	n, err = s.PruneTokens(ctx, at(30*time.Hour), 10)
	if ok(t, "PruneTokens", err) && n != 1 {
		t.Errorf("PruneTokens before +30h, second batch = %d, want 1", n)
	}
	checkNoToken("expired and pruned", t1.Hash)
	checkNoToken("expired and pruned", t3.Hash)
	checkToken("not expired", t2)
	checkToken("not expired", t4)

	// Deleting a user deletes their tokens.
	t5 := store.Token{Hash: hashOf("t5"), Username: "carol", CreatedAt: at(0), ExpiresAt: at(100 * time.Hour)}
	must(t, "CreateToken", s.CreateToken(ctx, t5))
	must(t, "DeleteUser bob", s.DeleteUser(ctx, "bob"))
	_, err = s.GetUser(ctx, "bob")
	isErr(t, "GetUser after delete", err, store.ErrNotFound)
	checkNoToken("of a deleted user", t2.Hash)
	checkNoToken("of a deleted user", t4.Hash)
	checkToken("of another user", t5)
	checkList("after delete", alice, carol)
	absentDelete(t, "DeleteUser", s.DeleteUser(ctx, "bob"))
	isErr(t, "CreateToken for a deleted user", s.CreateToken(ctx, store.Token{Hash: hashOf("t6"), Username: "bob", ExpiresAt: at(time.Hour)}), store.ErrNotFound)

	// The name is free again, and the old tokens did not come back.
	bob2 := store.User{Username: "bob", PasswordHash: "$2a$10$bob2", Role: store.RoleAdmin, CreatedAt: at(5 * time.Hour), UpdatedAt: at(5 * time.Hour)}
	must(t, "CreateUser after delete", s.CreateUser(ctx, bob2))
	checkUser("re-created", bob2)
	checkNoToken("of a deleted then re-created user", t2.Hash)
	checkList("after re-create", alice, bob2, carol)
}
