package memstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/waent/waent/store"
)

// Users.

func (o op) CreateUser(ctx context.Context, u store.User) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := u.Validate(); err != nil {
		return err
	}
	if _, ok := o.st.users[u.Username]; ok {
		return store.Conflictf("user %q exists", u.Username)
	}
	put(o, o.st.users, u.Username, copyUser(u))
	return nil
}

func (o op) GetUser(ctx context.Context, username string) (store.User, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.User{}, err
	}
	defer leave()
	u, ok := o.st.users[username]
	if !ok {
		return store.User{}, store.NotFoundf("user %q", username)
	}
	return copyUser(u), nil
}

func (o op) UpdateUser(ctx context.Context, u store.User) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := u.Validate(); err != nil {
		return err
	}
	old, ok := o.st.users[u.Username]
	if !ok {
		return store.NotFoundf("user %q", u.Username)
	}
	u = copyUser(u)
	u.CreatedAt = old.CreatedAt
	put(o, o.st.users, u.Username, u)
	return nil
}

func (o op) DeleteUser(ctx context.Context, username string) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if !del(o, o.st.users, username) {
		return store.NotFoundf("user %q", username)
	}
	for h, t := range o.st.tokens {
		if t.Username == username {
			del(o, o.st.tokens, h)
		}
	}
	return nil
}

func (o op) ListUsers(ctx context.Context) ([]store.User, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer leave()
	out := make([]store.User, 0, len(o.st.users))
	for _, u := range o.st.users {
		out = append(out, copyUser(u))
	}
	slices.SortFunc(out, func(a, b store.User) int { return strings.Compare(a.Username, b.Username) })
	return out, nil
}

// Tokens.

func (o op) CreateToken(ctx context.Context, t store.Token) error {
	leave, err := o.enter(ctx)
	if err != nil {
		return err
	}
	defer leave()
	if err := t.Validate(); err != nil {
		return err
	}
	if _, ok := o.st.users[t.Username]; !ok {
		return store.NotFoundf("token: user %q", t.Username)
	}
	if _, ok := o.st.tokens[string(t.Hash)]; ok {
		return store.Conflictf("token exists")
	}
	put(o, o.st.tokens, string(t.Hash), copyToken(t))
	return nil
}

func (o op) GetToken(ctx context.Context, hash []byte) (store.Token, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return store.Token{}, err
	}
	defer leave()
	t, ok := o.st.tokens[string(hash)]
	if !ok {
		return store.Token{}, store.NotFoundf("token")
	}
	return copyToken(t), nil
}

func (o op) RevokeUserTokens(ctx context.Context, username string, at time.Time) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if at.IsZero() {
		// A zero RevokedAt means "usable": revoking at the zero time would
		// revoke nothing.
		return 0, store.Invalidf("revoke tokens of %q: no time", username)
	}
	at = norm(at)
	n := 0
	for h, t := range o.st.tokens {
		if t.Username == username && t.RevokedAt.IsZero() {
			t.RevokedAt = at
			put(o, o.st.tokens, h, t)
			n++
		}
	}
	return n, nil
}

func (o op) PruneTokens(ctx context.Context, expiredBefore time.Time, limit int) (int, error) {
	leave, err := o.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer leave()
	if limit <= 0 {
		return 0, store.Invalidf("prune tokens: limit must be positive, got %d", limit)
	}
	n := 0
	for h, t := range o.st.tokens {
		if n < limit && t.ExpiresAt.Before(norm(expiredBefore)) {
			del(o, o.st.tokens, h)
			n++
		}
	}
	return n, nil
}
