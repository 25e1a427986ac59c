package store

import (
	"context"
	"time"
)

// Role is a user's authority over the /v1 API.
type Role string

// Roles, highest first.
const (
	RoleAdmin Role = "ROLE_ADMIN"
	RoleUser  Role = "ROLE_USER"
)

// Valid reports whether r is a defined role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleUser }

// User is an API user. PasswordHash is an encoded one-way hash; the store
// never sees a password.
type User struct {
	Username           string
	PasswordHash       string
	Role               Role
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Validate reports whether u can be stored.
func (u User) Validate() error {
	if u.Username == "" || len(u.Username) > 64 {
		return Invalidf("user: username must be 1..64 bytes")
	}
	if u.PasswordHash == "" {
		return Invalidf("user %q: empty password hash", u.Username)
	}
	if !u.Role.Valid() {
		return Invalidf("user %q: unknown role %q", u.Username, u.Role)
	}
	return nil
}

// UserStore keeps API users.
type UserStore interface {
	// CreateUser inserts u; ErrConflict if the username exists.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, username string) (User, error)
	// UpdateUser replaces the hash, role and flag of an existing user and
	// sets UpdatedAt; CreatedAt is kept. ErrNotFound if absent.
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user and every token of theirs.
	DeleteUser(ctx context.Context, username string) error
	// ListUsers returns every user ordered by username.
	ListUsers(ctx context.Context) ([]User, error)
}

// Token is a bearer token, stored as the SHA-256 of its secret so a
// database leak does not leak sessions.
type Token struct {
	Hash      []byte
	Username  string
	CreatedAt time.Time
	ExpiresAt time.Time
	// RevokedAt is zero while the token is usable.
	RevokedAt time.Time
}

// Validate reports whether t can be stored.
func (t Token) Validate() error {
	if len(t.Hash) != HashLen {
		return Invalidf("token: hash must be %d bytes, got %d", HashLen, len(t.Hash))
	}
	if t.Username == "" {
		return Invalidf("token: empty username")
	}
	if t.ExpiresAt.IsZero() {
		return Invalidf("token: no expiry")
	}
	return nil
}

// TokenStore keeps bearer tokens.
type TokenStore interface {
	// CreateToken inserts t; ErrNotFound if the user does not exist,
	// ErrConflict if the hash does.
	CreateToken(ctx context.Context, t Token) error
	// GetToken returns the token with this hash, revoked or expired ones
	// included (the caller decides); ErrNotFound if absent.
	GetToken(ctx context.Context, hash []byte) (Token, error)
	// RevokeUserTokens revokes every unrevoked token of username at the given
	// time and returns how many it revoked.
	RevokeUserTokens(ctx context.Context, username string, at time.Time) (int, error)
	// PruneTokens removes up to limit (> 0) tokens that expired before
	// the given time and returns how many; callers repeat while a batch
	// is full, so no statement holds locks for long.
	PruneTokens(ctx context.Context, expiredBefore time.Time, limit int) (int, error)
}
