package waent

import (
	"context"
	"strings"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/store"
)

// ContactsRequest is the body of POST /v1/contacts.
type ContactsRequest struct {
	// Blocking is "wait" (answer when checked) or "no_wait" (the
	// default: unknown numbers come back "processing" and are checked in
	// the background).
	Blocking   string
	Contacts   []string
	ForceCheck bool
}

// ContactResult is one entry of the answer; WAID is set when valid.
type ContactResult struct {
	Input  string
	Status store.ContactStatus
	WAID   string
}

// MaxContactsPerCheck bounds one request, as the webapp did.
const MaxContactsPerCheck = 10_000

// CheckContacts tells which numbers are on WhatsApp (POST /v1/contacts).
// Results are cached for ContactTTL; ForceCheck bypasses the cache.
func (c *Client) CheckContacts(ctx context.Context, req ContactsRequest) ([]ContactResult, error) {
	parts, err := c.parts()
	if err != nil {
		return nil, err
	}
	switch {
	case len(req.Contacts) == 0:
		return nil, newError(CodeMissingParameter, "Missing mandatory parameter 'contacts'", nil)
	case len(req.Contacts) > MaxContactsPerCheck:
		return nil, newError(CodeInvalidParameter, "too many contacts in one request", nil)
	case req.Blocking != "" && req.Blocking != "wait" && req.Blocking != "no_wait":
		return nil, newError(CodeInvalidParameter, "Parameter 'blocking' has invalid value '"+req.Blocking+"'", nil)
	}
	out := make([]ContactResult, len(req.Contacts))
	// An input may appear more than once; every copy gets the answer.
	byInput := map[string][]int{}
	for i, in := range req.Contacts {
		out[i] = ContactResult{Input: in, Status: store.ContactInvalid}
		if c.normalizePhone(in) != "" {
			byInput[in] = append(byInput[in], i)
		}
	}
	set := func(in string, st store.ContactStatus, waID string) {
		for _, i := range byInput[in] {
			out[i].Status, out[i].WAID = st, waID
		}
	}
	if !req.ForceCheck {
		cached, err := c.st.GetContacts(ctx, keys(byInput))
		if err != nil {
			return nil, newError(CodeDatabase, "", err)
		}
		fresh := c.now().Add(-c.cfg.ContactTTL)
		for _, ct := range cached {
			if ct.CheckedAt.After(fresh) && ct.Status != store.ContactProcessing && ct.Status != store.ContactFailed {
				set(ct.Input, ct.Status, ct.WAID)
				delete(byInput, ct.Input)
			}
		}
	}
	todo := keys(byInput)
	if len(todo) == 0 {
		return out, nil
	}
	if req.Blocking != "wait" {
		for _, in := range todo {
			set(in, store.ContactProcessing, "")
		}
		c.lookupInBackground(parts, todo)
		return out, nil
	}
	res, err := c.lookupContacts(ctx, parts, todo)
	if err != nil {
		for _, in := range todo {
			set(in, store.ContactFailed, "")
		}
		return out, nil
	}
	for _, ct := range res {
		set(ct.Input, ct.Status, ct.WAID)
	}
	return out, nil
}

// lookupInBackground checks inputs for a no_wait request. At most a few
// run at once; beyond that the request is answered "processing" without
// a check, and the next request for those numbers asks again.
func (c *Client) lookupInBackground(parts *chatParts, inputs []string) {
	select {
	case c.lookups <- struct{}{}:
	default:
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.lookups
		return
	}
	c.bg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.bg.Done()
		defer func() { <-c.lookups }()
		if _, err := c.lookupContacts(c.ctx, parts, inputs); err != nil && c.ctx.Err() == nil {
			c.log.Warn("background contact check", "err", err)
		}
	}()
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// lookupContacts asks the server's usync contact protocol and caches the
// answers.
func (c *Client) lookupContacts(ctx context.Context, parts *chatParts, inputs []string) ([]store.Contact, error) {
	users := make([]wabin.Node, len(inputs))
	for i, in := range inputs {
		users[i] = wabin.Node{Tag: "user", Content: []wabin.Node{{Tag: "contact", Content: []byte("+" + c.normalizePhone(in))}}}
	}
	reply, err := parts.conn.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "usync", "type": "get", "to": wabin.ServerJID},
		Content: []wabin.Node{{Tag: "usync", Attrs: wabin.Attrs{"sid": parts.conn.NewID(), "mode": "query", "last": "true", "index": "0", "context": "interactive"},
			Content: []wabin.Node{
				{Tag: "query", Content: []wabin.Node{{Tag: "contact"}}},
				{Tag: "list", Content: users},
			}}}})
	if err != nil {
		return nil, err
	}
	now := c.now()
	found := map[string]string{} // normalized number → wa_id
	us, _ := reply.Child("usync")
	list, _ := us.Child("list")
	for _, u := range list.ChildrenByTag("user") {
		ct, _ := u.Child("contact")
		jid, ok := u.AttrJID("jid")
		if ok && ct.AttrString("type") == "in" {
			found[digitsOnly(string(ct.Bytes()))] = jid.User
		}
	}
	out := make([]store.Contact, len(inputs))
	for i, in := range inputs {
		out[i] = store.Contact{Input: in, Status: store.ContactInvalid, CheckedAt: now}
		if wa, ok := found[c.normalizePhone(in)]; ok {
			out[i].Status, out[i].WAID = store.ContactValid, wa
		}
	}
	if err := c.st.PutContacts(ctx, out); err != nil {
		return out, err
	}
	return out, nil
}

// normalizePhone turns a number as typed into digits with a country code:
// "+1 (631) 555-1004" → "16315551004". A number without "+" that does not
// start with the business's country code gets it, as a phone dialling a
// local number would.
func (c *Client) normalizePhone(in string) string {
	d := digitsOnly(in)
	if d == "" || len(d) > 18 {
		return ""
	}
	if strings.HasPrefix(strings.TrimSpace(in), "+") {
		return d
	}
	cc := c.account().CC
	if cc != "" && !strings.HasPrefix(d, cc) {
		d = cc + d
	}
	return d
}
