// Package regserver is the simulated registration service: the HTTP
// handler behind /v2/exist, /v2/code and /v2/register that package
// conn/register talks to (the wire protocol is documented there). It
// "sends" codes by keeping them for tests to read with IssuedCode, and
// records which Noise static key each number is registered to, which the
// simulated chat server checks at login.
//
// Behaviour, beyond the wire format:
//   - Every parameter is validated (base64url without padding, exact
//     lengths, digits); the first bad one is named in a fail/bad_param
//     (or fail/missing) reply.
//   - Codes are random decimal digits from crypto/rand, valid for
//     Options.CodeTTL. Each number keeps at most its three newest codes;
//     any of them registers. Five wrong guesses cancel them all.
//   - A registered code is consumed: using it again gets fail/stale.
//   - Registering a number that is already registered replaces its key
//     (a new installation takes the number over) and answers type
//     "existing".
//   - Options.RetryAfter spaces code requests per number: an early one
//     gets fail/too_recent with retry_after.
//   - Blocked numbers get fail/blocked everywhere and cannot log in.
//   - Memory is bounded: numbers with outstanding codes are capped at
//     Options.MaxPending, dropping expired entries first, then the
//     oldest.
//
// Registration ids, identity and prekeys are checked for form only; the
// signed prekey's signature is not verified.
package regserver

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Options configure a Server. Zero values take the defaults noted.
type Options struct {
	CodeLength int              // digits per code, 4-10; default 6
	Now        func() time.Time // the clock; default time.Now
	// RetryAfter is the minimum gap between code requests for one
	// number; 0 (the default, convenient for tests) allows any rate.
	RetryAfter time.Duration
	CodeTTL    time.Duration // how long a code is valid; default 10 minutes
	MaxPending int           // numbers with outstanding codes kept; default 10000
}

// Limits that need no tuning in a simulator.
const (
	codesPerNumber = 3 // a user may request again before the first SMS lands
	maxGuesses     = 5 // wrong codes before the outstanding ones are cancelled
)

// Server is the registration service. It is safe for concurrent use.
type Server struct {
	opts Options

	mu       sync.Mutex
	accounts map[string]*account // by full number (cc + in)
	pending  map[string]*pending
	blocked  map[string]bool
}

type account struct {
	noisePub  [32]byte
	installID [20]byte
	at        time.Time
}

type pending struct {
	codes   []issued // oldest first
	last    time.Time
	guesses int
}

type issued struct {
	code    string
	method  string
	expires time.Time
}

// New returns a Server with no accounts.
func New(opts Options) *Server {
	if opts.CodeLength < 4 || opts.CodeLength > 10 {
		opts.CodeLength = 6
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryAfter < 0 {
		opts.RetryAfter = 0
	}
	if opts.CodeTTL <= 0 {
		opts.CodeTTL = 10 * time.Minute
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10000
	}
	return &Server{
		opts:     opts,
		accounts: map[string]*account{},
		pending:  map[string]*pending{},
		blocked:  map[string]bool{},
	}
}

// IssuedCode returns the newest valid code sent to the number, as the
// phone would have received it.
func (s *Server) IssuedCode(cc, phone string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending[cc+phone]
	if p == nil {
		return "", false
	}
	p.expire(s.opts.Now())
	if len(p.codes) == 0 {
		return "", false
	}
	return p.codes[len(p.codes)-1].code, true
}

// Registered returns the Noise static key phone (cc + national number,
// digits) is registered to. Blocked numbers report false, so the chat
// server refuses their logins.
func (s *Server) Registered(phone string) (noisePub [32]byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[phone]
	if a == nil || s.blocked[phone] {
		return [32]byte{}, false
	}
	return a.noisePub, true
}

// Register registers phone (cc + national number, digits) to noisePub
// directly, as if it had completed registration; for sandboxes and
// tests that do not exercise the code flow.
func (s *Server) Register(phone string, noisePub [32]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[phone] = &account{noisePub: noisePub, at: s.opts.Now()}
	delete(s.pending, phone)
}

// Block bans phone (cc + national number): every request for it fails
// with "blocked" and Registered reports false. Its registration is kept
// for Unblock.
func (s *Server) Block(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[phone] = true
	delete(s.pending, phone)
}

// Unblock lifts a Block.
func (s *Server) Unblock(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, phone)
}

// reply is the JSON answer; see package conn/register for the fields.
type reply struct {
	Status     string `json:"status"`
	Reason     string `json:"reason,omitempty"`
	Param      string `json:"param,omitempty"`
	Login      string `json:"login,omitempty"`
	Type       string `json:"type,omitempty"`
	Method     string `json:"method,omitempty"`
	Length     int    `json:"length,omitempty"`
	RetryAfter int64  `json:"retry_after,omitempty"`
	SMSWait    int64  `json:"sms_wait,omitempty"`
	VoiceWait  int64  `json:"voice_wait,omitempty"`
}

func fail(reason string) reply { return reply{Status: "fail", Reason: reason} }

func badParam(name string) reply {
	return reply{Status: "fail", Reason: "bad_param", Param: name}
}

// request is a validated query.
type request struct {
	phone     string // cc + in
	installID [20]byte
	authkey   [32]byte
	method    string // code only
	code      string // register only
}

// ServeHTTP serves GET /v2/exist, /v2/code and /v2/register.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	endpoint := ""
	switch r.URL.Path {
	case "/v2/exist", "/v2/code", "/v2/register":
		endpoint = r.URL.Path[len("/v2/"):]
	default:
		http.NotFound(w, r)
		return
	}
	var rep reply
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		rep = badParam("query")
	} else if req, bad := s.parse(endpoint, q); bad != nil {
		rep = *bad
	} else {
		switch endpoint {
		case "exist":
			rep = s.exist(req)
		case "code":
			rep = s.code(req)
		default:
			rep = s.register(req)
		}
	}
	// Replies may carry nothing secret, but they answer for one number
	// at one moment: no caching anywhere.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rep)
}

// parse validates the query strictly, in a fixed parameter order so the
// parameter named in a bad_param reply is deterministic.
func (s *Server) parse(endpoint string, q url.Values) (request, *reply) {
	var req request
	var bad *reply
	get := func(name string) (string, bool) {
		if bad != nil {
			return "", false
		}
		vs, ok := q[name]
		switch {
		case !ok || len(vs) == 0 || vs[0] == "":
			r := reply{Status: "fail", Reason: "missing", Param: name}
			bad = &r
			return "", false
		case len(vs) > 1:
			r := badParam(name)
			bad = &r
			return "", false
		}
		return vs[0], true
	}
	check := func(name string, ok bool) {
		if bad == nil && !ok {
			r := badParam(name)
			bad = &r
		}
	}
	bytesOf := func(name string, n int) []byte {
		v, ok := get(name)
		if !ok {
			return nil
		}
		b, err := base64.RawURLEncoding.Strict().DecodeString(v)
		check(name, err == nil && len(b) == n)
		return b
	}

	cc, _ := get("cc")
	check("cc", len(cc) <= 3 && digitsOnly(cc) && cc[0] != '0')
	in, _ := get("in")
	check("in", len(in) >= 4 && digitsOnly(in) && len(cc)+len(in) <= 15)
	lg, _ := get("lg")
	check("lg", (len(lg) == 2 || len(lg) == 3) && allIn(lg, 'a', 'z'))
	lc, _ := get("lc")
	check("lc", len(lc) == 2 && allIn(lc, 'A', 'Z'))
	copy(req.installID[:], bytesOf("id", 20))
	copy(req.authkey[:], bytesOf("authkey", 32))
	check("authkey", req.authkey != [32]byte{})
	bytesOf("e_regid", 4)
	kt := bytesOf("e_keytype", 1)
	check("e_keytype", len(kt) == 1 && kt[0] == 0x05)
	bytesOf("e_ident", 32)
	bytesOf("e_skey_id", 3)
	bytesOf("e_skey_val", 32)
	bytesOf("e_skey_sig", 64)
	switch endpoint {
	case "code":
		req.method, _ = get("method")
		check("method", req.method == "sms" || req.method == "voice")
	case "register":
		req.code, _ = get("code")
		check("code", len(req.code) == s.opts.CodeLength && digitsOnly(req.code))
	}
	if bad != nil {
		return request{}, bad
	}
	req.phone = cc + in
	return req, nil
}

func digitsOnly(s string) bool { return s != "" && allIn(s, '0', '9') }

func allIn(s string, lo, hi byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < lo || s[i] > hi {
			return false
		}
	}
	return true
}

func (s *Server) exist(req request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[req.phone] {
		return fail("blocked")
	}
	if a := s.accounts[req.phone]; a != nil && a.noisePub == req.authkey {
		return reply{Status: "ok", Login: req.phone, Type: "existing"}
	}
	r := fail("incorrect")
	r.Login = req.phone
	return r
}

func (s *Server) code(req request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[req.phone] {
		return fail("blocked")
	}
	if a := s.accounts[req.phone]; a != nil && a.noisePub == req.authkey {
		return reply{Status: "ok", Login: req.phone, Type: "existing"}
	}
	now := s.opts.Now()
	p := s.pending[req.phone]
	if p != nil {
		p.expire(now)
		if wait := s.opts.RetryAfter - now.Sub(p.last); wait > 0 {
			r := fail("too_recent")
			r.Login = req.phone
			r.RetryAfter, r.SMSWait, r.VoiceWait = ceilSeconds(wait), ceilSeconds(wait), ceilSeconds(wait)
			return r
		}
	} else {
		s.makeRoom(now)
		p = &pending{}
		s.pending[req.phone] = p
	}
	code, err := s.newCode()
	if err != nil {
		return fail("temporarily_unavailable")
	}
	p.codes = append(p.codes, issued{code: code, method: req.method, expires: now.Add(s.opts.CodeTTL)})
	if len(p.codes) > codesPerNumber {
		p.codes = append(p.codes[:0], p.codes[len(p.codes)-codesPerNumber:]...)
	}
	p.last = now
	p.guesses = 0
	wait := ceilSeconds(s.opts.RetryAfter)
	return reply{
		Status: "sent", Login: req.phone, Method: req.method, Length: s.opts.CodeLength,
		RetryAfter: wait, SMSWait: wait, VoiceWait: wait,
	}
}

func (s *Server) register(req request) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[req.phone] {
		return fail("blocked")
	}
	now := s.opts.Now()
	p := s.pending[req.phone]
	if p != nil {
		p.expire(now)
	}
	if p == nil || len(p.codes) == 0 {
		r := fail("stale")
		r.Login = req.phone
		return r
	}
	match := 0
	for _, c := range p.codes {
		match |= subtle.ConstantTimeCompare([]byte(c.code), []byte(req.code))
	}
	if match == 0 {
		p.guesses++
		if p.guesses >= maxGuesses {
			p.codes = nil
		}
		r := fail("incorrect")
		r.Login = req.phone
		return r
	}
	typ := "new"
	if s.accounts[req.phone] != nil {
		typ = "existing"
	}
	s.accounts[req.phone] = &account{noisePub: req.authkey, installID: req.installID, at: now}
	// Keep the entry's request time so RetryAfter still applies, but no
	// code: each one registers at most once.
	p.codes = nil
	return reply{Status: "ok", Login: req.phone, Type: typ}
}

// expire drops codes past their validity.
func (p *pending) expire(now time.Time) {
	live := p.codes[:0]
	for _, c := range p.codes {
		if now.Before(c.expires) {
			live = append(live, c)
		}
	}
	clear(p.codes[len(live):])
	p.codes = live
}

// makeRoom keeps the pending table under MaxPending before an insert:
// entries with no live code whose retry gap has passed carry no state
// worth keeping; if none can go, the longest-idle one is dropped.
func (s *Server) makeRoom(now time.Time) {
	if len(s.pending) < s.opts.MaxPending {
		return
	}
	for phone, p := range s.pending {
		p.expire(now)
		if len(p.codes) == 0 && now.Sub(p.last) >= s.opts.RetryAfter {
			delete(s.pending, phone)
		}
	}
	for len(s.pending) >= s.opts.MaxPending {
		oldest, first := "", true
		var at time.Time
		for phone, p := range s.pending {
			if first || p.last.Before(at) {
				oldest, at, first = phone, p.last, false
			}
		}
		delete(s.pending, oldest)
	}
}

func (s *Server) newCode() (string, error) {
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s.opts.CodeLength)), nil)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return "", fmt.Errorf("regserver: generating a code: %w", err)
	}
	return fmt.Sprintf("%0*d", s.opts.CodeLength, n.Int64()), nil
}

// ceilSeconds rounds up, so a client that waits the advertised time is
// never early.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
