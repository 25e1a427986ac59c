package waent

import (
	"context"
	"crypto/rand"
	"errors"

	"github.com/waent/waent/conn/register"
	"github.com/waent/waent/store"
)

// RegisterRequest is the body of POST /v1/account.
type RegisterRequest struct {
	CC          string
	PhoneNumber string
	Method      string // "sms" or "voice"
	Cert        string // base64 verified-name certificate
	Pin         string // two-step verification PIN, if set
}

// RegisterResult says whether a code was sent (On-Premises 202) or the
// number was already registered to this installation (201).
type RegisterResult struct {
	AlreadyRegistered bool
	VName             string
}

type pendingRegistration struct {
	id   register.Identity
	cert string
}

// Register asks the registration service for a code (POST /v1/account).
func (c *Client) Register(ctx context.Context, req RegisterRequest) (RegisterResult, error) {
	switch {
	case req.CC == "" || digitsOnly(req.CC) != req.CC:
		return RegisterResult{}, newError(CodeInvalidParameter, "Parameter 'cc' has invalid value '"+req.CC+"'", nil)
	case req.PhoneNumber == "" || digitsOnly(req.PhoneNumber) != req.PhoneNumber:
		return RegisterResult{}, newError(CodeInvalidParameter, "Parameter 'phone_number' has invalid value '"+req.PhoneNumber+"'", nil)
	case req.Method != "sms" && req.Method != "voice":
		return RegisterResult{}, newError(CodeInvalidParameter, "Parameter 'method' has invalid value '"+req.Method+"'", nil)
	}
	acct, err := c.loadAccount(ctx)
	if err != nil {
		return RegisterResult{}, err
	}
	if acct.State == store.RegistrationRegistered && acct.WAID == req.CC+req.PhoneNumber {
		return RegisterResult{AlreadyRegistered: true, VName: acct.VName}, nil
	}
	// With two-step verification on, the PIN proves the right to move the
	// number here (On-Premises: "pin" is required then).
	if err := c.checkTwoStepPIN(ctx, req.Pin); err != nil {
		return RegisterResult{}, err
	}
	id, err := c.registrationIdentity(ctx, acct, req.CC, req.PhoneNumber)
	if err != nil {
		return RegisterResult{}, err
	}
	res, err := c.regClient().RequestCode(ctx, id, req.Method)
	if err != nil {
		return RegisterResult{}, registrationError(err)
	}
	acct.CC, acct.PhoneNumber, acct.VerifiedName = req.CC, req.PhoneNumber, req.Cert
	if res.AlreadyRegistered {
		acct.State, acct.WAID = store.RegistrationRegistered, req.CC+req.PhoneNumber
	} else {
		acct.State = store.RegistrationCodeRequested
	}
	acct.UpdatedAt = c.now()
	if err := c.st.PutAccount(ctx, acct); err != nil {
		return RegisterResult{}, newError(CodeDatabase, "", err)
	}
	c.mu.Lock()
	c.acct = acct
	c.pendingCode = &pendingRegistration{id: id, cert: req.Cert}
	c.mu.Unlock()
	if res.AlreadyRegistered {
		return RegisterResult{AlreadyRegistered: true, VName: acct.VName}, c.startIfStarted(acct)
	}
	return RegisterResult{VName: acct.VName}, nil
}

// Verify submits the code (POST /v1/account/verify). On success the
// account is registered, prekeys are generated and the client connects.
func (c *Client) Verify(ctx context.Context, code string) error {
	if code == "" {
		return newError(CodeMissingParameter, "Missing mandatory parameter 'code'", nil)
	}
	acct, err := c.loadAccount(ctx)
	if err != nil {
		return err
	}
	if acct.State == store.RegistrationNone || acct.CC == "" {
		return newError(CodeAccessDenied, "no registration code was requested", nil)
	}
	id, err := c.registrationIdentity(ctx, acct, acct.CC, acct.PhoneNumber)
	if err != nil {
		return err
	}
	if err := c.regClient().Register(ctx, id, digitsOnly(code)); err != nil {
		return registrationError(err)
	}
	acct.State, acct.WAID, acct.UpdatedAt = store.RegistrationRegistered, acct.CC+acct.PhoneNumber, c.now()
	if err := c.st.PutAccount(ctx, acct); err != nil {
		return newError(CodeDatabase, "", err)
	}
	// The first login uploads 812 one-time prekeys; generate them now so
	// the login does not wait on key generation.
	if _, err := c.preKeysToUpload(ctx, initialPreKeys); err != nil {
		return newError(CodeDatabase, "generate prekeys", err)
	}
	c.mu.Lock()
	c.acct = acct
	c.mu.Unlock()
	return c.startIfStarted(acct)
}

func (c *Client) startIfStarted(acct store.Account) error {
	c.mu.Lock()
	run := c.started && c.chat == nil && !c.closed
	c.mu.Unlock()
	if !run {
		return nil
	}
	return c.startChat(acct)
}

func (c *Client) regClient() *register.Client {
	return &register.Client{BaseURL: c.cfg.RegistrationURL}
}

// registrationIdentity is what the registration service binds to the
// number: the installation id (stable, derived from the noise key so it
// survives restarts without a table of its own) and the public keys.
func (c *Client) registrationIdentity(ctx context.Context, acct store.Account, cc, phone string) (register.Identity, error) {
	spks, err := c.st.ListSignedPreKeys(ctx)
	if err != nil || len(spks) == 0 {
		return register.Identity{}, newError(CodeDatabase, "signed prekey missing", err)
	}
	spk := spks[len(spks)-1]
	id := register.Identity{CC: cc, Phone: phone, RegistrationID: acct.RegistrationID, SignedPreKeyID: spk.ID}
	copy(id.NoisePub[:], acct.NoiseKey.Public)
	copy(id.IdentityPub[:], acct.IdentityKey.Public)
	copy(id.SignedPreKeyPub[:], spk.Key.Public)
	copy(id.SignedPreKeySig[:], spk.Signature)
	copy(id.InstallID[:], acct.NoiseKey.Public[:20])
	if len(acct.NoiseKey.Public) < 20 {
		rand.Read(id.InstallID[:])
	}
	return id, nil
}

func registrationError(err error) error {
	switch {
	case errors.Is(err, register.ErrIncorrectCode), errors.Is(err, register.ErrStaleCode):
		return newError(CodeAccessDenied, "the code is incorrect or expired", err)
	case errors.Is(err, register.ErrBlocked):
		return newError(CodeAccessDenied, "the number is blocked", err)
	case errors.Is(err, register.ErrTooRecent):
		return newError(CodeTooManyRequests, "a code was requested too recently", err)
	case errors.Is(err, register.ErrBadParam):
		return newError(CodeInvalidParameter, "", err)
	}
	return newError(CodeInternal, "registration service", err)
}
