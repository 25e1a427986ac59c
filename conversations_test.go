package waent_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

type pricedStatus struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	Conversation *struct {
		ID                  string `json:"id"`
		ExpirationTimestamp string `json:"expiration_timestamp"`
		Origin              struct {
			Type string `json:"type"`
		} `json:"origin"`
	} `json:"conversation"`
	Pricing *struct {
		Billable     bool   `json:"billable"`
		PricingModel string `json:"pricing_model"`
		Category     string `json:"category"`
	} `json:"pricing"`
}

// statusesOf returns the queued status callbacks by message id, in order.
func statusesOf(t *testing.T, st store.Store) map[string][]pricedStatus {
	t.Helper()
	out := map[string][]pricedStatus{}
	for _, p := range callbacksOf(t, st, waent.KindStatus) {
		var env struct{ Statuses []pricedStatus }
		if err := json.Unmarshal([]byte(p), &env); err != nil || len(env.Statuses) != 1 {
			t.Fatalf("payload %s: %v", p, err)
		}
		out[env.Statuses[0].ID] = append(out[env.Statuses[0].ID], env.Statuses[0])
	}
	return out
}

func TestConversationAndPricingInStatuses(t *testing.T) {
	net := waenttest.New(t)
	st := memstore.New()
	c := startClient(t, net, st)
	users := newUsers(t, net, 2)
	cold, warm := users[0], users[1]
	ctx := context.Background()

	// warm writes first: the business's answer opens a user-initiated
	// conversation. cold never wrote: business-initiated.
	if _, err := warm.SendText(ctx, c.WAID(), "hello?"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "inbound stored", func() bool { return len(callbacksOf(t, st, waent.KindInbound)) == 1 })

	var ids []string
	for _, u := range []*waenttest.User{cold, cold, warm} {
		id, err := c.Send(ctx, text(u.Phone(), "hi"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		waitFor(t, 5*time.Second, "delivered", func() bool { return statusOf(t, st, id) == store.StatusDelivered })
	}
	got := statusesOf(t, st)
	first, second, answer := got[ids[0]], got[ids[1]], got[ids[2]]
	if len(first) != 1 || len(second) != 1 || len(answer) != 1 {
		t.Fatalf("status callbacks: %+v", got)
	}
	for i, s := range []pricedStatus{first[0], second[0], answer[0]} {
		if s.Status != "delivered" || s.Conversation == nil || s.Pricing == nil {
			t.Fatalf("status %d without conversation/pricing: %+v", i, s)
		}
		if !s.Pricing.Billable || s.Pricing.PricingModel != "CBP" || s.Pricing.Category != s.Conversation.Origin.Type {
			t.Errorf("status %d pricing %+v", i, *s.Pricing)
		}
	}
	if o := first[0].Conversation.Origin.Type; o != "business_initiated" {
		t.Errorf("cold user's conversation origin %q", o)
	}
	if o := answer[0].Conversation.Origin.Type; o != "user_initiated" {
		t.Errorf("answer's conversation origin %q", o)
	}
	// One conversation per user for 24 hours; the expiry rides on the
	// opening message's first reported status only.
	if first[0].Conversation.ID != second[0].Conversation.ID || first[0].Conversation.ID == answer[0].Conversation.ID {
		t.Errorf("conversation ids %s %s %s", first[0].Conversation.ID, second[0].Conversation.ID, answer[0].Conversation.ID)
	}
	if len(first[0].Conversation.ID) != 32 {
		t.Errorf("conversation id %q", first[0].Conversation.ID)
	}
	exp := first[0].Conversation.ExpirationTimestamp
	if exp == "" || second[0].Conversation.ExpirationTimestamp != "" || answer[0].Conversation.ExpirationTimestamp == "" {
		t.Errorf("expiration timestamps %q %q %q", exp, second[0].Conversation.ExpirationTimestamp, answer[0].Conversation.ExpirationTimestamp)
	}

	// A read receipt later refers to the same conversation.
	if err := cold.MarkRead(ctx, business, ids[0]); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "read", func() bool { return statusOf(t, st, ids[0]) == store.StatusRead })
	read := statusesOf(t, st)[ids[0]]
	if len(read) != 2 || read[1].Conversation == nil || read[1].Conversation.ID != first[0].Conversation.ID || read[1].Conversation.ExpirationTimestamp != "" {
		t.Fatalf("read status %+v", read)
	}

	// The setting turns both objects off.
	if _, err := c.UpdateSettings(ctx, func(s *waent.Settings) { s.WebhookPayloadConversationPricingModelDisabled = true }); err != nil {
		t.Fatal(err)
	}
	id, err := c.Send(ctx, text(warm.Phone(), "again"))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "delivered", func() bool { return statusOf(t, st, id) == store.StatusDelivered })
	if s := statusesOf(t, st)[id]; len(s) != 1 || s[0].Conversation != nil || s[0].Pricing != nil {
		t.Fatalf("with pricing objects disabled: %+v", s)
	}
}
