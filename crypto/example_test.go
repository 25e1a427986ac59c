package crypto_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// side is one account with its own store.
type side struct {
	st     store.Store
	sig    *crypto.Signal
	bundle crypto.Bundle
}

func newSide(ctx context.Context) side {
	acct, spk, err := crypto.NewAccount(time.Now())
	if err != nil {
		log.Fatal(err)
	}
	pks, err := crypto.NewPreKeys(1, 10)
	if err != nil {
		log.Fatal(err)
	}
	st := memstore.New()
	if err := st.PutSignedPreKey(ctx, spk); err != nil {
		log.Fatal(err)
	}
	if err := st.PutPreKeys(ctx, pks); err != nil {
		log.Fatal(err)
	}
	sig, err := crypto.New(acct, crypto.Options{})
	if err != nil {
		log.Fatal(err)
	}
	// What the prekey service would hand out for this account.
	return side{st: st, sig: sig, bundle: crypto.LocalBundle(acct, spk, &pks[0])}
}

// Two accounts exchange one message: the business fetches the customer's
// bundle and encrypts, the customer decrypts. Each side works in a
// transaction of its own store.
func Example() {
	ctx := context.Background()
	business, customer := newSide(ctx), newSide(ctx)
	businessAddr := store.Address{Name: "15550001000"}
	customerAddr := store.Address{Name: "15550002000"}

	var ct crypto.Ciphertext
	err := business.st.InTx(ctx, func(tx store.Store) error {
		b := business.sig.Begin(tx)
		if _, err := b.ProcessBundle(ctx, customerAddr, customer.bundle); err != nil {
			return err
		}
		var err error
		if ct, err = b.Encrypt(ctx, customerAddr, []byte("Your order has shipped")); err != nil {
			return err
		}
		return b.Flush(ctx)
	})
	if err != nil {
		log.Fatal(err)
	}

	err = customer.st.InTx(ctx, func(tx store.Store) error {
		b := customer.sig.Begin(tx)
		d, err := b.Decrypt(ctx, businessAddr, ct)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %s\n", ct.Type, d.Plaintext)
		return b.Flush(ctx)
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: pkmsg: Your order has shipped
}
