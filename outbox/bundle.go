package outbox

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
)

// fetchBundles asks the prekey service for the bundles of users (primary
// devices) in one request. Users the server has no keys for come back in
// missing with the server's error code (404: not on WhatsApp).
func fetchBundles(ctx context.Context, t Transport, users []string) (bundles map[string]crypto.Bundle, missing map[string]int, err error) {
	req := make([]wabin.Node, len(users))
	for i, u := range users {
		req[i] = wabin.Node{Tag: "user", Attrs: wabin.Attrs{"jid": wabin.NewJID(u, wabin.DefaultUserServer), "reason": "identity"}}
	}
	reply, err := t.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{
		"xmlns": "encrypt", "type": "get", "to": wabin.ServerJID,
	}, Content: []wabin.Node{{Tag: "key", Content: req}}})
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: fetch prekey bundles: %w", err)
	}
	bundles, missing = map[string]crypto.Bundle{}, map[string]int{}
	list, ok := reply.Child("list")
	if !ok {
		return nil, nil, fmt.Errorf("outbox: prekey reply without <list>")
	}
	for _, u := range list.ChildrenByTag("user") {
		jid, ok := u.AttrJID("jid")
		if !ok {
			continue
		}
		if e, ok := u.Child("error"); ok {
			code := 0
			fmt.Sscan(e.AttrString("code"), &code)
			missing[jid.User] = code
			continue
		}
		b, err := ParseBundle(u)
		if err != nil {
			missing[jid.User] = 500
			continue
		}
		bundles[jid.User] = b
	}
	for _, u := range users {
		if _, ok := bundles[u]; !ok {
			if _, ok := missing[u]; !ok {
				missing[u] = 404
			}
		}
	}
	return bundles, missing, nil
}

// ParseBundle reads the key children of a prekey-service <user> or of a
// retry receipt, with or without a <keys> wrapper: registration (4
// bytes), type (0x05), identity, skey{id,value,signature} and an optional
// key{id,value}. The bundle is checked with Verify.
func ParseBundle(n wabin.Node) (crypto.Bundle, error) {
	// A retry receipt carries <registration> beside <keys>, the prekey
	// service inside <user>; accept both.
	if k, ok := n.Child("keys"); ok {
		if _, inside := k.Child("registration"); !inside {
			if reg, ok := n.Child("registration"); ok {
				k.Content = append(append([]wabin.Node(nil), k.Children()...), reg)
			}
		}
		n = k
	}
	var b crypto.Bundle
	field := func(parent wabin.Node, tag string, size int) ([]byte, error) {
		c, ok := parent.Child(tag)
		if !ok {
			return nil, fmt.Errorf("%w: missing <%s>", crypto.ErrInvalidBundle, tag)
		}
		v := c.Bytes()
		if len(v) != size {
			return nil, fmt.Errorf("%w: <%s> is %d bytes, want %d", crypto.ErrInvalidBundle, tag, len(v), size)
		}
		return v, nil
	}
	id3 := func(v []byte) uint32 { return uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2]) }
	reg, err := field(n, "registration", 4)
	if err != nil {
		return b, err
	}
	b.RegistrationID = binary.BigEndian.Uint32(reg)
	if t, ok := n.Child("type"); ok && (len(t.Bytes()) != 1 || t.Bytes()[0] != 5) {
		return b, fmt.Errorf("%w: unknown key type", crypto.ErrInvalidBundle)
	}
	if b.Identity, err = field(n, "identity", 32); err != nil {
		return b, err
	}
	skey, ok := n.Child("skey")
	if !ok {
		return b, fmt.Errorf("%w: missing <skey>", crypto.ErrInvalidBundle)
	}
	sid, err := field(skey, "id", 3)
	if err != nil {
		return b, err
	}
	b.SignedPreKeyID = id3(sid)
	if b.SignedPreKey, err = field(skey, "value", 32); err != nil {
		return b, err
	}
	if b.Signature, err = field(skey, "signature", 64); err != nil {
		return b, err
	}
	if key, ok := n.Child("key"); ok {
		kid, err := field(key, "id", 3)
		if err != nil {
			return b, err
		}
		if b.PreKey, err = field(key, "value", 32); err != nil {
			return b, err
		}
		b.PreKeyID = id3(kid)
	}
	return b, b.Verify()
}
