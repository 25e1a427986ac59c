package crypto

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// The benchmarks use memstore directly (no transaction), so they measure
// the engine: libsignal, record coding and the Batch cache.

// benchPlaintext is a 100-byte message.
func benchPlaintext() []byte { return bytes.Repeat([]byte{'x'}, 100) }

func benchPair(b *testing.B) (biz, peer *party) {
	biz = newParty(b, memstore.New(), "biz")
	peer = newParty(b, memstore.New(), "peer")
	connect(b, biz, peer)
	return biz, peer
}

// runBatched calls op b.N times, with a new Batch every per calls, flushed
// at its end.
func runBatched(b *testing.B, sig *Signal, st store.Store, per int, op func(bt *Batch, i int) error) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var bt *Batch
	for i := 0; i < b.N; i++ {
		if i%per == 0 {
			bt = sig.Begin(st)
		}
		if err := op(bt, i); err != nil {
			b.Fatal(err)
		}
		if (i+1)%per == 0 || i == b.N-1 {
			if err := bt.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkEncrypt(b *testing.B) {
	ctx := context.Background()
	msg := benchPlaintext()
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) {
			biz, peer := benchPair(b)
			runBatched(b, biz.sig, biz.st, per, func(bt *Batch, _ int) error {
				_, err := bt.Encrypt(ctx, peer.addr, msg)
				return err
			})
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	ctx := context.Background()
	msg := benchPlaintext()
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", per), func(b *testing.B) {
			biz, peer := benchPair(b)
			cts := make([]Ciphertext, b.N)
			bt := peer.sig.Begin(peer.st)
			for i := range cts {
				ct, err := bt.Encrypt(ctx, biz.addr, msg)
				if err != nil {
					b.Fatal(err)
				}
				cts[i] = ct
			}
			if err := bt.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			runBatched(b, biz.sig, biz.st, per, func(bt *Batch, i int) error {
				_, err := bt.Decrypt(ctx, peer.addr, cts[i])
				return err
			})
		})
	}
}

// BenchmarkX3DH is a first message to a new device: ProcessBundle, the
// first Encrypt, Flush.
func BenchmarkX3DH(b *testing.B) {
	ctx := context.Background()
	biz := newParty(b, memstore.New(), "biz")
	peer := newParty(b, memstore.New(), "peer")
	bundle := peer.bundle(0)
	msg := benchPlaintext()
	runBatched(b, biz.sig, biz.st, 1, func(bt *Batch, i int) error {
		addr := store.Address{Name: fmt.Sprintf("peer%d", i)}
		if _, err := bt.ProcessBundle(ctx, addr, bundle); err != nil {
			return err
		}
		_, err := bt.Encrypt(ctx, addr, msg)
		return err
	})
}
