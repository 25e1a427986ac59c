package sqlstore_test

import (
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/store/storetest"
)

var storetestTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// BenchmarkInsert runs the store write benchmarks on every configured
// backend: go test -run '^$' -bench Insert ./store/...
func BenchmarkInsert(b *testing.B) {
	for _, backend := range sqltest.Backends {
		b.Run(string(backend), func(b *testing.B) {
			storetest.Bench(b, func(tb testing.TB) store.Store { return sqltest.Open(tb, backend) })
		})
	}
}

// BenchmarkApplyStatuses runs the status benchmark on every configured
// backend: go test -run '^$' -bench ApplyStatuses ./store/...
func BenchmarkApplyStatuses(b *testing.B) {
	for _, backend := range sqltest.Backends {
		b.Run(string(backend), func(b *testing.B) {
			storetest.BenchStatuses(b, func(tb testing.TB) store.Store { return sqltest.Open(tb, backend) })
		})
	}
}
