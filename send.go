package waent

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/content"
	"github.com/waent/waent/outbox"
	"github.com/waent/waent/store"
)

// Send validates a message (the body of POST /v1/messages), stores it with
// its outbox row in one transaction and returns its id. When Send returns
// an id the message is durable: it is sent, retried and replayed after a
// restart until the server acks it. Errors are *Error with On-Premises
// codes.
func (c *Client) Send(ctx context.Context, msg *content.Outgoing) (string, error) {
	parts, err := c.parts()
	if err != nil {
		return "", err
	}
	if !c.Ready() {
		return "", newError(CodeServiceNotReady, "", nil)
	}
	if c.overloaded() {
		return "", newError(CodeOverloaded, "the webhook is not accepting callbacks fast enough", nil)
	}
	if msg == nil {
		return "", newError(CodeInvalidRequest, "empty message", nil)
	}
	if err := msg.Validate(); err != nil {
		return "", asError(err)
	}
	if _, err := c.tmpl.Validate(msg); err != nil {
		return "", asError(err)
	}
	if msg.RecipientType == "group" {
		return "", &Error{Code: 1002, Title: "Invalid recipient type", Details: "group messaging is not supported"}
	}
	to := digitsOnly(msg.To)
	if to == "" || len(to) > 20 {
		return "", newError(CodeInvalidParameter, fmt.Sprintf("Parameter 'to' has invalid value '%s'", msg.To), nil)
	}
	if to == c.WAID() {
		return "", newError(CodeBadUser, "the recipient is the business number itself", nil)
	}
	if c.Settings().ShowSecurityNotifications {
		blocked, err := c.identityUnacknowledged(ctx, to)
		if err != nil {
			return "", newError(CodeDatabase, "", err)
		}
		if blocked {
			return "", newError(CodeIdentityNotAcked, "", nil)
		}
	}
	normal := *msg
	normal.To = to
	// Media is fetched, checked and uploaded here, before the message is
	// durable, so that the outbox never needs the network for it
	// (mediasend.go).
	media, err := c.prepareMedia(ctx, parts, &normal)
	if err != nil {
		return "", err
	}
	w, err := wireOfOutgoing(&normal, media)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(&storedOutgoing{Outgoing: normal, Media: media})
	if err != nil {
		return "", newError(CodeInternal, "encode message", err)
	}
	id, err := newMessageID()
	if err != nil {
		return "", newError(CodeInternal, "", err)
	}
	now := c.now()
	rec := store.Message{ID: id, Direction: store.Outbound, Peer: to, Type: normal.Kind(), Payload: payload,
		Status: store.StatusPending, CreatedAt: now, UpdatedAt: now}
	if err := parts.ob.Enqueue(ctx, outbox.Message{Record: rec, Wire: &w}); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", newError(CodeDatabase, "", err)
	}
	return id, nil
}

// wireOf rebuilds the wire form of a stored outbound message, with the
// media reference Send stored in it (mediasend.go).
func wireOf(m store.Message) (outbox.Wire, error) {
	var o storedOutgoing
	if err := json.Unmarshal(m.Payload, &o); err != nil {
		return outbox.Wire{}, fmt.Errorf("stored message %s: %w", m.ID, err)
	}
	return wireOfOutgoing(&o.Outgoing, o.Media)
}

func wireOfOutgoing(o *content.Outgoing, media *content.MediaRef) (outbox.Wire, error) {
	pm, err := content.ToProto(o, media)
	if errors.Is(err, content.ErrNeedMedia) {
		// Send resolves media first; a stored message without its
		// reference predates media support and cannot be built.
		return outbox.Wire{}, newError(CodeInvalidParameter, "media message without an uploaded file", err)
	}
	if err != nil {
		return outbox.Wire{}, asError(err)
	}
	b, err := proto.Marshal(pm)
	if err != nil {
		return outbox.Wire{}, newError(CodeInternal, "encode message", err)
	}
	w := outbox.Wire{Plaintext: b, StanzaType: "text"}
	switch o.Kind() {
	case "reaction":
		w.StanzaType = "reaction"
	case "contacts":
		w.MediaType = "vcard"
		if len(o.Contacts) > 1 {
			w.MediaType = "contact_array"
		}
		w.StanzaType = "media"
	case "location":
		w.MediaType, w.StanzaType = "location", "media"
	case "image", "video", "audio", "document", "sticker":
		w.MediaType, w.StanzaType = o.Kind(), "media"
	}
	return w, nil
}

// newMessageID returns an On-Premises style message id: URL-safe base64
// of random bytes, so it can sit in PUT /v1/messages/{id}.
func newMessageID() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "gB" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
