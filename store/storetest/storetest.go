// Package storetest is the conformance suite for implementations of
// store.Store: the executable form of the contract documented in package
// store. Every backend (memstore, sqlstore on each dialect, or one an
// application writes itself) must pass it.
//
// An implementation runs the suite from an ordinary test in its own package:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := mystore.Open(t.Context(), dsnForAFreshSchema(t))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The factory must return a fresh, empty store that no other call shares,
// and register its own cleanup with t.Cleanup. Run calls it once per group
// of related cases (Account, Signal, Messages, Outbox, ...), not once per
// case, so a SQL backend that creates a schema per store stays fast; the
// cases inside a group share the store and use distinct keys or run in a
// defined order.
//
// Run the suite with -race: the Concurrency group hammers one store from
// several goroutines and checks the results are exact. It never depends on
// parallelism (a backend that serialises every writer passes), only on
// correctness, and it never sleeps: every time the store compares with is
// passed in by the suite.
package storetest

import (
	"testing"

	"github.com/waent/waent/store"
)

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	groups := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Account", testAccount},
		{"Signal", testSignal},
		{"Messages", testMessages},
		{"Outbox", testOutbox},
		{"Callbacks", testCallbacks},
		{"Directory", testDirectory},
		{"Users", testUsers},
		{"Templates", testTemplates},
		{"Media", testMedia},
		{"Leases", testLeases},
		{"Conversations", testConversations},
		{"Tx", testTx},
		{"Slices", testSlices},
		{"Concurrency", testConcurrency},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			g.run(t, s)
		})
	}
}
