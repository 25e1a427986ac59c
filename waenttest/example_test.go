package waenttest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/register"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/content"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waenttest"
)

// The whole path a business number takes on the simulated network:
// register over HTTP with the code the service "texted", log in with the
// registered Noise key, and send a message to a user who is offline; the
// server acks it and holds it until the user logs in.
func Example() {
	ctx := context.Background()
	network, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer network.Close()
	network.AddContact("16315559876") // a WhatsApp user with no device online

	key, _ := noise.GenerateKeyPair()
	id := register.Identity{CC: "1", Phone: "6315550100", NoisePub: key.Public, RegistrationID: 1, SignedPreKeyID: 1}
	rand.Read(id.InstallID[:])
	rand.Read(id.IdentityPub[:])
	rand.Read(id.SignedPreKeyPub[:])
	rand.Read(id.SignedPreKeySig[:])
	reg := &register.Client{BaseURL: network.RegistrationURL()}
	if _, err := reg.RequestCode(ctx, id, "sms"); err != nil {
		fmt.Println(err)
		return
	}
	code, _ := network.Registration().IssuedCode("1", "6315550100")
	if err := reg.Register(ctx, id, code); err != nil {
		fmt.Println(err)
		return
	}

	connected := make(chan struct{}, 1)
	cfg := network.ClientConfig("16315550100", key)
	cfg.OnEvent = func(e conn.Event) {
		if _, ok := e.(conn.Connected); ok {
			connected <- struct{}{}
		}
	}
	c, _ := conn.New(cfg)
	defer c.Close()
	c.Start()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		fmt.Println("no login:", c.State())
		return
	}

	ack, err := c.SendAwaitAck(ctx, wabin.Node{Tag: "message",
		Attrs:   wabin.Attrs{"id": "3EB0C0FFEE", "to": wabin.NewJID("16315559876", wabin.DefaultUserServer), "type": "text"},
		Content: []wabin.Node{{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": "msg"}, Content: []byte("ciphertext")}}})
	fmt.Println(c.State(), ack.AttrString("class"), ack.AttrString("id"), ack.AttrString("error") == "", err)
	// Output: connected message 3EB0C0FFEE true <nil>
}

// Two simulated users on one network: alice's first message to bob builds
// a Signal session from bob's prekey bundle and arrives as a pkmsg; bob's
// phone answers with a delivery receipt.
func ExampleNetwork_NewUser() {
	network, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer network.Close()
	alice, err := network.NewUser("16315550101", waenttest.UserOptions{PushName: "Alice"})
	if err != nil {
		fmt.Println(err)
		return
	}
	bob, err := network.NewUser("16315550102", waenttest.UserOptions{PushName: "Bob"})
	if err != nil {
		fmt.Println(err)
		return
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := alice.SendText(ctx, bob.Phone(), "hi bob")
	if err != nil {
		fmt.Println(err)
		return
	}
	got, err := bob.WaitReceived(ctx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got[0].From, got[0].Text, got[0].PreKey, got[0].ID == id)
	receipts, err := alice.WaitReceipts(ctx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(receipts[0].From, receipts[0].ID == id)
	// Output:
	// 16315550101 hi bob true true
	// 16315550102 true
}

// The network's template catalogue and a phone that renders from it: the
// message carries only namespace, name, language and parameters, and the
// recipient's phone fills the template in. A phone without the
// translation answers with an error receipt instead (see
// TemplateFailures).
func ExampleTemplates() {
	network, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer network.Close()
	cat := network.Templates()
	ns := cat.Namespace("16315550100") // the namespace of a business number
	err = cat.Add(catalog.Template{Namespace: ns, Name: "shipped", Language: "en",
		Components: []catalog.Component{{Type: catalog.Body, Text: "Order {{1}} has shipped"}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cat.List(ns)[0].Status, cat.Version(ns))

	// Any sender will do for the phone: it renders by namespace.
	sender, _ := network.NewUser("16315550199", waenttest.UserOptions{})
	bob, _ := network.NewUser("16315550102", waenttest.UserOptions{})
	msg, err := content.ToProto(&content.Outgoing{To: bob.Phone(), Type: "template", Template: &content.Template{
		Namespace: ns, Name: "shipped", Language: &content.Language{Policy: "deterministic", Code: "en"},
		Components: []content.Component{{Type: "body", Parameters: []content.Parameter{{Type: "text", Text: "A42"}}}},
	}}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sender.Send(ctx, bob.Phone(), msg); err != nil {
		fmt.Println(err)
		return
	}
	got, err := bob.WaitReceived(ctx, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(got[0].Text)
	// Output:
	// approved 1
	// Order A42 has shipped
}
