// Package register is the client side of primary-device registration:
// proving ownership of a phone number with a code sent by SMS or voice
// call, and binding the number to this installation's Noise static key,
// which the chat server then accepts at login instead of a password.
//
// The wire protocol is modelled on WhatsApp's mobile registration API
// (v.whatsapp.net/v2, as yowsup implemented it), simplified to what a
// simulated network needs: the ENC parameter encryption and the app
// integrity token are left out. The On-Premises /v1/account and
// /v1/account/verify endpoints are built on it.
//
// # Wire protocol
//
// Three HTTP(S) GET requests against a base URL:
//
//	GET {base}/v2/exist?{common}                    is this installation registered?
//	GET {base}/v2/code?{common}&method=sms|voice    send a code to the number
//	GET {base}/v2/register?{common}&code=NNNNNN     submit the code
//
// The common query parameters are
//
//	cc          country calling code, 1-3 digits ("1", "44")
//	in          national number, digits, without the country code
//	lg, lc      language ("en") and country ("US") for the SMS text
//	id          installation id: 20 random bytes
//	authkey     the Noise static public key (32 bytes)
//	e_regid     Signal registration id, 4 bytes big-endian
//	e_keytype   0x05 (Curve25519), 1 byte
//	e_ident     Signal identity public key, 32 bytes
//	e_skey_id   signed prekey id, 3 bytes big-endian
//	e_skey_val  signed prekey public key, 32 bytes
//	e_skey_sig  signed prekey signature, 64 bytes
//
// with every binary value in unpadded base64url (RFC 4648 §5).
//
// Every reply is HTTP 200 with a JSON object:
//
//	status       "ok", "sent" or "fail"
//	reason       on fail: bad_param, missing (with param naming the
//	             parameter), incorrect, stale, blocked, too_recent
//	login        the full number (cc + in)
//	type         on ok: "new" (first registration) or "existing"
//	method, length               on sent: how the code went and its digits
//	retry_after, sms_wait, voice_wait   seconds before another code request
//
// exist answers ok when the number is registered to this authkey, and
// fail/incorrect otherwise. code answers sent, or ok when the number is
// already registered to this authkey (nothing to do), or fail/too_recent
// with retry_after. register answers ok with type "new" or "existing" (a
// new installation taking the number over, whose authkey replaces the
// old one), fail/incorrect for a wrong code, and fail/stale when no code
// is outstanding (none was requested, it expired, was used, or too many
// wrong guesses cancelled it).
package register

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors that Error wraps, by reason, so callers can map them to
// On-Premises error codes with errors.Is.
var (
	ErrIncorrectCode = errors.New("register: incorrect code")
	ErrStaleCode     = errors.New("register: no outstanding code (expired, used or never requested)")
	ErrBlocked       = errors.New("register: number blocked")
	ErrTooRecent     = errors.New("register: code requested too recently")
	ErrBadParam      = errors.New("register: bad parameter")
)

// Error is a fail reply from the registration service.
type Error struct {
	Status     string // "fail", or an unexpected status
	Reason     string // e.g. "incorrect", "blocked", "too_recent", "bad_param"
	Param      string // for bad_param and missing: the parameter at fault
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("register: " + e.Status)
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	if e.Param != "" {
		b.WriteString(" (" + e.Param + ")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %v", e.RetryAfter)
	}
	return b.String()
}

// Unwrap returns the sentinel for the reason, if there is one.
func (e *Error) Unwrap() error {
	switch e.Reason {
	case "incorrect":
		return ErrIncorrectCode
	case "stale":
		return ErrStaleCode
	case "blocked":
		return ErrBlocked
	case "too_recent":
		return ErrTooRecent
	case "bad_param", "missing":
		return ErrBadParam
	}
	return nil
}

// Identity is what an installation registers: the number, and the keys
// the server binds to it.
type Identity struct {
	CC    string // country calling code, digits
	Phone string // national number, digits, without CC

	InstallID       [20]byte // random per installation
	NoisePub        [32]byte // Noise static public key: the login credential
	RegistrationID  uint32
	IdentityPub     [32]byte // Signal identity key
	SignedPreKeyID  uint32   // < 1<<24: sent in 3 bytes
	SignedPreKeyPub [32]byte
	SignedPreKeySig [64]byte
}

// CodeResult is the answer to a code request.
type CodeResult struct {
	Status string // "sent", or "ok" when AlreadyRegistered
	Method string // "sms" or "voice"
	Length int    // digits in the code
	// RetryAfter is how long until another code may be requested.
	RetryAfter time.Duration
	// AlreadyRegistered: the number is already registered to this
	// NoisePub, no code was sent and there is nothing to verify.
	AlreadyRegistered bool
}

// Client talks to a registration service. The zero value needs only
// BaseURL.
type Client struct {
	// BaseURL is the service root, e.g. "https://v.whatsapp.net"; the
	// /v2/... paths are appended.
	BaseURL string
	// HTTPClient sends the requests; nil means a client with a 30s
	// timeout over http.DefaultTransport (so https_proxy applies, as it
	// did for the coreapp's registration).
	HTTPClient *http.Client
	// Lang and Country localise the SMS or call; default "en" and "US".
	Lang, Country string
}

// maxReply bounds a reply body; real replies are a few hundred bytes.
const maxReply = 64 << 10

// Exists reports whether id's number is registered to id.NoisePub.
func (c *Client) Exists(ctx context.Context, id Identity) (bool, error) {
	rep, err := c.call(ctx, "exist", id, nil)
	if err != nil {
		return false, err
	}
	switch {
	case rep.Status == "ok":
		return true, nil
	case rep.Status == "fail" && rep.Reason == "incorrect":
		return false, nil
	}
	return false, rep.err()
}

// RequestCode asks for a verification code by "sms" or "voice". A
// too_recent refusal is an *Error wrapping ErrTooRecent with RetryAfter.
func (c *Client) RequestCode(ctx context.Context, id Identity, method string) (CodeResult, error) {
	if method != "sms" && method != "voice" {
		return CodeResult{}, fmt.Errorf("register: method %q, want sms or voice: %w", method, ErrBadParam)
	}
	rep, err := c.call(ctx, "code", id, url.Values{"method": {method}})
	if err != nil {
		return CodeResult{}, err
	}
	switch rep.Status {
	case "sent":
		res := CodeResult{Status: rep.Status, Method: rep.Method, Length: rep.Length, RetryAfter: seconds(rep.RetryAfter)}
		if res.Method == "" {
			res.Method = method
		}
		if res.RetryAfter == 0 {
			// Older replies carry only the per-method waits.
			if method == "voice" {
				res.RetryAfter = seconds(rep.VoiceWait)
			} else {
				res.RetryAfter = seconds(rep.SMSWait)
			}
		}
		return res, nil
	case "ok":
		return CodeResult{Status: rep.Status, AlreadyRegistered: true}, nil
	}
	return CodeResult{}, rep.err()
}

// Register submits the code the number received; on success the number
// is bound to id.NoisePub. Dashes and spaces in code are ignored, since
// codes are shown as "123-456".
func (c *Client) Register(ctx context.Context, id Identity, code string) error {
	code = strings.NewReplacer("-", "", " ", "").Replace(code)
	if code == "" || len(code) > 10 || !digits(code) {
		return fmt.Errorf("register: code must be digits: %w", ErrBadParam)
	}
	rep, err := c.call(ctx, "register", id, url.Values{"code": {code}})
	if err != nil {
		return err
	}
	if rep.Status == "ok" {
		return nil
	}
	return rep.err()
}

type reply struct {
	Status     string `json:"status"`
	Reason     string `json:"reason"`
	Param      string `json:"param"`
	Login      string `json:"login"`
	Type       string `json:"type"`
	Method     string `json:"method"`
	Length     int    `json:"length"`
	RetryAfter int64  `json:"retry_after"`
	SMSWait    int64  `json:"sms_wait"`
	VoiceWait  int64  `json:"voice_wait"`
}

func (r *reply) err() error {
	return &Error{Status: r.Status, Reason: r.Reason, Param: r.Param, RetryAfter: seconds(r.RetryAfter)}
}

// seconds converts a reply's seconds, clamped so a hostile value cannot
// overflow a Duration or go negative.
func seconds(s int64) time.Duration {
	const most = 1 << 31
	switch {
	case s <= 0:
		return 0
	case s > most:
		s = most
	}
	return time.Duration(s) * time.Second
}

func (c *Client) call(ctx context.Context, endpoint string, id Identity, extra url.Values) (*reply, error) {
	q, err := c.params(id)
	if err != nil {
		return nil, err
	}
	for k, v := range extra {
		q[k] = v
	}
	u, err := c.endpoint(endpoint)
	if err != nil {
		return nil, err
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("register: %s: %w", endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "waent")
	hc := c.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The URL holds the keys and, for register, the code: keep it out
		// of the message.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("register: %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		return nil, fmt.Errorf("register: %s: reading reply: %w", endpoint, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("register: %s: HTTP %s", endpoint, resp.Status)
	}
	if len(body) > maxReply {
		return nil, fmt.Errorf("register: %s: reply larger than %d bytes", endpoint, maxReply)
	}
	var rep reply
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("register: %s: malformed reply: %w", endpoint, err)
	}
	if rep.Status == "" {
		return nil, fmt.Errorf("register: %s: reply has no status", endpoint)
	}
	if want := id.CC + id.Phone; rep.Login != "" && rep.Login != want {
		return nil, fmt.Errorf("register: %s: reply is for %s, not %s", endpoint, rep.Login, want)
	}
	return &rep, nil
}

func (c *Client) endpoint(name string) (*url.URL, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("register: BaseURL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("register: BaseURL %q is not an http(s) URL", c.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("register: BaseURL %q has a query or fragment", c.BaseURL)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/v2/" + name
	u.RawPath = ""
	return u, nil
}

// params encodes id, checking first what the server would reject, so a
// bad identity fails here with a clear message rather than after a
// round trip.
func (c *Client) params(id Identity) (url.Values, error) {
	bad := func(what string) error { return fmt.Errorf("register: %s: %w", what, ErrBadParam) }
	switch {
	case len(id.CC) == 0 || len(id.CC) > 3 || !digits(id.CC) || id.CC[0] == '0':
		return nil, bad("country code must be 1-3 digits")
	case len(id.Phone) < 4 || !digits(id.Phone) || len(id.CC)+len(id.Phone) > 15:
		return nil, bad("phone must be the national number in digits, at most 15 with the country code")
	case id.NoisePub == [32]byte{}:
		return nil, bad("NoisePub is zero")
	case id.SignedPreKeyID >= 1<<24:
		return nil, bad("SignedPreKeyID does not fit 3 bytes")
	}
	lg, lc := c.Lang, c.Country
	if lg == "" {
		lg = "en"
	}
	if lc == "" {
		lc = "US"
	}
	b64 := base64.RawURLEncoding.EncodeToString
	var regid [4]byte
	binary.BigEndian.PutUint32(regid[:], id.RegistrationID)
	skid := []byte{byte(id.SignedPreKeyID >> 16), byte(id.SignedPreKeyID >> 8), byte(id.SignedPreKeyID)}
	return url.Values{
		"cc":         {id.CC},
		"in":         {id.Phone},
		"lg":         {lg},
		"lc":         {lc},
		"id":         {b64(id.InstallID[:])},
		"authkey":    {b64(id.NoisePub[:])},
		"e_regid":    {b64(regid[:])},
		"e_keytype":  {b64([]byte{0x05})},
		"e_ident":    {b64(id.IdentityPub[:])},
		"e_skey_id":  {b64(skid)},
		"e_skey_val": {b64(id.SignedPreKeyPub[:])},
		"e_skey_sig": {b64(id.SignedPreKeySig[:])},
	}, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
