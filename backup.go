package waent

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
)

// Backup and restore (onprem-api.md §3.9). A backup carries what makes
// this installation the registered account — the account with its noise
// and identity keys, the signed prekeys and the one-time prekeys — and
// every settings document. It carries no messages, callbacks, Signal
// sessions, peer identities, contacts, API users or tokens: the restored
// instance keeps its own users, and peers' sessions are rebuilt from
// fresh bundles on the next message either way.
//
// The one-time prekeys are included, uploaded or not, because the server
// keeps handing out the ones it holds after a restore: a peer that fetches
// one must find its private half here or its first message would not
// decrypt. Keys uploaded by the old instance after the backup was taken
// are not in it; a peer that picks one of those fails its first message.
//
// The blob is base64 of crypto.SealBackup (argon2id, AES-256-GCM) over
// a one-byte payload format and raw DEFLATE of the JSON backupPayload.

// MinBackupPassword is the shortest password Backup accepts. On-Premises
// documented no rule; the blob holds the account's private keys and
// whoever has it can guess passwords offline, so very short ones are
// refused. Restore takes any non-empty password.
const MinBackupPassword = 8

// maxBackupPassword bounds a password, so a request cannot make the KDF
// hash megabytes.
const maxBackupPassword = 1024

// maxBackupPayload bounds the inflated payload, so a crafted blob cannot
// expand without limit.
const maxBackupPayload = 64 << 20

// payloadDeflateJSON is the first byte of the sealed plaintext: raw
// DEFLATE of the JSON backupPayload.
const payloadDeflateJSON = 1

// backupFormat is backupPayload.Format.
const backupFormat = 1

// backupDocNames are the settings documents a backup carries. A new
// document of settings belongs here; the template catalogue cache
// (templates.sync) does not, since it is re-pulled from the server.
func backupDocNames() []string {
	return []string{settingsDoc, docAbout, docPhoto, docBusinessProfile, docTwoStep, docShards,
		docMediaProviders, docWebhookCA, docExternalCert}
}

// backupPayload is the sealed JSON. Its own types, not the store's, so
// that a store refactoring cannot silently change the format.
type backupPayload struct {
	Format        int                        `json:"format"`
	CreatedAt     time.Time                  `json:"created_at"`
	Account       backupAccount              `json:"account"`
	SignedPreKeys []backupSignedPreKey       `json:"signed_prekeys"`
	PreKeys       []backupPreKey             `json:"prekeys"`
	Settings      map[string]json.RawMessage `json:"settings"`
}

type backupKeyPair struct {
	Public  []byte `json:"public"`
	Private []byte `json:"private"`
}

type backupAccount struct {
	WAID           string        `json:"wa_id"`
	State          string        `json:"state"`
	CC             string        `json:"cc"`
	PhoneNumber    string        `json:"phone_number"`
	VerifiedName   string        `json:"verified_name,omitempty"`
	VName          string        `json:"vname,omitempty"`
	NoiseKey       backupKeyPair `json:"noise_key"`
	IdentityKey    backupKeyPair `json:"identity_key"`
	RegistrationID uint32        `json:"registration_id"`
	Shards         int           `json:"shards"`
	CreatedAt      time.Time     `json:"created_at"`
}

type backupSignedPreKey struct {
	ID        uint32        `json:"id"`
	Key       backupKeyPair `json:"key"`
	Signature []byte        `json:"signature"`
	CreatedAt time.Time     `json:"created_at"`
}

type backupPreKey struct {
	ID       uint32        `json:"id"`
	Key      backupKeyPair `json:"key"`
	Uploaded bool          `json:"uploaded"`
}

func pairOut(k store.KeyPair) backupKeyPair {
	return backupKeyPair{Public: k.Public, Private: k.Private}
}
func pairIn(k backupKeyPair) store.KeyPair {
	return store.KeyPair{Public: k.Public, Private: k.Private}
}

// Backup returns the account and settings sealed with password, as base64
// text (POST /v1/settings/backup). Only a registered account can be
// backed up (1011 before); the password must be at least
// MinBackupPassword characters (1009).
func (c *Client) Backup(ctx context.Context, password string) (string, error) {
	if err := checkBackupPassword(password, true); err != nil {
		return "", err
	}
	var p backupPayload
	err := c.st.InTx(ctx, func(tx store.Store) error {
		// One transaction, so the prekeys match the account even while
		// uploads and consumption go on.
		acct, err := tx.GetAccount(ctx)
		if errors.Is(err, store.ErrNotFound) || (err == nil && acct.State != store.RegistrationRegistered) {
			return newError(CodeServiceNotReady, "The account is not registered: a backup needs a registered account", nil)
		}
		if err != nil {
			return err
		}
		spks, err := tx.ListSignedPreKeys(ctx)
		if err != nil {
			return err
		}
		pks, err := allPreKeys(ctx, tx, c.log.Warn)
		if err != nil {
			return err
		}
		docs := map[string]json.RawMessage{}
		for _, name := range backupDocNames() {
			d, err := tx.GetSettings(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			docs[name] = json.RawMessage(d.Value)
		}
		p = backupPayload{Format: backupFormat, CreatedAt: c.now().UTC(), Settings: docs, Account: backupAccount{
			WAID: acct.WAID, State: string(acct.State), CC: acct.CC, PhoneNumber: acct.PhoneNumber,
			VerifiedName: acct.VerifiedName, VName: acct.VName, NoiseKey: pairOut(acct.NoiseKey),
			IdentityKey: pairOut(acct.IdentityKey), RegistrationID: acct.RegistrationID, Shards: acct.Shards,
			CreatedAt: acct.CreatedAt,
		}}
		for _, k := range spks {
			p.SignedPreKeys = append(p.SignedPreKeys, backupSignedPreKey{ID: k.ID, Key: pairOut(k.Key), Signature: k.Signature, CreatedAt: k.CreatedAt})
		}
		for _, k := range pks {
			p.PreKeys = append(p.PreKeys, backupPreKey{ID: k.ID, Key: pairOut(k.Key), Uploaded: k.Uploaded})
		}
		return nil
	})
	if err != nil {
		var we *Error
		if errors.As(err, &we) {
			return "", err
		}
		return "", newError(CodeDatabase, "read the account for the backup", err)
	}
	js, err := json.Marshal(p)
	if err != nil {
		return "", newError(CodeInternal, "encode backup", err)
	}
	var buf bytes.Buffer
	buf.WriteByte(payloadDeflateJSON)
	fw, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = fw.Write(js)
	if err := fw.Close(); err != nil {
		return "", newError(CodeInternal, "compress backup", err)
	}
	sealed, err := crypto.SealBackup(buf.Bytes(), password, crypto.DefaultBackupParams())
	if err != nil {
		return "", newError(CodeInternal, "seal backup", err)
	}
	return base64.StdEncoding.EncodeToString(sealed), nil
}

// Restore brings back the account and settings of a Backup (POST
// /v1/settings/restore) and, if the Client is started, connects as that
// account without registering again.
//
// It is refused (1005) on an instance whose account is registered: the
// keys it would overwrite are what keep it on WhatsApp, and On-Premises
// too restored onto a running but unregistered coreapp. A wrong password
// or altered data is 1009 and changes nothing. The account, keys and
// settings are written in one transaction; settings documents absent
// from the backup are removed, so the instance ends up with exactly the
// backed-up settings. Settings that On-Premises read only at start
// (callback_persist, webhooks.max_concurrent_requests, the callback
// backoff delays) take effect at the next Start; the rest at once.
func (c *Client) Restore(ctx context.Context, password, data string) error {
	if err := checkBackupPassword(password, false); err != nil {
		return err
	}
	// Refuse early, before the deliberately slow key derivation; the
	// transaction below checks again.
	if cur, err := c.st.GetAccount(ctx); err == nil && cur.State == store.RegistrationRegistered {
		return errRegisteredInstance(cur.WAID)
	}
	p, err := openBackup(password, data)
	if err != nil {
		return err
	}
	acct, spks, pks, err := p.decode()
	if err != nil {
		return newError(CodeInvalidParameter, "The backup data is not valid: "+err.Error(), err)
	}
	if _, err := decodeSettingsDoc(p.Settings[settingsDoc]); err != nil {
		return newError(CodeInvalidParameter, "The backup data is not valid: application settings: "+err.Error(), err)
	}
	// Serialise with the first-start account creation, so a Start or
	// Register running now cannot write a fresh account over this one.
	now := c.now()
	acct.UpdatedAt = now
	c.acctMu.Lock()
	err = c.st.InTx(ctx, func(tx store.Store) error {
		cur, err := tx.GetAccount(ctx)
		switch {
		case err == nil && cur.State == store.RegistrationRegistered:
			return errRegisteredInstance(cur.WAID)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.PutAccount(ctx, acct); err != nil {
			return err
		}
		// The fresh instance's own keys go, the backup's replace them.
		old, err := tx.ListSignedPreKeys(ctx)
		if err != nil {
			return err
		}
		for _, k := range old {
			if !slices.ContainsFunc(spks, func(n store.SignedPreKey) bool { return n.ID == k.ID }) {
				if err := tx.DeleteSignedPreKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		for _, k := range spks {
			if err := tx.PutSignedPreKey(ctx, k); err != nil {
				return err
			}
		}
		oldPKs, err := allPreKeys(ctx, tx, c.log.Warn)
		if err != nil {
			return err
		}
		for _, k := range oldPKs {
			if err := tx.DeletePreKey(ctx, k.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if len(pks) > 0 {
			if err := tx.PutPreKeys(ctx, pks); err != nil {
				return err
			}
		}
		for _, name := range backupDocNames() {
			cur, err := tx.GetSettings(ctx, name)
			var version int64
			switch {
			case err == nil:
				version = cur.Version
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			v, ok := p.Settings[name]
			switch {
			case ok:
				if _, err := tx.PutSettings(ctx, name, v, version, now); err != nil {
					return err
				}
			case version > 0:
				if err := tx.DeleteSettings(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		return nil
	})
	c.acctMu.Unlock()
	if err != nil {
		var we *Error
		if errors.As(err, &we) {
			return err
		}
		return newError(CodeDatabase, "restore the backup", err)
	}
	s, _, err := loadSettings(ctx, c.st)
	if err != nil {
		s = defaultSettings()
		c.log.Warn("reload settings after restore", "err", err)
	}
	c.mu.Lock()
	c.acct = acct
	c.settings = s
	c.settingsGen++
	c.pendingCode = nil
	c.mu.Unlock()
	c.log.Info("restored from backup", "wa_id", acct.WAID, "backup_created", p.CreatedAt, "prekeys", len(pks), "settings", len(p.Settings))
	return c.startIfStarted(acct)
}

func errRegisteredInstance(waid string) error {
	return newError(CodeAccessDenied, "This instance is registered as "+waid+
		"; a backup can only be restored onto an instance that is running but not registered", nil)
}

func checkBackupPassword(password string, creating bool) error {
	switch n := utf8.RuneCountInString(password); {
	case password == "":
		return newError(CodeMissingParameter, "Missing mandatory parameter 'password'", nil)
	case len(password) > maxBackupPassword:
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'password' is longer than %d bytes", maxBackupPassword), nil)
	case creating && n < MinBackupPassword:
		return newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'password' must be at least %d characters long", MinBackupPassword), nil)
	}
	return nil
}

// openBackup decodes, decrypts and parses the blob of Backup.
func openBackup(password, data string) (backupPayload, error) {
	var p backupPayload
	data = strings.Join(strings.Fields(data), "") // tolerate wrapped base64
	if data == "" {
		return p, newError(CodeMissingParameter, "Missing mandatory parameter 'data'", nil)
	}
	sealed, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return p, newError(CodeInvalidParameter, "Parameter 'data' is not a backup: it is not base64", err)
	}
	plain, err := crypto.OpenBackup(sealed, password)
	switch {
	case errors.Is(err, crypto.ErrBackupAuth):
		return p, newError(CodeInvalidParameter, "Incorrect password, or the backup data is corrupt", err)
	case err != nil:
		return p, newError(CodeInvalidParameter, "Parameter 'data' is not a backup this version can read", err)
	}
	if len(plain) == 0 || plain[0] != payloadDeflateJSON {
		return p, newError(CodeInvalidParameter, "Parameter 'data' is not a backup this version can read: unknown payload format", nil)
	}
	js, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(plain[1:])), maxBackupPayload+1))
	if err != nil || len(js) > maxBackupPayload {
		return p, newError(CodeInvalidParameter, "The backup data is not valid: bad compression", err)
	}
	if err := json.Unmarshal(js, &p); err != nil {
		return p, newError(CodeInvalidParameter, "The backup data is not valid: "+err.Error(), err)
	}
	if p.Format != backupFormat {
		return p, newError(CodeInvalidParameter, fmt.Sprintf("The backup has format %d; this version reads %d", p.Format, backupFormat), nil)
	}
	return p, nil
}

// decode checks the payload and returns it as store values.
func (p backupPayload) decode() (store.Account, []store.SignedPreKey, []store.PreKey, error) {
	a := p.Account
	acct := store.Account{
		WAID: a.WAID, State: store.RegistrationState(a.State), CC: a.CC, PhoneNumber: a.PhoneNumber,
		VerifiedName: a.VerifiedName, VName: a.VName, NoiseKey: pairIn(a.NoiseKey), IdentityKey: pairIn(a.IdentityKey),
		RegistrationID: a.RegistrationID, Shards: a.Shards, CreatedAt: a.CreatedAt,
	}
	if acct.State != store.RegistrationRegistered || acct.WAID == "" || digitsOnly(acct.WAID) != acct.WAID {
		return acct, nil, nil, errors.New("the account in it is not a registered number")
	}
	if err := acct.Validate(); err != nil {
		return acct, nil, nil, err
	}
	if len(p.SignedPreKeys) == 0 {
		return acct, nil, nil, errors.New("no signed prekey")
	}
	spks := make([]store.SignedPreKey, len(p.SignedPreKeys))
	for i, k := range p.SignedPreKeys {
		spks[i] = store.SignedPreKey{ID: k.ID, Key: pairIn(k.Key), Signature: k.Signature, CreatedAt: k.CreatedAt}
		if err := spks[i].Validate(); err != nil {
			return acct, nil, nil, err
		}
	}
	pks := make([]store.PreKey, len(p.PreKeys))
	seen := make(map[uint32]bool, len(p.PreKeys))
	for i, k := range p.PreKeys {
		pks[i] = store.PreKey{ID: k.ID, Key: pairIn(k.Key), Uploaded: k.Uploaded}
		if err := pks[i].Validate(); err != nil {
			return acct, nil, nil, err
		}
		if seen[k.ID] {
			return acct, nil, nil, fmt.Errorf("prekey %d twice", k.ID)
		}
		seen[k.ID] = true
	}
	for name, v := range p.Settings {
		if !slices.Contains(backupDocNames(), name) {
			return acct, nil, nil, fmt.Errorf("unknown settings document %q", name)
		}
		if !json.Valid(v) {
			return acct, nil, nil, fmt.Errorf("settings document %q is not JSON", name)
		}
	}
	return acct, spks, pks, nil
}

// decodeSettingsDoc checks that an application settings document (nil:
// none) reads as Settings.
func decodeSettingsDoc(v json.RawMessage) (Settings, error) {
	s := defaultSettings()
	if v == nil {
		return s, nil
	}
	err := json.Unmarshal(v, &s)
	return s, err
}

// maxPreKeyGap bounds the ids allPreKeys probes without finding a key, so
// a store whose ids are scattered cannot turn a backup into millions of
// lookups.
const maxPreKeyGap = 1 << 16

// allPreKeys returns every stored one-time prekey. The store lists only
// the ones not uploaded, so it walks ids down from the highest: keys are
// allocated upwards and consumed from the oldest, so the live ones sit
// together at the top. Keys it cannot reach within maxPreKeyGap misses
// are reported to warn and left out.
func allPreKeys(ctx context.Context, st store.Store, warn func(string, ...any)) ([]store.PreKey, error) {
	total, _, err := st.CountPreKeys(ctx)
	if err != nil || total == 0 {
		return nil, err
	}
	last, err := st.LastPreKeyID(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]store.PreKey, 0, total)
	misses := 0
	probe := func(id uint32) error {
		k, err := st.GetPreKey(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			misses++
			return nil
		case err != nil:
			return err
		}
		out = append(out, k)
		return nil
	}
	for id := last; id >= 1 && len(out) < total && misses < maxPreKeyGap; id-- {
		if err := probe(id); err != nil {
			return nil, err
		}
	}
	// Ids wrap from 16777215 to 1: the rest may sit above last.
	for id := uint32(store.MaxKeyID - 1); id > last && len(out) < total && misses < maxPreKeyGap; id-- {
		if err := probe(id); err != nil {
			return nil, err
		}
	}
	if len(out) < total {
		warn("backup: some one-time prekeys were not found", "found", len(out), "stored", total)
	}
	slices.SortFunc(out, func(a, b store.PreKey) int { return int(a.ID) - int(b.ID) })
	return out, nil
}
