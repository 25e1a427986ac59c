package waent

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
)

// Prekey counts (protocol.md §4.1): the first upload carries 812 one-time
// keys, later ones 50, whenever the server holds fewer than 5.
const (
	initialPreKeys = 812
	morePreKeys    = 50
	minPreKeys     = 5
)

// keysLoop keeps the server stocked with one-time prekeys. It runs one
// check per request (after each login and on the server's low-keys
// notification), so uploads never race each other.
func (c *Client) keysLoop(parts *chatParts) {
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-parts.keys:
		}
		if err := c.refillPreKeys(c.ctx, parts); err != nil && c.ctx.Err() == nil {
			c.log.Warn("prekey upload", "err", err)
		}
	}
}

func (c *Client) refillPreKeys(ctx context.Context, parts *chatParts) error {
	reply, err := parts.conn.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "encrypt", "type": "get", "to": wabin.ServerJID},
		Content: []wabin.Node{{Tag: "count"}}})
	if err != nil {
		return err
	}
	cn, _ := reply.Child("count")
	onServer, err := strconv.Atoi(cn.AttrString("value"))
	if err != nil {
		return fmt.Errorf("prekey count reply: %w", err)
	}
	if onServer >= minPreKeys {
		return nil
	}
	_, uploaded, err := c.st.CountPreKeys(ctx)
	if err != nil {
		return err
	}
	want := morePreKeys
	if uploaded == 0 && onServer == 0 {
		want = initialPreKeys
	}
	keys, err := c.preKeysToUpload(ctx, want)
	if err != nil {
		return err
	}
	return c.uploadPreKeys(ctx, parts, keys)
}

// preKeysToUpload returns n keys not yet on the server, generating what
// is missing.
func (c *Client) preKeysToUpload(ctx context.Context, n int) ([]store.PreKey, error) {
	keys, err := c.st.PreKeysToUpload(ctx, n)
	if err != nil {
		return nil, err
	}
	if len(keys) >= n {
		return keys, nil
	}
	last, err := c.st.LastPreKeyID(ctx)
	if err != nil {
		return nil, err
	}
	fresh, err := crypto.NewPreKeys(last%(store.MaxKeyID-1)+1, n-len(keys))
	if err != nil {
		return nil, err
	}
	if err := c.st.PutPreKeys(ctx, fresh); err != nil {
		return nil, err
	}
	return append(keys, fresh...), nil
}

func (c *Client) uploadPreKeys(ctx context.Context, parts *chatParts, keys []store.PreKey) error {
	acct := c.account()
	spks, err := c.st.ListSignedPreKeys(ctx)
	if err != nil {
		return err
	}
	if len(spks) == 0 {
		return fmt.Errorf("no signed prekey")
	}
	spk := spks[len(spks)-1]
	id3 := func(id uint32) []byte { return []byte{byte(id >> 16), byte(id >> 8), byte(id)} }
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], acct.RegistrationID)
	list := make([]wabin.Node, len(keys))
	var maxID uint32
	for i, k := range keys {
		list[i] = wabin.Node{Tag: "key", Content: []wabin.Node{{Tag: "id", Content: id3(k.ID)}, {Tag: "value", Content: k.Key.Public}}}
		maxID = max(maxID, k.ID)
	}
	_, err = parts.conn.SendIQ(ctx, wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "encrypt", "type": "set", "to": wabin.ServerJID},
		Content: []wabin.Node{
			{Tag: "registration", Content: reg[:]},
			{Tag: "type", Content: []byte{5}},
			{Tag: "identity", Content: acct.IdentityKey.Public},
			{Tag: "list", Content: list},
			{Tag: "skey", Content: []wabin.Node{{Tag: "id", Content: id3(spk.ID)}, {Tag: "value", Content: spk.Key.Public}, {Tag: "signature", Content: spk.Signature}}},
		}})
	if err != nil {
		return err
	}
	c.log.Info("uploaded prekeys", "count", len(keys))
	return c.st.MarkPreKeysUploaded(ctx, maxID)
}
