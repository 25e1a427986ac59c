package memstore

import (
	"bytes"

	"github.com/waent/waent/store"
)

// The copy functions return a value that shares no byte slice with their
// argument, with every time normalized. They are used on the way in and on
// the way out, so callers never alias the stored state.

var norm = store.NormalizeTime

func copyKeyPair(k store.KeyPair) store.KeyPair {
	return store.KeyPair{Public: bytes.Clone(k.Public), Private: bytes.Clone(k.Private)}
}

func copyAccount(a store.Account) store.Account {
	a.NoiseKey = copyKeyPair(a.NoiseKey)
	a.IdentityKey = copyKeyPair(a.IdentityKey)
	a.CreatedAt = norm(a.CreatedAt)
	a.UpdatedAt = norm(a.UpdatedAt)
	return a
}

func copyPreKey(p store.PreKey) store.PreKey {
	p.Key = copyKeyPair(p.Key)
	return p
}

func copySignedPreKey(k store.SignedPreKey) store.SignedPreKey {
	k.Key = copyKeyPair(k.Key)
	k.Signature = bytes.Clone(k.Signature)
	k.CreatedAt = norm(k.CreatedAt)
	return k
}

func copyPeerIdentity(p store.PeerIdentity) store.PeerIdentity {
	p.Key = bytes.Clone(p.Key)
	p.CreatedAt = norm(p.CreatedAt)
	return p
}

func copyMessage(m store.Message) store.Message {
	m.Payload = bytes.Clone(m.Payload)
	m.CreatedAt = norm(m.CreatedAt)
	m.UpdatedAt = norm(m.UpdatedAt)
	return m
}

func copyStatusEvent(e store.StatusEvent) store.StatusEvent {
	e.At = norm(e.At)
	return e
}

func copyOutboxItem(it store.OutboxItem) store.OutboxItem {
	it.NextAttemptAt = norm(it.NextAttemptAt)
	it.CreatedAt = norm(it.CreatedAt)
	return it
}

func copyCallback(c store.Callback) store.Callback {
	c.Payload = bytes.Clone(c.Payload)
	c.NextAttemptAt = norm(c.NextAttemptAt)
	c.CreatedAt = norm(c.CreatedAt)
	return c
}

func copyContact(c store.Contact) store.Contact {
	c.CheckedAt = norm(c.CheckedAt)
	return c
}

func copySettings(d store.SettingsDoc) store.SettingsDoc {
	d.Value = bytes.Clone(d.Value)
	d.UpdatedAt = norm(d.UpdatedAt)
	return d
}

func copyUser(u store.User) store.User {
	u.CreatedAt = norm(u.CreatedAt)
	u.UpdatedAt = norm(u.UpdatedAt)
	return u
}

func copyToken(t store.Token) store.Token {
	t.Hash = bytes.Clone(t.Hash)
	t.CreatedAt = norm(t.CreatedAt)
	t.ExpiresAt = norm(t.ExpiresAt)
	t.RevokedAt = norm(t.RevokedAt)
	return t
}

func copyTemplate(t store.Template) store.Template {
	t.Components = bytes.Clone(t.Components)
	t.UpdatedAt = norm(t.UpdatedAt)
	return t
}

func copyMedia(m store.Media) store.Media {
	m.SHA256 = bytes.Clone(m.SHA256)
	m.MediaKey = bytes.Clone(m.MediaKey)
	m.FileEncSHA256 = bytes.Clone(m.FileEncSHA256)
	m.CreatedAt = norm(m.CreatedAt)
	m.LastUsedAt = norm(m.LastUsedAt)
	m.UploadedAt = norm(m.UploadedAt)
	return m
}

func copyLease(l store.Lease) store.Lease {
	l.ExpiresAt = norm(l.ExpiresAt)
	return l
}
