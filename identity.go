package waent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
)

// IdentityHash is how On-Premises shows an identity key: the base64 of
// the first 8 bytes of its SHA-256 (an opaque 12-character token).
func IdentityHash(key []byte) string {
	h := sha256.Sum256(key)
	return base64.StdEncoding.EncodeToString(h[:8])
}

// Identity is a peer's identity state (GET /v1/contacts/{wa_id}/identity).
type Identity struct {
	Hash         string
	CreatedAt    int64 // Unix milliseconds
	Acknowledged bool
}

// Identity returns the identity on record for waID.
func (c *Client) Identity(ctx context.Context, waID string) (Identity, error) {
	pi, err := c.st.GetPeerIdentity(ctx, store.Address{Name: digitsOnly(waID)})
	if errors.Is(err, store.ErrNotFound) {
		return Identity{}, newError(CodeResourceNotFound, "no identity on record for "+waID, nil)
	}
	if err != nil {
		return Identity{}, newError(CodeDatabase, "", err)
	}
	return Identity{Hash: IdentityHash(pi.Key), CreatedAt: pi.CreatedAt.UnixMilli(), Acknowledged: pi.Acknowledged}, nil
}

// AcknowledgeIdentity acknowledges the latest identity change of waID
// (PUT /v1/contacts/{wa_id}/identity); hash must be the current one.
// Sends to waID are accepted again.
func (c *Client) AcknowledgeIdentity(ctx context.Context, waID, hash string) error {
	waID = digitsOnly(waID)
	addr := store.Address{Name: waID}
	err := c.st.InTx(ctx, func(tx store.Store) error {
		pi, err := tx.GetPeerIdentity(ctx, addr)
		if err != nil {
			return err
		}
		if IdentityHash(pi.Key) != hash {
			return errHashMismatch
		}
		pi.Acknowledged = true
		return tx.PutPeerIdentity(ctx, pi)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return newError(CodeResourceNotFound, "no identity on record for "+waID, nil)
	case errors.Is(err, errHashMismatch):
		return newError(CodeInvalidParameter, "Parameter 'hash' has invalid value '"+hash+"'", nil)
	case err != nil:
		return newError(CodeDatabase, "", err)
	}
	c.mu.Lock()
	c.identities[waID] = false
	c.mu.Unlock()
	return nil
}

var errHashMismatch = errors.New("identity hash mismatch")

// identityUnacknowledged reports whether waID has an identity change the
// business has not acknowledged. Answers are cached; changes seen by this
// process update the cache.
func (c *Client) identityUnacknowledged(ctx context.Context, waID string) (bool, error) {
	c.mu.Lock()
	v, ok := c.identities[waID]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	pi, err := c.st.GetPeerIdentity(ctx, store.Address{Name: waID})
	if errors.Is(err, store.ErrNotFound) {
		v, err = false, nil
	} else if err == nil {
		v = !pi.Acknowledged
	}
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if len(c.identities) > 100_000 {
		clear(c.identities) // a cache, not a record: bound it
	}
	c.identities[waID] = v
	c.mu.Unlock()
	return v, nil
}

// identityChanged records a peer's new identity seen on an inbound
// message: sends are held back (while security notifications are on) and
// a user_identity_changed system message goes to the webhook.
func (c *Client) identityChanged(ctx context.Context, tx store.Store, ch crypto.IdentityChange, s Settings) ([]store.Callback, error) {
	c.mu.Lock()
	c.identities[ch.Address.Name] = true
	c.mu.Unlock()
	if !s.ShowSecurityNotifications {
		return nil, nil
	}
	cb, err := systemCallback(ch.Address.Name, "", c.now(), content.System{
		Type: "user_identity_changed", Identity: IdentityHash(ch.New),
		Body: "User " + ch.Address.Name + "'s security code changed",
	})
	if err != nil {
		return nil, err
	}
	return []store.Callback{cb}, nil
}

// outboundIdentityChange is the outbox hook for an identity change found
// when building a session to send: reported like an inbound one, and the
// message fails (480) while security notifications are on.
func (c *Client) outboundIdentityChange(ctx context.Context, tx store.Store, ch crypto.IdentityChange) (bool, error) {
	s := c.Settings()
	cbs, err := c.identityChanged(ctx, tx, ch, s)
	if err != nil {
		return false, err
	}
	if len(cbs) > 0 {
		if err := tx.EnqueueCallbacks(ctx, cbs); err != nil {
			return false, err
		}
	}
	return s.ShowSecurityNotifications, nil
}

// heldForIdentity is the outbox hook that holds messages back while the
// peer has an identity change the business has not acknowledged (and
// security notifications are on).
func (c *Client) heldForIdentity(ctx context.Context, tx store.Store, peer string) (bool, error) {
	if !c.Settings().ShowSecurityNotifications {
		return false, nil
	}
	pi, err := tx.GetPeerIdentity(ctx, store.Address{Name: peer})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !pi.Acknowledged, nil
}
