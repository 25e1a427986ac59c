package waent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/waent/waent/store"
)

// UsersConfig tunes the /v1 API users: password hashing, token lifetime
// and login throttling. The zero value gives the defaults below.
type UsersConfig struct {
	// Argon2id cost of new password hashes. The defaults (t=2, 19 MiB,
	// p=1) are OWASP's minimum recommendation for argon2id: memory-hard
	// enough that a leaked user table is expensive to attack on GPUs,
	// while a login costs about 40 ms of one core (measured on the
	// project's 2-core test machine; about 250 ms in -race builds,
	// which instrument argon2's Go loops). Stored hashes carry their
	// own parameters, so changing these never locks anyone out; a
	// login upgrades a hash made with weaker ones.
	HashTime      uint32 // passes; default 2
	HashMemoryKiB uint32 // default 19456 (19 MiB)
	HashThreads   uint8  // default 1
	// MaxConcurrentHashes bounds the argon2 computations running at once,
	// so a burst of logins cannot take HashMemoryKiB times the burst in
	// memory. Default 4.
	MaxConcurrentHashes int

	// TokenTTL is how long a bearer token is valid (On-Premises: 7 days).
	TokenTTL time.Duration

	// MaxFailures failed logins for one username within FailureWindow
	// make further logins for it fail with 1015 until the oldest of them
	// leaves the window, whatever the password. Defaults 5 and 15
	// minutes. MaxTracked bounds the usernames remembered (default
	// 10,000): past it the stalest record is forgotten, so guessing
	// usernames cannot grow memory.
	MaxFailures   int
	FailureWindow time.Duration
	MaxTracked    int
}

func (u UsersConfig) withDefaults() UsersConfig {
	if u.HashTime == 0 {
		u.HashTime = 2
	}
	if u.HashMemoryKiB == 0 {
		u.HashMemoryKiB = 19 * 1024
	}
	if u.HashThreads == 0 {
		u.HashThreads = 1
	}
	if u.MaxConcurrentHashes <= 0 {
		u.MaxConcurrentHashes = 4
	}
	if u.TokenTTL <= 0 {
		u.TokenTTL = 7 * 24 * time.Hour
	}
	if u.MaxFailures <= 0 {
		u.MaxFailures = 5
	}
	if u.FailureWindow <= 0 {
		u.FailureWindow = 15 * time.Minute
	}
	if u.MaxTracked <= 0 {
		u.MaxTracked = 10_000
	}
	return u
}

// The default account of a fresh installation (onprem-api.md §3.1).
const (
	DefaultAdminUsername = "admin"
	defaultAdminPassword = "secret"
)

// PasswordSpecials are the characters that count as special in a
// password (onprem-api.md §3.1).
const PasswordSpecials = " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// LoginResult is a bearer token and when it stops being accepted.
type LoginResult struct {
	Token        string
	ExpiresAfter time.Time
}

// usersState is what a Client remembers about users between calls.
type usersState struct {
	cfg  UsersConfig
	sem  chan struct{} // argon2 slots
	init sync.Mutex    // serialises the default admin check

	mu         sync.Mutex
	adminReady bool
	dummyHash  string // verified against for unknown users, so they cost as much as known ones
	fails      map[string]*failures
	lastPrune  time.Time
}

// failures are the recent failed logins of one username, oldest first,
// at most MaxFailures of them, and its attempts being checked.
type failures struct {
	at      []time.Time
	pending int
}

func newUsersState(cfg UsersConfig) *usersState {
	cfg = cfg.withDefaults()
	return &usersState{cfg: cfg, sem: make(chan struct{}, cfg.MaxConcurrentHashes), fails: map[string]*failures{}}
}

func (c *Client) users() *usersState { return c.userState }

// Login checks username and password and returns a new bearer token. A
// user who must change their password (the default admin at first) gets
// 1024 unless newPassword is given; a non-empty newPassword replaces the
// password, subject to the password rules, and revokes the user's other
// tokens. Wrong credentials are 1005; too many recent failures for the
// username are 1015.
func (c *Client) Login(ctx context.Context, username, password, newPassword string) (LoginResult, error) {
	us := c.users()
	if err := c.ensureDefaultAdmin(ctx, us); err != nil {
		return LoginResult{}, err
	}
	// A name no user can have is refused before it is tracked: the
	// throttle table must not hold attacker-sized keys, and on MySQL a
	// trailing space would otherwise alias a real user ("admin ").
	if ValidateUsername(username) != nil {
		return LoginResult{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	if wait := us.begin(username, c.now()); wait > 0 {
		mins := max(1, int((wait+time.Minute-1)/time.Minute))
		return LoginResult{}, NewError(CodeTooManyRequests,
			fmt.Sprintf("Too many failed login attempts for this user; try again in %d minute(s)", mins))
	}
	ok, u, weak, err := c.checkPassword(ctx, us, username, password)
	switch {
	case err != nil:
		us.end(username, c.now(), attemptAborted)
		return LoginResult{}, err
	case !ok:
		us.end(username, c.now(), attemptFailed)
		return LoginResult{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	us.end(username, c.now(), attemptSucceeded)
	c.pruneTokens(ctx, us)
	if newPassword == "" && u.MustChangePassword {
		return LoginResult{}, NewError(CodePasswordChange, "Password change required: log in again with 'new_password'")
	}
	if newPassword != "" {
		if newPassword == password {
			return LoginResult{}, NewError(CodeInvalidParameter, "Parameter 'new_password' must differ from the current password")
		}
		if err := c.setPassword(ctx, us, u, "new_password", newPassword); err != nil {
			return LoginResult{}, err
		}
	} else if weak {
		// Best effort: the login succeeds even if the upgrade does not.
		if h, err := us.hash(ctx, password); err == nil {
			u.PasswordHash = h
			_ = c.st.UpdateUser(ctx, u)
		}
	}
	return c.issueToken(ctx, us, u.Username)
}

// checkPassword reports whether password is username's; unknown users
// cost the same work as known ones, so response times do not tell which
// usernames exist.
func (c *Client) checkPassword(ctx context.Context, us *usersState, username, password string) (ok bool, u store.User, weak bool, err error) {
	u, err = c.st.GetUser(ctx, username)
	stored := u.PasswordHash
	switch {
	case errors.Is(err, store.ErrNotFound):
		if stored, err = us.dummy(ctx); err != nil {
			return false, store.User{}, false, err
		}
		u = store.User{}
	case err != nil:
		return false, store.User{}, false, fmt.Errorf("waent: login: %w", err)
	}
	ok, weak, err = us.verify(ctx, stored, password)
	if err != nil {
		return false, store.User{}, false, err
	}
	return ok && u.Username != "", u, weak, nil
}

// pruneTokens deletes expired tokens now and then, so the table does not
// grow with every login; logins are frequent enough to drive it without
// a goroutine of its own.
func (c *Client) pruneTokens(ctx context.Context, us *usersState) {
	now := c.now()
	us.mu.Lock()
	due := now.Sub(us.lastPrune) >= time.Hour
	if due {
		us.lastPrune = now
	}
	us.mu.Unlock()
	if due {
		// One bounded batch: the garbage collector takes any rest.
		if _, err := c.st.PruneTokens(ctx, now, 1000); err != nil {
			c.log.Warn("waent: pruning expired tokens", "err", err)
		}
	}
}

func (c *Client) issueToken(ctx context.Context, us *usersState, username string) (LoginResult, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return LoginResult{}, fmt.Errorf("waent: token: %w", err)
	}
	sum := sha256.Sum256(secret)
	now := c.now()
	t := store.Token{Hash: sum[:], Username: username, CreatedAt: now, ExpiresAt: now.Add(us.cfg.TokenTTL)}
	if err := c.st.CreateToken(ctx, t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// Deleted between the password check and now.
			return LoginResult{}, NewError(CodeAccessDenied, "Invalid credentials")
		}
		return LoginResult{}, fmt.Errorf("waent: store token: %w", err)
	}
	return LoginResult{Token: base64.RawURLEncoding.EncodeToString(secret), ExpiresAfter: store.NormalizeTime(t.ExpiresAt)}, nil
}

// tokenLen is the length of an encoded token: 32 bytes in base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(32)

// Authenticate returns the user a bearer token belongs to. Unknown,
// revoked and expired tokens are 1005. The user's PasswordHash is not
// returned.
func (c *Client) Authenticate(ctx context.Context, token string) (store.User, error) {
	if len(token) != tokenLen {
		return store.User{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	secret, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return store.User{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	sum := sha256.Sum256(secret)
	t, err := c.st.GetToken(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	if err != nil {
		return store.User{}, fmt.Errorf("waent: token lookup: %w", err)
	}
	// The store found it by hash; comparing again in constant time keeps
	// a store with a lax (prefix, case-folding) index from matching
	// anything else.
	if subtle.ConstantTimeCompare(t.Hash, sum[:]) != 1 {
		return store.User{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	if !t.RevokedAt.IsZero() {
		return store.User{}, NewError(CodeAccessDenied, "Token revoked: log in again")
	}
	if !c.now().Before(t.ExpiresAt) {
		return store.User{}, NewError(CodeAccessDenied, "Token expired: log in again")
	}
	u, err := c.st.GetUser(ctx, t.Username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, NewError(CodeAccessDenied, "Invalid credentials")
	}
	if err != nil {
		return store.User{}, fmt.Errorf("waent: token user: %w", err)
	}
	// A token older than the user's last change (a password change, say)
	// is void even if the revocation missed it: a login that checked the
	// old password while the change committed issues its token after the
	// revoking update.
	if t.CreatedAt.Before(u.UpdatedAt) {
		return store.User{}, NewError(CodeAccessDenied, "Token revoked: log in again")
	}
	u.PasswordHash = ""
	return u, nil
}

// Logout revokes every token of username.
func (c *Client) Logout(ctx context.Context, username string) error {
	if _, err := c.st.RevokeUserTokens(ctx, username, c.now()); err != nil {
		return fmt.Errorf("waent: logout: %w", err)
	}
	return nil
}

// CreateUser adds a user with role ROLE_USER. The username is 4–32
// characters; the password must follow the rules (ValidatePassword). A
// taken username is 1014 "Unable to create user. Already exist?", as
// On-Premises said.
func (c *Client) CreateUser(ctx context.Context, username, password string) error {
	us := c.users()
	if err := c.ensureDefaultAdmin(ctx, us); err != nil {
		return err
	}
	if err := ValidateUsername(username); err != nil {
		return err
	}
	if err := ValidatePassword("password", password); err != nil {
		return err
	}
	h, err := us.hash(ctx, password)
	if err != nil {
		return err
	}
	now := c.now()
	err = c.st.CreateUser(ctx, store.User{Username: username, PasswordHash: h, Role: store.RoleUser, CreatedAt: now, UpdatedAt: now})
	if errors.Is(err, store.ErrConflict) {
		return NewError(CodeInternal, "Unable to create user. Already exist?")
	}
	if err != nil {
		return fmt.Errorf("waent: create user: %w", err)
	}
	return nil
}

// GetUser returns a user without its PasswordHash; 1006 if unknown.
func (c *Client) GetUser(ctx context.Context, username string) (store.User, error) {
	if err := c.ensureDefaultAdmin(ctx, c.users()); err != nil {
		return store.User{}, err
	}
	if ValidateUsername(username) != nil {
		return store.User{}, NewError(CodeResourceNotFound, "User not found")
	}
	u, err := c.st.GetUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, NewError(CodeResourceNotFound, "User not found")
	}
	if err != nil {
		return store.User{}, fmt.Errorf("waent: get user: %w", err)
	}
	u.PasswordHash = ""
	return u, nil
}

// ChangePassword sets a user's password (subject to the rules), clears
// any pending forced change and revokes the user's tokens, since a
// password is changed when it may have leaked. 1006 if unknown.
func (c *Client) ChangePassword(ctx context.Context, username, password string) error {
	us := c.users()
	if err := c.ensureDefaultAdmin(ctx, us); err != nil {
		return err
	}
	if ValidateUsername(username) != nil {
		return NewError(CodeResourceNotFound, "User not found")
	}
	if err := ValidatePassword("password", password); err != nil {
		return err
	}
	u, err := c.st.GetUser(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return NewError(CodeResourceNotFound, "User not found")
	}
	if err != nil {
		return fmt.Errorf("waent: change password: %w", err)
	}
	return c.setPassword(ctx, us, u, "password", password)
}

func (c *Client) setPassword(ctx context.Context, us *usersState, u store.User, param, password string) error {
	if err := ValidatePassword(param, password); err != nil {
		return err
	}
	h, err := us.hash(ctx, password)
	if err != nil {
		return err
	}
	u.PasswordHash, u.MustChangePassword, u.UpdatedAt = h, false, c.now()
	if err := c.st.UpdateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NewError(CodeResourceNotFound, "User not found")
		}
		return fmt.Errorf("waent: update user: %w", err)
	}
	return c.Logout(ctx, u.Username)
}

// DeleteUser removes a user and revokes their tokens. The default admin
// cannot be deleted (1005); an unknown user is 1006.
func (c *Client) DeleteUser(ctx context.Context, username string) error {
	if err := c.ensureDefaultAdmin(ctx, c.users()); err != nil {
		return err
	}
	if ValidateUsername(username) != nil {
		return NewError(CodeResourceNotFound, "User not found")
	}
	u, err := c.st.GetUser(ctx, username)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NewError(CodeResourceNotFound, "User not found")
		}
		return fmt.Errorf("waent: delete user: %w", err)
	}
	// Compare the stored name: a collation may match a spelling that
	// differs from it.
	if username == DefaultAdminUsername || u.Username == DefaultAdminUsername {
		return NewError(CodeAccessDenied, "The default admin user cannot be deleted")
	}
	// Revoke first: a store that deleted the user but kept its tokens
	// must still not accept them.
	if err := c.Logout(ctx, username); err != nil {
		return err
	}
	if err := c.st.DeleteUser(ctx, username); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return NewError(CodeResourceNotFound, "User not found")
		}
		return fmt.Errorf("waent: delete user: %w", err)
	}
	return nil
}

// ensureDefaultAdmin creates admin/secret (must change at first login)
// when the store has no user at all. Only an empty user table gets it: a
// table whose admin row was removed by hand stays without one rather
// than reopening the well-known password to whoever logs in first.
func (c *Client) ensureDefaultAdmin(ctx context.Context, us *usersState) error {
	us.mu.Lock()
	ready := us.adminReady
	us.mu.Unlock()
	if ready {
		return nil
	}
	us.init.Lock()
	defer us.init.Unlock()
	us.mu.Lock()
	ready = us.adminReady
	us.mu.Unlock()
	if ready {
		return nil
	}
	all, err := c.st.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("waent: list users: %w", err)
	}
	if len(all) == 0 {
		// The default password is public, so a costly hash of it would
		// protect nothing; the cheapest one keeps the first login (which
		// must set a properly hashed new password) at one full hash.
		h, err := us.hashWith(ctx, defaultAdminPassword, 1, 8, 1)
		if err != nil {
			return err
		}
		now := c.now()
		err = c.st.CreateUser(ctx, store.User{Username: DefaultAdminUsername, PasswordHash: h, Role: store.RoleAdmin,
			MustChangePassword: true, CreatedAt: now, UpdatedAt: now})
		// ErrConflict: another instance on the same database made it.
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("waent: create default admin: %w", err)
		}
	}
	us.mu.Lock()
	us.adminReady = true
	us.mu.Unlock()
	return nil
}

// ValidateUsername checks the On-Premises username rule (4–32
// characters). Only printable ASCII without spaces, '/' and ':' is
// accepted: the name travels in URL paths and before the colon of HTTP
// Basic credentials.
func ValidateUsername(username string) error {
	if username == "" {
		return NewError(CodeMissingParameter, "Missing mandatory parameter 'username'")
	}
	if len(username) < 4 || len(username) > 32 {
		return NewError(CodeInvalidParameter, "Parameter 'username' must be 4 to 32 characters long")
	}
	for i := 0; i < len(username); i++ {
		b := username[i]
		if b <= ' ' || b >= 0x7f || b == '/' || b == ':' {
			return NewError(CodeInvalidParameter, "Parameter 'username' may contain only printable ASCII characters other than space, '/' and ':'")
		}
	}
	return nil
}

// ValidatePassword checks the On-Premises password rules: 8–64
// characters with at least one digit, one upper-case and one lower-case
// letter and one of PasswordSpecials. param names the field in errors.
func ValidatePassword(param, password string) error {
	if password == "" {
		return NewError(CodeMissingParameter, "Missing mandatory parameter '"+param+"'")
	}
	if !utf8.ValidString(password) {
		return NewError(CodeInvalidParameter, "Parameter '"+param+"' is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(password); n < 8 || n > 64 {
		return NewError(CodeInvalidParameter, "Parameter '"+param+"' must be 8 to 64 characters long")
	}
	var digit, upper, lower, special bool
	for _, r := range password {
		switch {
		case r >= '0' && r <= '9':
			digit = true
		case r >= 'A' && r <= 'Z':
			upper = true
		case r >= 'a' && r <= 'z':
			lower = true
		case r < utf8.RuneSelf && strings.ContainsRune(PasswordSpecials, r):
			special = true
		case r < ' ' || r == 0x7f:
			return NewError(CodeInvalidParameter, "Parameter '"+param+"' must not contain control characters")
		}
	}
	var missing []string
	if !digit {
		missing = append(missing, "one digit")
	}
	if !upper {
		missing = append(missing, "one upper case letter")
	}
	if !lower {
		missing = append(missing, "one lower case letter")
	}
	if !special {
		missing = append(missing, "one special character")
	}
	if len(missing) > 0 {
		return NewError(CodeInvalidParameter, "Parameter '"+param+"' must contain at least "+strings.Join(missing, ", "))
	}
	return nil
}

// Password hashes are PHC strings:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>, base64
// without padding, so each carries the parameters it was made with.

const (
	saltLen = 16
	keyLen  = 32
	// Bounds on the parameters of a stored hash, so a corrupt or hostile
	// row cannot make a login allocate gigabytes or spin for minutes.
	maxHashMemoryKiB = 1 << 20
	maxHashTime      = 64
)

func (us *usersState) acquire(ctx context.Context) (func(), error) {
	select {
	case us.sem <- struct{}{}:
		return func() { <-us.sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (us *usersState) hash(ctx context.Context, password string) (string, error) {
	return us.hashWith(ctx, password, us.cfg.HashTime, us.cfg.HashMemoryKiB, us.cfg.HashThreads)
}

func (us *usersState) hashWith(ctx context.Context, password string, t, m uint32, threads uint8) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("waent: salt: %w", err)
	}
	release, err := us.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	key := argon2.IDKey([]byte(password), salt, t, m, threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, t, threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// verify reports whether password matches the encoded hash, and whether
// the hash is weaker than the configured parameters.
func (us *usersState) verify(ctx context.Context, encoded, password string) (ok, weak bool, err error) {
	m, t, p, salt, key, perr := parseHash(encoded)
	if perr != nil {
		return false, false, fmt.Errorf("waent: stored password hash: %w", perr)
	}
	release, err := us.acquire(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	ok = subtle.ConstantTimeCompare(got, key) == 1
	weak = m < us.cfg.HashMemoryKiB || t < us.cfg.HashTime
	return ok, weak, nil
}

func parseHash(s string) (m, t uint32, p uint8, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return 0, 0, 0, nil, nil, errors.New("not an argon2id hash")
	}
	var mm, tt, pp uint64
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil {
			return 0, 0, 0, nil, nil, errors.New("bad argon2id parameters")
		}
		switch k {
		case "m":
			mm = n
		case "t":
			tt = n
		case "p":
			pp = n
		}
	}
	if mm == 0 || mm > maxHashMemoryKiB || tt == 0 || tt > maxHashTime || pp == 0 || pp > 255 {
		return 0, 0, 0, nil, nil, errors.New("argon2id parameters out of range")
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 64 {
		return 0, 0, 0, nil, nil, errors.New("bad argon2id salt or key")
	}
	return uint32(mm), uint32(tt), uint8(pp), salt, key, nil
}

// dummy is a hash no password matches in practice, made with the current
// parameters.
func (us *usersState) dummy(ctx context.Context) (string, error) {
	us.mu.Lock()
	d := us.dummyHash
	us.mu.Unlock()
	if d != "" {
		return d, nil
	}
	var r [24]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("waent: dummy: %w", err)
	}
	d, err := us.hash(ctx, base64.RawStdEncoding.EncodeToString(r[:]))
	if err != nil {
		return "", err
	}
	us.mu.Lock()
	us.dummyHash = d
	us.mu.Unlock()
	return d, nil
}

// Outcomes of a login attempt for the throttle.
type outcome int

const (
	attemptAborted   outcome = iota // store or context error: neither
	attemptFailed                   // wrong credentials
	attemptSucceeded                // right credentials
)

// begin registers a login attempt for username, or returns how long the
// username must wait first. Attempts still being checked count against
// the limit, so a burst of parallel guesses cannot all slip in before
// the first failures are recorded. Every begin that returns 0 must be
// followed by one end.
func (us *usersState) begin(username string, now time.Time) time.Duration {
	us.mu.Lock()
	defer us.mu.Unlock()
	f := us.fails[username]
	if f == nil {
		if len(us.fails) >= us.cfg.MaxTracked {
			us.evict(now)
		}
		f = &failures{}
		us.fails[username] = f
	}
	f.prune(now, us.cfg.FailureWindow)
	if len(f.at)+f.pending >= us.cfg.MaxFailures {
		if n := len(f.at); n >= us.cfg.MaxFailures {
			return f.at[n-us.cfg.MaxFailures].Add(us.cfg.FailureWindow).Sub(now)
		}
		// Full of attempts in flight: their results decide.
		return time.Second
	}
	f.pending++
	return 0
}

// end records the outcome of an attempt begun with begin.
func (us *usersState) end(username string, now time.Time, o outcome) {
	us.mu.Lock()
	defer us.mu.Unlock()
	f := us.fails[username]
	if f == nil {
		// Evicted meanwhile; a failure still counts.
		if o != attemptFailed {
			return
		}
		if len(us.fails) >= us.cfg.MaxTracked {
			us.evict(now)
		}
		f = &failures{}
		us.fails[username] = f
	}
	if f.pending > 0 {
		f.pending--
	}
	switch o {
	case attemptFailed:
		f.prune(now, us.cfg.FailureWindow)
		f.at = append(f.at, now)
		if len(f.at) > us.cfg.MaxFailures {
			f.at = append(f.at[:0], f.at[len(f.at)-us.cfg.MaxFailures:]...)
		}
	case attemptSucceeded:
		f.at = nil
	}
	if len(f.at) == 0 && f.pending == 0 {
		delete(us.fails, username)
	}
}

func (f *failures) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(f.at) && !now.Before(f.at[i].Add(window)) {
		i++
	}
	f.at = f.at[i:]
}

// evict makes room in the failure table: records with nothing in the
// window go first, then the one whose latest failure is oldest, records
// with attempts in flight last.
func (us *usersState) evict(now time.Time) {
	var victim string
	var victimAt time.Time
	victimBusy := true
	for name, f := range us.fails {
		f.prune(now, us.cfg.FailureWindow)
		if len(f.at) == 0 && f.pending == 0 {
			delete(us.fails, name)
			continue
		}
		var last time.Time
		if len(f.at) > 0 {
			last = f.at[len(f.at)-1]
		}
		busy := f.pending > 0
		if victim == "" || (victimBusy && !busy) || (busy == victimBusy && last.Before(victimAt)) {
			victim, victimAt, victimBusy = name, last, busy
		}
	}
	if len(us.fails) >= us.cfg.MaxTracked && victim != "" {
		delete(us.fails, victim)
	}
}
