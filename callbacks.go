package waent

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/waent/waent/content"
	"github.com/waent/waent/outbox"
	"github.com/waent/waent/store"
)

// Callback kinds, the labels of the webhook statistics.
const (
	KindInbound = "inbound_message"
	KindStatus  = "status_change"
	KindSystem  = "system_message"
	// KindServices reports the result of a service run (garbage
	// collection): {"services":[…]}.
	KindServices = "services"
	// KindErrors is an out-of-band error: {"errors":[…]}.
	KindErrors = "errors"
)

type profile struct {
	Name string `json:"name"`
}

type contactEntry struct {
	Profile *profile `json:"profile,omitempty"`
	WAID    string   `json:"wa_id"`
}

type inboundPayload struct {
	Contacts []contactEntry     `json:"contacts,omitempty"`
	Messages []*content.Inbound `json:"messages"`
}

// inboundCallback is the webhook for a received message, as On-Premises
// sends it: the sender's profile name in contacts, then the message.
func inboundCallback(m *inboundMsg, entry *content.Inbound, now time.Time) (store.Callback, error) {
	p := inboundPayload{Messages: []*content.Inbound{entry}}
	ce := contactEntry{WAID: m.from}
	if m.notify != "" {
		ce.Profile = &profile{Name: m.notify}
	}
	p.Contacts = []contactEntry{ce}
	b, err := json.Marshal(p)
	if err != nil {
		return store.Callback{}, err
	}
	return store.Callback{Kind: KindInbound, Payload: b, NextAttemptAt: now, CreatedAt: now}, nil
}

// systemCallback is a system message (no contacts array, as On-Premises).
func systemCallback(from, id string, at time.Time, sys content.System) (store.Callback, error) {
	if id == "" {
		var err error
		if id, err = newMessageID(); err != nil {
			return store.Callback{}, err
		}
	}
	entry := &content.Inbound{From: from, ID: id, Timestamp: strconv.FormatInt(at.Unix(), 10), Type: "system", System: &sys}
	b, err := json.Marshal(inboundPayload{Messages: []*content.Inbound{entry}})
	if err != nil {
		return store.Callback{}, err
	}
	return store.Callback{Kind: KindSystem, Payload: b, NextAttemptAt: at, CreatedAt: at}, nil
}

type statusEntry struct {
	ID           string             `json:"id"`
	RecipientID  string             `json:"recipient_id"`
	Status       store.Status       `json:"status"`
	Timestamp    string             `json:"timestamp"`
	Conversation *conversationEntry `json:"conversation,omitempty"`
	Pricing      *pricingEntry      `json:"pricing,omitempty"`
	Errors       []content.Error    `json:"errors,omitempty"`
}

type statusPayload struct {
	Statuses []statusEntry `json:"statuses"`
}

// statusCallbacks is the outbox hook: one status callback per outbound
// change the settings ask for, in the transaction that applied it.
func (c *Client) statusCallbacks(ctx context.Context, tx store.Store, applied []outbox.StatusChange) error {
	s := c.Settings()
	now := c.now()
	convs, err := c.conversations(ctx, tx, s, applied)
	if err != nil {
		return err
	}
	var cbs []store.Callback
	for _, ch := range applied {
		if ch.Inbound || !s.statusCallback(ch.Status) {
			continue
		}
		e := statusEntry{ID: ch.MessageID, RecipientID: ch.Peer, Status: ch.Status, Timestamp: strconv.FormatInt(ch.At.Unix(), 10)}
		if ch.Status == store.StatusFailed {
			e.Errors = []content.Error{{Code: ch.ErrorCode, Title: ch.ErrorTitle, Details: ch.ErrorDetail}}
		} else if conv, ok := convs[ch.MessageID]; ok {
			e.Conversation, e.Pricing = conversationObjects(conv, ch, s)
		}
		b, err := json.Marshal(statusPayload{Statuses: []statusEntry{e}})
		if err != nil {
			return err
		}
		cbs = append(cbs, store.Callback{Kind: KindStatus, Payload: b, NextAttemptAt: now, CreatedAt: now})
	}
	if len(cbs) == 0 {
		return nil
	}
	return tx.EnqueueCallbacks(ctx, cbs)
}

// deletedCallback reports that the sender revoked one of its messages.
func (c *Client) deletedCallback(ctx context.Context, tx store.Store, id string, m *inboundMsg) ([]store.Callback, error) {
	// Only the sender may revoke, and only what it sent.
	orig, err := tx.GetMessage(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (orig.Direction != store.Inbound || orig.Peer != m.from)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	outcomes, err := tx.ApplyStatuses(ctx, []store.StatusEvent{{MessageID: id, Status: store.StatusDeleted, At: m.at}})
	if err != nil {
		return nil, err
	}
	if outcomes[0] != store.StatusApplied {
		return nil, nil
	}
	b, err := json.Marshal(statusPayload{Statuses: []statusEntry{{ID: id, RecipientID: m.from, Status: store.StatusDeleted, Timestamp: strconv.FormatInt(m.at.Unix(), 10)}}})
	if err != nil {
		return nil, err
	}
	now := c.now()
	return []store.Callback{{Kind: KindStatus, Payload: b, NextAttemptAt: now, CreatedAt: now}}, nil
}
