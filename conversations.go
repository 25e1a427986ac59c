package waent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/waent/waent/outbox"
	"github.com/waent/waent/store"
)

// Conversation-based pricing (onprem-api.md §6, since 2022-02): every
// outbound message belongs to a 24-hour conversation with its recipient,
// opened by the first message sent while none is open. A conversation is
// user_initiated when the user wrote to the business in the 24 hours
// before it opened (the customer service window) and business_initiated
// otherwise. Status callbacks carry its id and origin and a pricing
// object; the opening message's first reported status also carries the
// expiry. The chat server told On-Premises these facts; here they are
// derived locally, with the same rules, so integrations that bill or
// report on them keep working.
const conversationLength = 24 * time.Hour

type conversationEntry struct {
	ID                  string `json:"id"`
	ExpirationTimestamp string `json:"expiration_timestamp,omitempty"`
	Origin              struct {
		Type string `json:"type"`
	} `json:"origin"`
}

type pricingEntry struct {
	Billable     bool   `json:"billable"`
	PricingModel string `json:"pricing_model"`
	Category     string `json:"category"`
}

// conversations returns the conversation of each outbound message in
// applied that was sent, delivered or read, opening conversations (and
// linking messages to them) in tx as needed.
func (c *Client) conversations(ctx context.Context, tx store.Store, s Settings, applied []outbox.StatusChange) (map[string]store.Conversation, error) {
	if !s.conversationObjects() {
		return nil, nil
	}
	var ids []string
	for _, ch := range applied {
		if counts(ch) {
			ids = append(ids, ch.MessageID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	have, err := tx.MessageConversations(ctx, ids)
	if err != nil {
		return nil, err
	}
	links := map[string][]string{} // conversation id → newly linked messages
	for _, ch := range applied {
		if _, ok := have[ch.MessageID]; ok || !counts(ch) {
			continue
		}
		conv, err := c.openConversation(ctx, tx, ch)
		if err != nil {
			return nil, err
		}
		have[ch.MessageID] = conv
		links[conv.ID] = append(links[conv.ID], ch.MessageID)
	}
	for id, msgs := range links {
		if err := tx.LinkConversation(ctx, id, msgs); err != nil {
			return nil, err
		}
	}
	return have, nil
}

// counts reports whether a change is of an outbound message the
// recipient's conversation covers.
func counts(ch outbox.StatusChange) bool {
	if ch.Inbound {
		return false
	}
	switch ch.Status {
	case store.StatusSent, store.StatusDelivered, store.StatusRead:
		return true
	}
	return false
}

// openConversation returns the conversation with ch.Peer open at ch.At,
// opening one with ch's message when there is none.
func (c *Client) openConversation(ctx context.Context, tx store.Store, ch outbox.StatusChange) (store.Conversation, error) {
	origin := "business_initiated"
	last, err := tx.LastInboundAt(ctx, ch.Peer)
	if err != nil {
		return store.Conversation{}, err
	}
	if !last.IsZero() && !last.After(ch.At) && ch.At.Sub(last) < conversationLength {
		origin = "user_initiated"
	} else if cat := c.templateCategory(ctx, tx, ch.MessageID); cat != "" {
		origin = cat
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return store.Conversation{}, err
	}
	conv, _, err := tx.OpenConversation(ctx, store.Conversation{
		ID: hex.EncodeToString(id[:]), Peer: ch.Peer, Origin: origin, OpenerID: ch.MessageID,
		OpenedAt: ch.At, ExpiresAt: ch.At.Add(conversationLength),
	})
	return conv, err
}

// templateCategory is the pricing category a business-initiated
// conversation takes from the template that opens it (authentication,
// marketing, utility), or "" when the message is not a template of one of
// those categories. It runs once per opened conversation.
func (c *Client) templateCategory(ctx context.Context, tx store.Store, msgID string) string {
	m, err := tx.GetMessage(ctx, msgID)
	if err != nil || (m.Type != "template" && m.Type != "hsm") {
		return ""
	}
	var o storedOutgoing
	if json.Unmarshal(m.Payload, &o) != nil {
		return ""
	}
	var name, code string
	switch {
	case o.Template != nil:
		name = o.Template.Name
		if o.Template.Language != nil {
			code = o.Template.Language.Code
		}
	case o.HSM != nil:
		name = o.HSM.ElementName
		if o.HSM.Language != nil {
			code = o.HSM.Language.Code
		}
	}
	switch cat := strings.ToLower(c.tmpl.Category(name, code)); cat {
	case "authentication", "marketing", "utility":
		return cat
	}
	return ""
}

// conversationObjects are the conversation and pricing objects of a
// status callback. The expiry goes on the first status reported for the
// message that opened the conversation: "sent" when sent callbacks are
// on, else "delivered".
func conversationObjects(conv store.Conversation, ch outbox.StatusChange, s Settings) (*conversationEntry, *pricingEntry) {
	e := &conversationEntry{ID: conv.ID}
	e.Origin.Type = conv.Origin
	if conv.OpenerID == ch.MessageID {
		first := store.StatusSent
		if !s.statusCallback(store.StatusSent) {
			first = store.StatusDelivered
		}
		if ch.Status == first {
			e.ExpirationTimestamp = strconv.FormatInt(conv.ExpiresAt.Unix(), 10)
		}
	}
	return e, &pricingEntry{Billable: true, PricingModel: "CBP", Category: conv.Origin}
}

// conversationObjects reports whether status callbacks carry the
// conversation and pricing objects.
func (s Settings) conversationObjects() bool {
	return !s.WebhookPayloadConversationPricingModelDisabled
}
