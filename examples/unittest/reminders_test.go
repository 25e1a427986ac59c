package reminders_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/examples/unittest"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

// answers collects what the webhook delivered, as the application's
// handler would.
type answers struct {
	mu  sync.Mutex
	got []reminders.Answer
}

func (a *answers) sink(ctx context.Context, body []byte) error {
	got, err := reminders.Answers(body)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.got = append(a.got, got...)
	a.mu.Unlock()
	return nil
}

func (a *answers) list() []reminders.Answer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]reminders.Answer(nil), a.got...)
}

// newClient is a registered client on a simulated network, all in memory.
func newClient(t *testing.T, sink webhook.Sink) (*waent.Client, *waenttest.Network) {
	t.Helper()
	ctx := context.Background()
	simNet := waenttest.New(t)
	c, err := waent.New(waent.Config{Store: memstore.New(), Dialer: simNet.Dialer(), ChatRootKey: simNet.RootKey(),
		RegistrationURL: simNet.RegistrationURL(), Webhook: sink, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, waent.RegisterRequest{CC: "1", PhoneNumber: "5550100", Method: "sms"}); err != nil {
		t.Fatal(err)
	}
	code, _ := simNet.Registration().IssuedCode("1", "5550100")
	if err := c.Verify(ctx, code); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !c.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("client not ready")
		}
	}
	return c, simNet
}

func TestReminderAndAnswer(t *testing.T) {
	var a answers
	c, simNet := newClient(t, webhook.FuncSink(a.sink))
	alice, err := simNet.NewUser("447700900001", waenttest.UserOptions{PushName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	at := time.Date(2026, 3, 2, 15, 30, 0, 0, time.UTC)
	id, err := reminders.Remind(ctx, c, alice.Phone(), at)
	if err != nil {
		t.Fatal(err)
	}
	got, err := alice.WaitReceived(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := "Reminder: your appointment is on Mon 2 Mar at 15:30. Reply YES to confirm or NO to cancel."
	if got[0].ID != id || got[0].Text != want {
		t.Fatalf("Alice got %q (%s), want %q (%s)", got[0].Text, got[0].ID, want, id)
	}

	// She answers; the application reads it from the callback.
	if _, err := alice.SendText(ctx, c.WAID(), " yes "); err != nil {
		t.Fatal(err)
	}
	for len(a.list()) == 0 {
		if ctx.Err() != nil {
			t.Fatal("no answer arrived")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := a.list(); len(got) != 1 || got[0] != (reminders.Answer{Phone: alice.Phone(), Confirm: true}) {
		t.Fatalf("answers %+v", got)
	}
}

func TestAnswersIgnoresOtherCallbacks(t *testing.T) {
	got, err := reminders.Answers([]byte(`{"statuses":[{"id":"x","status":"read"}],"messages":[
		{"from":"1","type":"text","text":{"body":"No"}},{"from":"2","type":"text","text":{"body":"maybe"}},
		{"from":"3","type":"image","image":{"id":"m"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (reminders.Answer{Phone: "1", Confirm: false}) {
		t.Fatalf("%+v", got)
	}
	if _, err := reminders.Answers([]byte("not json")); err == nil {
		t.Fatal("no error for a malformed body")
	}
}
