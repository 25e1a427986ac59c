package waenttest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/waenttest"
)

func bytesOf(n int, fill byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = fill
	}
	return b
}

func uploadNode(oneTime int) wabin.Node {
	var keys []wabin.Node
	for i := 1; i <= oneTime; i++ {
		keys = append(keys, wabin.Node{Tag: "key", Content: []wabin.Node{
			{Tag: "id", Content: []byte{0, 0, byte(i)}}, {Tag: "value", Content: bytesOf(32, byte(i))},
		}})
	}
	return wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "encrypt", "type": "set", "to": wabin.ServerJID}, Content: []wabin.Node{
		{Tag: "registration", Content: []byte{0, 0, 1, 2}},
		{Tag: "type", Content: []byte{5}},
		{Tag: "identity", Content: bytesOf(32, 0xAA)},
		{Tag: "list", Content: keys},
		{Tag: "skey", Content: []wabin.Node{{Tag: "id", Content: []byte{0, 0, 1}}, {Tag: "value", Content: bytesOf(32, 0xBB)}, {Tag: "signature", Content: bytesOf(64, 0xCC)}}},
	}}
}

func countKeys(t *testing.T, c *client) int {
	t.Helper()
	reply, err := c.SendIQ(context.Background(), wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "encrypt", "type": "get", "to": wabin.ServerJID}, Content: []wabin.Node{{Tag: "count"}}})
	if err != nil {
		t.Fatal(err)
	}
	cn, _ := reply.Child("count")
	v, err := strconv.Atoi(cn.AttrString("value"))
	if err != nil {
		t.Fatalf("count reply %s", reply)
	}
	return v
}

func fetchBundle(t *testing.T, c *client, user string) wabin.Node {
	t.Helper()
	reply, err := c.SendIQ(context.Background(), wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "encrypt", "type": "get", "to": wabin.ServerJID}, Content: []wabin.Node{
		{Tag: "key", Content: []wabin.Node{{Tag: "user", Attrs: wabin.Attrs{"jid": wabin.NewJID(user, wabin.DefaultUserServer), "reason": "identity"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	list, _ := reply.Child("list")
	users := list.ChildrenByTag("user")
	if len(users) != 1 {
		t.Fatalf("bundle reply %s", reply)
	}
	return users[0]
}

func TestPreKeyService(t *testing.T) {
	n := waenttest.New(t)
	alice := newClient(t, n, "16315550011", true, nil)
	bob := newClient(t, n, "16315550012", true, nil)
	alice.Start()
	bob.Start()
	waitEvent[conn.Connected](t, alice, 5*time.Second)
	waitEvent[conn.Connected](t, bob, 5*time.Second)

	if got := countKeys(t, alice); got != 0 {
		t.Fatalf("count before upload %d", got)
	}
	if _, err := alice.SendIQ(context.Background(), uploadNode(6)); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if got := countKeys(t, alice); got != 6 {
		t.Fatalf("count after upload %d, want 6", got)
	}

	// Each fetch consumes one one-time key, first uploaded first.
	u := fetchBundle(t, bob, "16315550011")
	key, ok := u.Child("key")
	if !ok {
		t.Fatalf("bundle without a one-time key: %s", u)
	}
	id, _ := key.Child("id")
	if string(id.Bytes()) != "\x00\x00\x01" {
		t.Fatalf("first one-time key id %x, want 000001", id.Bytes())
	}
	for _, tag := range []string{"registration", "identity", "skey"} {
		if _, ok := u.Child(tag); !ok {
			t.Fatalf("bundle lacks <%s>: %s", tag, u)
		}
	}
	if got := countKeys(t, alice); got != 5 {
		t.Fatalf("count after one fetch %d, want 5", got)
	}
	// Below five, the owner is told to upload more.
	fetchBundle(t, bob, "16315550011")
	note := waitStanza(t, alice, "notification", 5*time.Second)
	if note.AttrString("type") != "encrypt" {
		t.Fatalf("notification %s", note)
	}
	if cnt, _ := note.Child("count"); cnt.AttrString("value") != "4" {
		t.Fatalf("low-key notification %s, want count 4", note)
	}

	// An account with no keys gets an error entry, not a bundle.
	if e, ok := fetchBundle(t, alice, "16315550012").Child("error"); !ok || e.AttrString("code") != "404" {
		t.Fatal("bundle of an account without keys did not carry a 404 error")
	}
}

func TestContactLookup(t *testing.T) {
	n := waenttest.New(t)
	n.AddContact("16315559999")
	c := newClient(t, n, "16315550013", true, nil)
	c.Start()
	waitEvent[conn.Connected](t, c, 5*time.Second)

	var users []wabin.Node
	for _, in := range []string{"+1 (631) 555-9999", "+1 631 555 0000", "+16315550013"} {
		users = append(users, wabin.Node{Tag: "user", Content: []wabin.Node{{Tag: "contact", Content: []byte(in)}}})
	}
	reply, err := c.SendIQ(context.Background(), wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "usync", "type": "get", "to": wabin.ServerJID}, Content: []wabin.Node{
		{Tag: "usync", Attrs: wabin.Attrs{"sid": "s1", "mode": "query", "context": "interactive"}, Content: []wabin.Node{
			{Tag: "query", Content: []wabin.Node{{Tag: "contact"}}},
			{Tag: "list", Content: users},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	us, _ := reply.Child("usync")
	list, _ := us.Child("list")
	got := list.ChildrenByTag("user")
	if len(got) != 3 {
		t.Fatalf("usync reply %s", reply)
	}
	want := []struct{ typ, jid string }{{"in", "16315559999@s.whatsapp.net"}, {"out", ""}, {"in", "16315550013@s.whatsapp.net"}}
	for i, w := range want {
		ct, _ := got[i].Child("contact")
		if ct.AttrString("type") != w.typ || got[i].AttrString("jid") != w.jid {
			t.Errorf("user %d: %s, want type %s jid %q", i, got[i], w.typ, w.jid)
		}
	}
}
