package waent_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/content"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

// A business hosts the coreapp in-process, registers its number, sends a
// text and receives the answer, all against the simulated network.
func Example() {
	net, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer net.Close()
	ctx := context.Background()

	st := memstore.New() // sqlstore.Open for a real deployment
	client, err := waent.New(waent.Config{
		Store:           st,
		Dialer:          net.Dialer(),
		ChatRootKey:     net.RootKey(),
		RegistrationURL: net.RegistrationURL(),
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}

	// POST /v1/account, then POST /v1/account/verify with the SMS code.
	if _, err := client.Register(ctx, waent.RegisterRequest{CC: "1", PhoneNumber: "5550100", Method: "sms"}); err != nil {
		log.Fatal(err)
	}
	code, _ := net.Registration().IssuedCode("1", "5550100")
	if err := client.Verify(ctx, code); err != nil {
		log.Fatal(err)
	}
	for !client.Ready() {
		time.Sleep(10 * time.Millisecond)
	}

	// A customer on the simulated network.
	alice, err := net.NewUser("447700900001", waenttest.UserOptions{PushName: "Alice"})
	if err != nil {
		log.Fatal(err)
	}

	// POST /v1/messages: the id is durable once Send returns.
	if _, err := client.Send(ctx, &content.Outgoing{To: alice.Phone(), Type: "text", Text: &content.Text{Body: "Your order has shipped"}}); err != nil {
		log.Fatal(err)
	}
	got, err := alice.WaitReceived(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Alice reads:", got[0].Text)

	// Her answer is stored and queued for the webhook.
	if _, err := alice.SendText(ctx, client.WAID(), "Thanks!"); err != nil {
		log.Fatal(err)
	}
	for {
		cbs, _ := st.PendingCallbacks(ctx, 0, 10)
		var inbound []string
		for _, cb := range cbs {
			if cb.Kind == waent.KindInbound {
				inbound = append(inbound, string(cb.Payload))
			}
		}
		if len(inbound) > 0 {
			fmt.Println(inbound[0][:60] + "...")
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Output:
	// Alice reads: Your order has shipped
	// {"contacts":[{"profile":{"name":"Alice"},"wa_id":"4477009000...
}
