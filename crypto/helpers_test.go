package crypto

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
)

// forEachBackend runs fn against every store the behavioural tests cover.
func forEachBackend(t *testing.T, fn func(t *testing.T, open func(testing.TB) store.Store)) {
	backends := []struct {
		name string
		open func(t testing.TB) store.Store
	}{
		{"memstore", func(testing.TB) store.Store { return memstore.New() }},
		{"sqlite", func(t testing.TB) store.Store { return sqltest.Open(t, sqlstore.SQLite) }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) { fn(t, be.open) })
	}
}

// party is one side of a conversation: an account with its own store.
type party struct {
	tb   testing.TB
	st   store.Store
	acct store.Account
	spk  store.SignedPreKey
	pks  []store.PreKey
	sig  *Signal
	addr store.Address // how the other side addresses this party
}

const preKeysPerParty = 5

func newParty(tb testing.TB, st store.Store, name string) *party {
	tb.Helper()
	ctx := context.Background()
	acct, spk, err := NewAccount(time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	pks, err := NewPreKeys(1, preKeysPerParty)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.PutPreKeys(ctx, pks); err != nil {
		tb.Fatal(err)
	}
	if err := st.PutSignedPreKey(ctx, spk); err != nil {
		tb.Fatal(err)
	}
	sig, err := New(acct, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return &party{tb: tb, st: st, acct: acct, spk: spk, pks: pks, sig: sig, addr: store.Address{Name: name, DeviceID: 0}}
}

// bundle is p's published bundle with its i-th one-time prekey (i < 0: none).
func (p *party) bundle(i int) Bundle {
	if i < 0 {
		return LocalBundle(p.acct, p.spk, nil)
	}
	return LocalBundle(p.acct, p.spk, &p.pks[i])
}

// tx runs fn on a Batch inside one transaction of p's store and flushes it.
func (p *party) tx(fn func(b *Batch) error) error {
	ctx := context.Background()
	return p.st.InTx(ctx, func(tx store.Store) error {
		b := p.sig.Begin(tx)
		if err := fn(b); err != nil {
			return err
		}
		return b.Flush(ctx)
	})
}

func (p *party) processBundle(peer *party, preKey int) *IdentityChange {
	p.tb.Helper()
	var change *IdentityChange
	err := p.tx(func(b *Batch) error {
		var err error
		change, err = b.ProcessBundle(context.Background(), peer.addr, peer.bundle(preKey))
		return err
	})
	if err != nil {
		p.tb.Fatalf("ProcessBundle: %v", err)
	}
	return change
}

func (p *party) encrypt(to *party, msg string) Ciphertext {
	p.tb.Helper()
	var ct Ciphertext
	err := p.tx(func(b *Batch) error {
		var err error
		ct, err = b.Encrypt(context.Background(), to.addr, []byte(msg))
		return err
	})
	if err != nil {
		p.tb.Fatalf("Encrypt: %v", err)
	}
	return ct
}

// tryDecrypt decrypts in its own committed transaction.
func (p *party) tryDecrypt(from *party, ct Ciphertext) (Decrypted, error) {
	var d Decrypted
	err := p.tx(func(b *Batch) error {
		var err error
		d, err = b.Decrypt(context.Background(), from.addr, ct)
		return err
	})
	return d, err
}

// decryptAndCommit decrypts in a transaction that commits even when
// Decrypt fails, as a receiver does that drops a bad message and moves on:
// whatever a failed Decrypt wrote would stay.
func (p *party) decryptAndCommit(from *party, ct Ciphertext) (Decrypted, error) {
	var d Decrypted
	var derr error
	err := p.tx(func(b *Batch) error {
		d, derr = b.Decrypt(context.Background(), from.addr, ct)
		return nil
	})
	if err != nil {
		p.tb.Fatalf("commit after Decrypt: %v", err)
	}
	return d, derr
}

func (p *party) decrypt(from *party, ct Ciphertext, want string) Decrypted {
	p.tb.Helper()
	d, err := p.tryDecrypt(from, ct)
	if err != nil {
		p.tb.Fatalf("Decrypt: %v", err)
	}
	if string(d.Plaintext) != want {
		p.tb.Fatalf("Decrypt = %q, want %q", d.Plaintext, want)
	}
	return d
}

// connect sets up a session in both directions: a sends a pkmsg, b
// answers with a msg.
func connect(tb testing.TB, a, b *party) {
	tb.Helper()
	a.processBundle(b, 0)
	ct := a.encrypt(b, "hello")
	if ct.Type != TypePreKey {
		tb.Fatalf("first message type %q, want %q", ct.Type, TypePreKey)
	}
	b.decrypt(a, ct, "hello")
	ct = b.encrypt(a, "hi")
	if ct.Type != TypeMsg {
		tb.Fatalf("reply type %q, want %q", ct.Type, TypeMsg)
	}
	a.decrypt(b, ct, "hi")
}

func (p *party) sessionBytes(addr store.Address) []byte {
	p.tb.Helper()
	b, err := p.st.GetSession(context.Background(), addr)
	if err != nil {
		p.tb.Fatalf("GetSession(%s): %v", addr, err)
	}
	return b
}

func wantErr(tb testing.TB, err, target error) {
	tb.Helper()
	if !errors.Is(err, target) {
		tb.Fatalf("error %v, want %v", err, target)
	}
}

// countingStore counts session reads and writes and can fail chosen calls.
type countingStore struct {
	store.Store
	gets, puts, identityGets int
	failGetDecrypted         error
	failPutDecrypted         error
	failGetSession           error
	failPutPeerIdentity      error
}

func (c *countingStore) GetSession(ctx context.Context, a store.Address) ([]byte, error) {
	c.gets++
	if c.failGetSession != nil {
		return nil, c.failGetSession
	}
	return c.Store.GetSession(ctx, a)
}

func (c *countingStore) PutSessions(ctx context.Context, s []store.Session) error {
	c.puts++
	return c.Store.PutSessions(ctx, s)
}

func (c *countingStore) GetPeerIdentity(ctx context.Context, a store.Address) (store.PeerIdentity, error) {
	c.identityGets++
	return c.Store.GetPeerIdentity(ctx, a)
}

func (c *countingStore) PutPeerIdentity(ctx context.Context, p store.PeerIdentity) error {
	if c.failPutPeerIdentity != nil {
		return c.failPutPeerIdentity
	}
	return c.Store.PutPeerIdentity(ctx, p)
}

func (c *countingStore) GetDecrypted(ctx context.Context, h []byte) ([]byte, error) {
	if c.failGetDecrypted != nil {
		return nil, c.failGetDecrypted
	}
	return c.Store.GetDecrypted(ctx, h)
}

func (c *countingStore) PutDecrypted(ctx context.Context, h, pt []byte, at time.Time) error {
	if c.failPutDecrypted != nil {
		return c.failPutDecrypted
	}
	return c.Store.PutDecrypted(ctx, h, pt, at)
}

func msgN(i int) string { return fmt.Sprintf("message %d", i) }
