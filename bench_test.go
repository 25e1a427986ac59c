package waent_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/waenttest"
)

// benchStores are the backends the end-to-end benchmarks run on.
var benchStores = []struct {
	name string
	open func(b *testing.B) store.Store
}{
	{"memstore", func(b *testing.B) store.Store { return memstore.New() }},
	{"sqlite", func(b *testing.B) store.Store { return sqltest.Open(b, sqlstore.SQLite) }},
	{"sqlite-normal", func(b *testing.B) store.Store {
		return sqltest.OpenConfig(b, sqlstore.Config{DSN: sqltest.DSN(b, sqlstore.SQLite), SQLiteSynchronous: "NORMAL"})
	}},
	{"postgres", func(b *testing.B) store.Store { return sqltest.Open(b, sqlstore.Postgres) }},
}

// sendAll sends n texts round-robin to users from many goroutines (as
// concurrent API requests would). With phones online it returns when every
// user has received its share; with phones offline it returns when the
// server has acked every message (the outbox is empty), which measures the
// business side alone: the phones in this process then take no CPU.
func sendAll(b *testing.B, c *waent.Client, st store.Store, users []*waenttest.User, n int, base []int, phones bool) {
	const senders = 256
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := s; k < n; k += senders {
				u := users[k%len(users)]
				if _, err := c.Send(context.Background(), text(u.Phone(), fmt.Sprint("bench ", k))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if !phones {
		deadline := time.Now().Add(10 * time.Minute)
		for {
			left, err := st.OutboxLen(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if left == 0 {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d messages not acked", left)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	for i, u := range users {
		want := base[i] + n/len(users)
		if i < n%len(users) {
			want++
		}
		if _, err := u.WaitReceived(ctx, want); err != nil {
			b.Fatalf("user %d: %v", i, err)
		}
	}
}

// modes: "phone" measures to the phones' decryption (end to end, phones
// in this process); "server" measures to the server's ack, phones offline.
var modes = []struct {
	name   string
	phones bool
}{{"phone", true}, {"server", false}}

// BenchmarkSendSteady measures sends per second on existing sessions:
// Send (durable) → encrypt → server [→ simulated phone decrypts].
func BenchmarkSendSteady(b *testing.B) {
	for _, bs := range benchStores {
		for _, mode := range modes {
			b.Run(bs.name+"/"+mode.name, func(b *testing.B) {
				net := waenttest.New(b)
				st := bs.open(b)
				c := startClient(b, net, st)
				users := newUsers(b, net, 50)
				base := make([]int, len(users))
				sendAll(b, c, st, users, len(users), base, true) // sessions exist from here on
				for i, u := range users {
					base[i] = 1
					u.SetOnline(mode.phones)
				}
				b.ResetTimer()
				start := time.Now()
				sendAll(b, c, st, users, b.N, base, mode.phones)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkSendFirstContact measures sends per second where every message
// goes to a new user: a prekey bundle fetch and an X3DH per message.
func BenchmarkSendFirstContact(b *testing.B) {
	for _, bs := range benchStores {
		for _, mode := range modes {
			b.Run(bs.name+"/"+mode.name, func(b *testing.B) {
				net := waenttest.New(b)
				st := bs.open(b)
				c := startClient(b, net, st)
				users := make([]*waenttest.User, b.N)
				for i := range users {
					u, err := net.NewUser(fmt.Sprintf("3360%07d", i), waenttest.UserOptions{PreKeys: 2})
					if err != nil {
						b.Fatal(err)
					}
					u.SetOnline(mode.phones)
					users[i] = u
				}
				b.ResetTimer()
				start := time.Now()
				sendAll(b, c, st, users, b.N, make([]int, b.N), mode.phones)
				b.StopTimer()
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			})
		}
	}
}
