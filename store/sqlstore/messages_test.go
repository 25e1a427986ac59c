package sqlstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore/sqltest"
)

// statementLog records the statements a store runs, without the
// transaction control around them.
type statementLog struct {
	mu    sync.Mutex
	verbs []string
}

func (l *statementLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (l *statementLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	verb, _, _ := strings.Cut(strings.TrimSpace(e.Query), " ")
	switch verb = strings.ToUpper(verb); verb {
	case "BEGIN", "COMMIT", "ROLLBACK":
		return
	}
	l.mu.Lock()
	l.verbs = append(l.verbs, verb)
	l.mu.Unlock()
}

func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := l.verbs
	l.verbs = nil
	return v
}

// TestApplyStatusesStatements: the number of statements ApplyStatuses
// runs depends on how many chunks of 500 events it gets, not on how many
// events or messages, and a batch that changes nothing writes nothing.
func TestApplyStatusesStatements(t *testing.T) {
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) {
			s := sqltest.Open(t, b)
			ctx := context.Background()
			t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
			const msgs = 600
			batch := make([]store.Message, msgs)
			for i := range batch {
				batch[i] = store.Message{ID: fmt.Sprintf("sc-%03d", i), Direction: store.Outbound, Peer: "15550100", Type: "text", Status: store.StatusPending, CreatedAt: t0}
			}
			if _, err := s.AddMessages(ctx, batch); err != nil {
				t.Fatal(err)
			}
			log := &statementLog{}
			s.DB().AddQueryHook(log)

			apply := func(what string, events []store.StatusEvent, want store.StatusOutcome, wantVerbs []string) {
				t.Helper()
				outcomes, err := s.ApplyStatuses(ctx, events)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				for i, o := range outcomes {
					if o != want {
						t.Fatalf("%s: event %d outcome %v, want %v", what, i, o, want)
					}
				}
				if got := log.take(); strings.Join(got, " ") != strings.Join(wantVerbs, " ") {
					t.Errorf("%s: %d events ran %v, want %v", what, len(events), got, wantVerbs)
				}
			}
			write := []string{"SELECT", "UPDATE", "INSERT"}
			repeat := func(verbs []string, n int) []string {
				var out []string
				for range n {
					out = append(out, verbs...)
				}
				return out
			}

			// Sent then delivered for every message: 1200 events, three chunks.
			var events []store.StatusEvent
			for i := range msgs {
				id := batch[i].ID
				events = append(events,
					store.StatusEvent{MessageID: id, Status: store.StatusSent, At: t0.Add(time.Second)},
					store.StatusEvent{MessageID: id, Status: store.StatusDelivered, At: t0.Add(2 * time.Second)})
			}
			apply("sent and delivered", events, store.StatusApplied, repeat(write, 3))
			apply("the same again", events, store.StatusStale, repeat([]string{"SELECT"}, 3))
			apply("one event", events[len(events)-1:], store.StatusStale, []string{"SELECT"})
			read := []store.StatusEvent{{MessageID: batch[0].ID, Status: store.StatusRead, At: t0.Add(3 * time.Second)}}
			apply("one read", read, store.StatusApplied, write)
		})
	}
}
