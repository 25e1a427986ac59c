package memstore_test

import (
	"testing"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/storetest"
)

func TestConformance(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
	})
}

func BenchmarkInsert(b *testing.B) {
	b.Run("memstore", func(b *testing.B) {
		storetest.Bench(b, func(testing.TB) store.Store { return memstore.New() })
	})
}
