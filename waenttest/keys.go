package waenttest

import (
	"strconv"

	"github.com/waent/waent/conn/wabin"
)

// keyBundle is what an account uploaded to the prekey service.
type keyBundle struct {
	registration []byte // 4 bytes
	identity     []byte // 32 bytes
	signed       signedKey
	oneTime      []oneTimeKey // in upload order; consumed from the front
}

type signedKey struct{ id, value, signature []byte }

type oneTimeKey struct{ id, value []byte }

// upload stores an uploaded bundle: new one-time keys join what is left,
// the rest of the bundle is replaced. The caller holds s.mu.
func (a *account) upload(kb *keyBundle) {
	if a.keys != nil {
		seen := map[string]bool{}
		for _, k := range a.keys.oneTime {
			seen[string(k.id)] = true
		}
		for _, k := range kb.oneTime {
			if !seen[string(k.id)] {
				a.keys.oneTime = append(a.keys.oneTime, k)
			}
		}
		kb.oneTime = a.keys.oneTime
	}
	a.keys = kb
}

// lowPreKeys is the count below which the server tells the owner to upload
// more, as the real server does with an encrypt notification.
const lowPreKeys = 5

// handleEncrypt serves the prekey service: upload (set), count and bundle
// fetch (get).
func (s *chatServer) handleEncrypt(ss *serverSession, n wabin.Node, typ string, result func(...wabin.Node), iqError func(int, string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case typ == "set":
		kb, err := parseUpload(n)
		if err != "" {
			iqError(400, err)
			return
		}
		s.account(ss.phone).upload(kb)
		result()
	case hasChild(n, "count"):
		count := 0
		if a := s.accounts[ss.phone]; a != nil && a.keys != nil {
			count = len(a.keys.oneTime)
		}
		result(wabin.Node{Tag: "count", Attrs: wabin.Attrs{"value": strconv.Itoa(count)}})
	case hasChild(n, "key"):
		keyNode, _ := n.Child("key")
		var users []wabin.Node
		for _, u := range keyNode.ChildrenByTag("user") {
			jid, ok := u.AttrJID("jid")
			if !ok {
				iqError(400, "bad-request")
				return
			}
			users = append(users, s.bundleFor(jid))
		}
		result(wabin.Node{Tag: "list", Content: users})
	default:
		iqError(400, "bad-request")
	}
}

// bundleFor hands out jid's bundle, consuming one one-time key, and warns
// the owner when the keys run low. The caller holds s.mu.
func (s *chatServer) bundleFor(jid wabin.JID) wabin.Node {
	user := wabin.Node{Tag: "user", Attrs: wabin.Attrs{"jid": jid}}
	a := s.accounts[jid.User]
	if a == nil || a.keys == nil || jid.Device != 0 {
		user.Content = []wabin.Node{{Tag: "error", Attrs: wabin.Attrs{"code": "404", "text": "item-not-found"}}}
		return user
	}
	kb := a.keys
	children := []wabin.Node{
		{Tag: "registration", Content: kb.registration},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: kb.identity},
		{Tag: "skey", Content: []wabin.Node{
			{Tag: "id", Content: kb.signed.id}, {Tag: "value", Content: kb.signed.value}, {Tag: "signature", Content: kb.signed.signature},
		}},
	}
	if len(kb.oneTime) > 0 {
		k := kb.oneTime[0]
		kb.oneTime = kb.oneTime[1:]
		children = append(children, wabin.Node{Tag: "key", Content: []wabin.Node{{Tag: "id", Content: k.id}, {Tag: "value", Content: k.value}}})
		if len(kb.oneTime) < lowPreKeys {
			s.deliver(a.phone, "notification", wabin.Node{Tag: "notification", Attrs: wabin.Attrs{
				"from": wabin.ServerJID, "type": "encrypt", "id": "keys-" + strconv.Itoa(len(kb.oneTime)) + "-" + s.t(), "t": s.t(),
			}, Content: []wabin.Node{{Tag: "count", Attrs: wabin.Attrs{"value": strconv.Itoa(len(kb.oneTime))}}}})
		}
	}
	user.Content = children
	return user
}

// parseUpload reads a prekey upload; a non-empty string names what is wrong.
func parseUpload(n wabin.Node) (*keyBundle, string) {
	kb := &keyBundle{}
	field := func(parent wabin.Node, tag string, size int) ([]byte, bool) {
		c, ok := parent.Child(tag)
		if !ok || len(c.Bytes()) != size {
			return nil, false
		}
		return c.Bytes(), true
	}
	var ok bool
	if kb.registration, ok = field(n, "registration", 4); !ok {
		return nil, "bad registration"
	}
	if t, ok := field(n, "type", 1); !ok || t[0] != 5 {
		return nil, "bad key type"
	}
	if kb.identity, ok = field(n, "identity", 32); !ok {
		return nil, "bad identity"
	}
	skey, has := n.Child("skey")
	if !has {
		return nil, "missing skey"
	}
	if kb.signed.id, ok = field(skey, "id", 3); !ok {
		return nil, "bad skey id"
	}
	if kb.signed.value, ok = field(skey, "value", 32); !ok {
		return nil, "bad skey value"
	}
	if kb.signed.signature, ok = field(skey, "signature", 64); !ok {
		return nil, "bad skey signature"
	}
	if list, has := n.Child("list"); has {
		for _, k := range list.ChildrenByTag("key") {
			id, ok1 := field(k, "id", 3)
			val, ok2 := field(k, "value", 32)
			if !ok1 || !ok2 {
				return nil, "bad one-time key"
			}
			kb.oneTime = append(kb.oneTime, oneTimeKey{id: id, value: val})
		}
	}
	return kb, ""
}

// handleUsync answers contact lookups (which numbers are on WhatsApp) and
// device lists (a primary device only).
func (s *chatServer) handleUsync(n wabin.Node, result func(...wabin.Node), iqError func(int, string)) {
	usync, ok := n.Child("usync")
	if !ok {
		iqError(400, "bad-request")
		return
	}
	query, _ := usync.Child("query")
	list, _ := usync.Child("list")
	wantContact, wantDevices := hasChild(query, "contact"), hasChild(query, "devices")
	s.mu.Lock()
	defer s.mu.Unlock()
	var users []wabin.Node
	for _, u := range list.ChildrenByTag("user") {
		out := wabin.Node{Tag: "user"}
		var phone string
		if c, ok := u.Child("contact"); ok {
			phone = digits(string(c.Bytes()))
		} else if jid, ok := u.AttrJID("jid"); ok {
			phone = jid.User
		}
		known := phone != "" && s.known(phone)
		if known {
			out.Attrs = wabin.Attrs{"jid": wabin.NewJID(phone, wabin.DefaultUserServer)}
		}
		var parts []wabin.Node
		if wantContact {
			c, _ := u.Child("contact")
			typ := "out"
			if known {
				typ = "in"
			}
			parts = append(parts, wabin.Node{Tag: "contact", Attrs: wabin.Attrs{"type": typ}, Content: c.Bytes()})
		}
		if wantDevices && known {
			parts = append(parts, wabin.Node{Tag: "devices", Content: []wabin.Node{
				{Tag: "device-list", Content: []wabin.Node{{Tag: "device", Attrs: wabin.Attrs{"id": "0"}}}},
			}})
		}
		if len(parts) > 0 {
			out.Content = parts
		}
		users = append(users, out)
	}
	result(wabin.Node{Tag: "usync", Attrs: wabin.Attrs{"sid": usync.AttrString("sid")},
		Content: []wabin.Node{{Tag: "list", Content: users}}})
}

func hasChild(n wabin.Node, tag string) bool {
	_, ok := n.Child(tag)
	return ok
}

// accountPreKeys is how many one-time prekeys of phone the server holds.
func (s *chatServer) accountPreKeys(phone string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[phone]; a != nil && a.keys != nil {
		return len(a.keys.oneTime)
	}
	return 0
}
