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

// sendAll sends n texts round-robin to users from several goroutines (as
// concurrent API requests would) and returns when every user has received
// its share.
func sendAll(b *testing.B, c *waent.Client, users []*waenttest.User, n int, base []int) {
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

// BenchmarkSendSteady measures end-to-end sends per second on existing
// sessions: Send (durable) → encrypt → server → simulated phone decrypts.
// The phones run in the same process and take their share of the CPU.
func BenchmarkSendSteady(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			net := waenttest.New(b)
			c := startClient(b, net, bs.open(b))
			users := newUsers(b, net, 50)
			base := make([]int, len(users))
			sendAll(b, c, users, len(users), base) // sessions exist from here on
			for i := range base {
				base[i] = 1
			}
			b.ResetTimer()
			start := time.Now()
			sendAll(b, c, users, b.N, base)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}

// BenchmarkSendFirstContact measures sends per second where every message
// goes to a new user: a prekey bundle fetch and an X3DH per message.
func BenchmarkSendFirstContact(b *testing.B) {
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			net := waenttest.New(b)
			c := startClient(b, net, bs.open(b))
			users := make([]*waenttest.User, b.N)
			for i := range users {
				u, err := net.NewUser(fmt.Sprintf("3360%07d", i), waenttest.UserOptions{PreKeys: 2})
				if err != nil {
					b.Fatal(err)
				}
				users[i] = u
			}
			b.ResetTimer()
			start := time.Now()
			sendAll(b, c, users, b.N, make([]int, b.N))
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
