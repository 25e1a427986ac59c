package crypto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mau.fi/libsignal/session"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

func flipLast(ct Ciphertext) Ciphertext {
	d := bytes.Clone(ct.Data)
	d[len(d)-1] ^= 1
	return Ciphertext{Type: ct.Type, Data: d}
}

// corruptPreKeyMAC returns the pkmsg with the MAC of its embedded message
// broken: it parses and sets up a session fine and fails only at the MAC.
func corruptPreKeyMAC(t testing.TB, s *Signal, ct Ciphertext) Ciphertext {
	t.Helper()
	st, err := s.ser.PreKeySignalMessage.Deserialize(ct.Data)
	if err != nil {
		t.Fatal(err)
	}
	st.Message = bytes.Clone(st.Message)
	st.Message[len(st.Message)-1] ^= 1
	st.Version = 3
	return Ciphertext{Type: TypePreKey, Data: s.ser.PreKeySignalMessage.Serialize(st)}
}

func TestConversation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")

		if c := biz.processBundle(peer, 0); c != nil {
			t.Fatalf("first bundle reported identity change %+v", c)
		}
		pi, err := biz.st.GetPeerIdentity(ctx, peer.addr)
		if err != nil || !bytes.Equal(pi.Key, peer.acct.IdentityKey.Public) || !pi.Acknowledged {
			t.Fatalf("peer identity after first bundle = %+v, %v; want acknowledged peer key", pi, err)
		}

		// Until the peer answers, every message carries the prekey header.
		ct0 := biz.encrypt(peer, "m0")
		ct1 := biz.encrypt(peer, "m1")
		if ct0.Type != TypePreKey || ct1.Type != TypePreKey {
			t.Fatalf("types %q %q, want pkmsg twice", ct0.Type, ct1.Type)
		}
		if d := peer.decrypt(biz, ct0, "m0"); d.Replay || d.IdentityChange != nil {
			t.Fatalf("first pkmsg: %+v", d)
		}
		peer.decrypt(biz, ct1, "m1")
		if _, err := peer.st.GetPreKey(ctx, peer.pks[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consumed one-time prekey still there: %v", err)
		}
		if _, err := peer.st.GetPreKey(ctx, peer.pks[1].ID); err != nil {
			t.Fatalf("unconsumed prekey gone: %v", err)
		}
		pi, err = peer.st.GetPeerIdentity(ctx, biz.addr)
		if err != nil || !bytes.Equal(pi.Key, biz.acct.IdentityKey.Public) || !pi.Acknowledged {
			t.Fatalf("biz identity at peer = %+v, %v", pi, err)
		}

		ct := peer.encrypt(biz, "r0")
		if ct.Type != TypeMsg {
			t.Fatalf("reply type %q", ct.Type)
		}
		biz.decrypt(peer, ct, "r0")
		if ct := biz.encrypt(peer, "m2"); ct.Type != TypeMsg {
			t.Fatalf("after reply biz sends %q, want msg", ct.Type)
		} else {
			peer.decrypt(biz, ct, "m2")
		}

		// Many messages, bursts in random directions.
		rng := rand.New(rand.NewPCG(1, 2))
		n := 0
		for range 40 {
			from, to := biz, peer
			if rng.IntN(2) == 0 {
				from, to = peer, biz
			}
			for range 1 + rng.IntN(4) {
				n++
				ct := from.encrypt(to, msgN(n))
				if ct.Type != TypeMsg {
					t.Fatalf("message %d type %q", n, ct.Type)
				}
				to.decrypt(from, ct, msgN(n))
			}
		}
	})
}

func TestOutOfOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		connect(t, biz, peer)

		// Two sending chains of biz, separated by a ratchet step, delivered
		// newest chain first and each chain shuffled.
		var first, second []Ciphertext
		for i := range 10 {
			first = append(first, biz.encrypt(peer, msgN(i)))
		}
		biz.decrypt(peer, peer.encrypt(biz, "step"), "step")
		for i := range 10 {
			second = append(second, biz.encrypt(peer, msgN(100+i)))
		}
		rng := rand.New(rand.NewPCG(3, 4))
		for _, i := range rng.Perm(10) {
			peer.decrypt(biz, second[i], msgN(100+i))
		}
		for _, i := range rng.Perm(10) {
			peer.decrypt(biz, first[i], msgN(i))
		}
	})
}

func TestTooFarInFuture(t *testing.T) {
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	connect(t, biz, peer)
	var cts []Ciphertext
	err := biz.tx(func(b *Batch) error {
		for i := range 2002 {
			ct, err := b.Encrypt(context.Background(), peer.addr, []byte(msgN(i)))
			if err != nil {
				return err
			}
			cts = append(cts, ct)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = peer.tryDecrypt(biz, cts[2001])
	wantErr(t, err, ErrDecrypt)
	peer.decrypt(biz, cts[0], msgN(0))
	peer.decrypt(biz, cts[2000], msgN(2000))
}

func TestExactlyOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		biz.processBundle(peer, 0)
		pk := biz.encrypt(peer, "first")
		peer.decrypt(biz, pk, "first")
		if d := peer.decrypt(biz, pk, "first"); !d.Replay {
			t.Fatal("redelivered pkmsg not answered from the buffer")
		}

		ct := biz.encrypt(peer, "second")
		if d := peer.decrypt(biz, ct, "second"); d.Replay {
			t.Fatal("first delivery marked Replay")
		}
		if d := peer.decrypt(biz, ct, "second"); !d.Replay {
			t.Fatal("redelivery not marked Replay")
		}

		// Twice within one Batch: the buffer write is visible to the second.
		ct = biz.encrypt(peer, "third")
		err := peer.tx(func(b *Batch) error {
			d1, err := b.Decrypt(ctx, biz.addr, ct)
			if err != nil {
				return err
			}
			d2, err := b.Decrypt(ctx, biz.addr, ct)
			if err != nil {
				return err
			}
			if d1.Replay || !d2.Replay || string(d2.Plaintext) != "third" {
				t.Errorf("same batch: %+v then %+v", d1, d2)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The ratchet still moves on.
		peer.decrypt(biz, biz.encrypt(peer, "fourth"), "fourth")
		biz.decrypt(peer, peer.encrypt(biz, "back"), "back")
	})
}

func TestRollbackKeepsRatchet(t *testing.T) {
	errCrash := errors.New("crash before commit")
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		biz.processBundle(peer, 0)
		pk := biz.encrypt(peer, "hello")

		crash := func(p, from *party, ct Ciphertext, want string) {
			t.Helper()
			err := p.tx(func(b *Batch) error {
				d, err := b.Decrypt(ctx, from.addr, ct)
				if err != nil {
					return err
				}
				if string(d.Plaintext) != want {
					t.Errorf("plaintext %q", d.Plaintext)
				}
				if err := b.Flush(ctx); err != nil {
					return err
				}
				return errCrash
			})
			wantErr(t, err, errCrash)
		}

		crash(peer, biz, pk, "hello")
		if _, err := peer.st.GetPreKey(ctx, peer.pks[0].ID); err != nil {
			t.Fatalf("prekey lost with the rolled-back transaction: %v", err)
		}
		if _, err := peer.st.GetSession(ctx, biz.addr); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session survived rollback: %v", err)
		}
		if d := peer.decrypt(biz, pk, "hello"); d.Replay {
			t.Fatal("redelivery after rollback is a Replay")
		}

		ct := peer.encrypt(biz, "reply")
		crash(biz, peer, ct, "reply")
		if d := biz.decrypt(peer, ct, "reply"); d.Replay {
			t.Fatal("redelivery after rollback is a Replay")
		}
		peer.decrypt(biz, biz.encrypt(peer, "on"), "on")
	})
}

func TestBadMessageLeavesSessionIntact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		connect(t, biz, peer)

		// biz's next message starts a new chain for peer: libsignal derives
		// it (changing the record) before it checks the MAC.
		good := biz.encrypt(peer, "good")
		before := peer.sessionBytes(biz.addr)
		truncated := Ciphertext{Type: good.Type, Data: good.Data[:len(good.Data)-3]}
		body := Ciphertext{Type: good.Type, Data: bytes.Clone(good.Data)}
		body.Data[len(body.Data)/2] ^= 0x40
		for _, bad := range []Ciphertext{flipLast(good), truncated, body} {
			_, err := peer.decryptAndCommit(biz, bad)
			wantErr(t, err, ErrDecrypt)
			if !bytes.Equal(peer.sessionBytes(biz.addr), before) {
				t.Fatal("failed decrypt changed the stored session")
			}
		}
		peer.decrypt(biz, good, "good")

		// Within one Batch, after the record has changed in it (the
		// in-memory snapshot path rather than the stored bytes).
		g1 := biz.encrypt(peer, "g1")
		g2 := biz.encrypt(peer, "g2")
		err := peer.tx(func(b *Batch) error {
			if _, err := b.Decrypt(ctx, biz.addr, g1); err != nil {
				return err
			}
			if _, err := b.Decrypt(ctx, biz.addr, flipLast(g2)); !errors.Is(err, ErrDecrypt) {
				t.Errorf("bad MAC in batch: %v", err)
			}
			d, err := b.Decrypt(ctx, biz.addr, g2)
			if err == nil && string(d.Plaintext) != "g2" {
				t.Errorf("plaintext %q", d.Plaintext)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}

		// A new chain arriving on a record changed earlier in the Batch.
		p1 := peer.encrypt(biz, "p1")
		err = biz.tx(func(b *Batch) error {
			if _, err := b.Encrypt(ctx, peer.addr, []byte("unsent")); err != nil {
				return err
			}
			if _, err := b.Decrypt(ctx, peer.addr, flipLast(p1)); !errors.Is(err, ErrDecrypt) {
				t.Errorf("bad MAC on new chain: %v", err)
			}
			d, err := b.Decrypt(ctx, peer.addr, p1)
			if err == nil && string(d.Plaintext) != "p1" {
				t.Errorf("plaintext %q", d.Plaintext)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		peer.decrypt(biz, biz.encrypt(peer, "after"), "after")
	})
}

func TestBadPreKeyMessageLeavesNoTrace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		biz.processBundle(peer, 0)
		pk := biz.encrypt(peer, "hello")

		// It passes X3DH (loading the prekey, seeing the identity) and
		// fails at the MAC: neither the identity nor the prekey removal
		// may be applied.
		_, err := peer.decryptAndCommit(biz, corruptPreKeyMAC(t, peer.sig, pk))
		wantErr(t, err, ErrDecrypt)
		if _, err := peer.st.GetPeerIdentity(ctx, biz.addr); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("identity recorded by a failed pkmsg: %v", err)
		}
		if _, err := peer.st.GetPreKey(ctx, peer.pks[0].ID); err != nil {
			t.Fatalf("prekey removed by a failed pkmsg: %v", err)
		}
		if _, err := peer.st.GetSession(ctx, biz.addr); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("session created by a failed pkmsg: %v", err)
		}
		peer.decrypt(biz, pk, "hello")
	})
}

func TestUnknownPreKey(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	biz.processBundle(peer, 0)
	pk := biz.encrypt(peer, "hello")
	if err := peer.st.DeletePreKey(ctx, peer.pks[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err := peer.decryptAndCommit(biz, pk)
	wantErr(t, err, ErrDecrypt)
	err = peer.tx(func(b *Batch) error {
		ok, err := b.HasSession(ctx, biz.addr)
		if ok {
			t.Error("session left by a pkmsg with an unknown prekey")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBundleWithoutOneTimePreKey(t *testing.T) {
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	biz.processBundle(peer, -1)
	peer.decrypt(biz, biz.encrypt(peer, "no otk"), "no otk")
	n, _, err := peer.st.CountPreKeys(context.Background())
	if err != nil || n != preKeysPerParty {
		t.Fatalf("prekeys %d, %v; want all %d kept", n, err, preKeysPerParty)
	}
	biz.decrypt(peer, peer.encrypt(biz, "back"), "back")
}

func TestDuplicateWithoutBuffer(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	connect(t, biz, peer)
	ct := biz.encrypt(peer, "once")
	peer.decrypt(biz, ct, "once")
	if _, err := peer.st.PruneDecrypted(ctx, time.Now().Add(time.Hour), 1000); err != nil {
		t.Fatal(err)
	}
	_, err := peer.tryDecrypt(biz, ct)
	wantErr(t, err, ErrDuplicate)
	peer.decrypt(biz, biz.encrypt(peer, "twice"), "twice")
}

func TestIdentityChangeOnDecrypt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		connect(t, biz, peer)

		// The peer reinstalls: new keys, same address.
		peer2 := newParty(t, open(t), "peer")
		peer2.processBundle(biz, 0)
		pk := peer2.encrypt(biz, "new phone")
		before := time.Now()
		d := biz.decrypt(peer2, pk, "new phone")
		c := d.IdentityChange
		if c == nil || c.Address != peer.addr ||
			!bytes.Equal(c.Old, peer.acct.IdentityKey.Public) || !bytes.Equal(c.New, peer2.acct.IdentityKey.Public) {
			t.Fatalf("IdentityChange = %+v", c)
		}
		pi, err := biz.st.GetPeerIdentity(ctx, peer.addr)
		if err != nil || !bytes.Equal(pi.Key, peer2.acct.IdentityKey.Public) || pi.Acknowledged || pi.CreatedAt.Before(before.Add(-time.Second)) {
			t.Fatalf("recorded identity %+v, %v; want new key, unacknowledged, now", pi, err)
		}
		if _, err := biz.st.GetPreKey(ctx, biz.pks[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("biz prekey not consumed: %v", err)
		}
		// A second pkmsg under the same new key is no further change.
		if d := biz.decrypt(peer2, peer2.encrypt(biz, "again"), "again"); d.IdentityChange != nil {
			t.Fatalf("repeated change %+v", d.IdentityChange)
		}
		peer2.decrypt(biz, biz.encrypt(peer2, "welcome back"), "welcome back")
	})
}

func TestIdentityChangeOnBundle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		ctx := context.Background()
		biz := newParty(t, open(t), "biz")
		peer := newParty(t, open(t), "peer")
		if c := biz.processBundle(peer, 0); c != nil {
			t.Fatalf("first bundle: %+v", c)
		}
		peer2 := newParty(t, open(t), "peer")
		c := biz.processBundle(peer2, 0)
		if c == nil || !bytes.Equal(c.Old, peer.acct.IdentityKey.Public) || !bytes.Equal(c.New, peer2.acct.IdentityKey.Public) {
			t.Fatalf("IdentityChange = %+v", c)
		}
		if c := biz.processBundle(peer2, 1); c != nil {
			t.Fatalf("same new key again: %+v", c)
		}
		pi, err := biz.st.GetPeerIdentity(ctx, peer.addr)
		if err != nil || !bytes.Equal(pi.Key, peer2.acct.IdentityKey.Public) || pi.Acknowledged {
			t.Fatalf("recorded identity %+v, %v; want new key, unacknowledged", pi, err)
		}
		peer2.decrypt(biz, biz.encrypt(peer2, "hi"), "hi")
	})
}

func TestProcessBundleRejects(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	good := peer.bundle(0)
	mutate := map[string]func(b *Bundle){
		"signature":     func(b *Bundle) { b.Signature = bytes.Clone(b.Signature); b.Signature[5] ^= 1 },
		"signed prekey": func(b *Bundle) { b.SignedPreKey = bytes.Clone(b.SignedPreKey); b.SignedPreKey[0] ^= 1 },
		"other signer":  func(b *Bundle) { b.Identity = biz.acct.IdentityKey.Public },
		"short key":     func(b *Bundle) { b.Identity = b.Identity[:31] },
		"zero identity": func(b *Bundle) { b.Identity = make([]byte, 32) },
		"prekey len":    func(b *Bundle) { b.PreKey = b.PreKey[:16] },
		"prekey id 0":   func(b *Bundle) { b.PreKeyID = 0 },
	}
	for name, m := range mutate {
		bad := good
		m(&bad)
		err := biz.tx(func(b *Batch) error {
			_, err := b.ProcessBundle(ctx, peer.addr, bad)
			return err
		})
		if !errors.Is(err, ErrInvalidBundle) {
			t.Errorf("%s: error %v, want ErrInvalidBundle", name, err)
		}
	}
	if _, err := biz.st.GetSession(ctx, peer.addr); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejected bundle left a session: %v", err)
	}
	if _, err := biz.st.GetPeerIdentity(ctx, peer.addr); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rejected bundle left an identity: %v", err)
	}
}

func TestNoSession(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	other := newParty(t, memstore.New(), "other")
	connect(t, other, peer)
	msg := other.encrypt(peer, "for peer")

	err := biz.tx(func(b *Batch) error {
		if ok, err := b.HasSession(ctx, peer.addr); ok || err != nil {
			t.Errorf("HasSession = %v, %v", ok, err)
		}
		_, err := b.Encrypt(ctx, peer.addr, []byte("x"))
		wantErr(t, err, ErrNoSession)
		_, err = b.Decrypt(ctx, peer.addr, msg)
		wantErr(t, err, ErrNoSession)
		_, err = b.Decrypt(ctx, peer.addr, Ciphertext{Type: "skmsg", Data: msg.Data})
		wantErr(t, err, ErrDecrypt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBatchCaching(t *testing.T) {
	ctx := context.Background()
	bizStore := &countingStore{Store: memstore.New()}
	peerStore := &countingStore{Store: memstore.New()}
	biz := newParty(t, bizStore, "biz")
	peer := newParty(t, peerStore, "peer")
	connect(t, biz, peer)

	const n = 100
	*bizStore = countingStore{Store: bizStore.Store}
	b := biz.sig.Begin(bizStore)
	var cts []Ciphertext
	for i := range n {
		ct, err := b.Encrypt(ctx, peer.addr, []byte(msgN(i)))
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	if bizStore.gets != 1 || bizStore.puts != 0 || bizStore.identityGets > 1 {
		t.Fatalf("before Flush: %d gets, %d puts, %d identity gets; want 1, 0, <=1", bizStore.gets, bizStore.puts, bizStore.identityGets)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if bizStore.puts != 1 {
		t.Fatalf("%d PutSessions for %d messages and two Flushes, want 1", bizStore.puts, n)
	}

	*peerStore = countingStore{Store: peerStore.Store}
	pb := peer.sig.Begin(peerStore)
	for i, ct := range cts {
		d, err := pb.Decrypt(ctx, biz.addr, ct)
		if err != nil || string(d.Plaintext) != msgN(i) {
			t.Fatalf("decrypt %d: %q, %v", i, d.Plaintext, err)
		}
	}
	if err := pb.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if peerStore.gets != 1 || peerStore.puts != 1 {
		t.Fatalf("decrypting %d: %d gets, %d puts; want 1 and 1", n, peerStore.gets, peerStore.puts)
	}
	// What was flushed is what the next Batch continues from.
	biz.decrypt(peer, peer.encrypt(biz, "ack"), "ack")
}

func TestStoreErrorsPassThrough(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	cs := &countingStore{Store: memstore.New()}
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, cs, "peer")
	connect(t, biz, peer)
	ct := biz.encrypt(peer, "x")

	notOurs := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, errBoom) || errors.Is(err, ErrDecrypt) || errors.Is(err, ErrNoSession) || errors.Is(err, ErrDuplicate) {
			t.Fatalf("error %v: want the store's error unclassified", err)
		}
	}
	t.Run("GetDecrypted", func(t *testing.T) {
		cs.failGetDecrypted = errBoom
		defer func() { cs.failGetDecrypted = nil }()
		_, err := peer.sig.Begin(cs).Decrypt(ctx, biz.addr, ct)
		notOurs(t, err)
	})
	t.Run("GetSession", func(t *testing.T) {
		cs.failGetSession = errBoom
		defer func() { cs.failGetSession = nil }()
		b := peer.sig.Begin(cs)
		_, err := b.Decrypt(ctx, biz.addr, ct)
		notOurs(t, err)
		_, err = b.Encrypt(ctx, biz.addr, []byte("y"))
		notOurs(t, err)
		_, err = b.HasSession(ctx, biz.addr)
		notOurs(t, err)
	})
	t.Run("PutDecrypted", func(t *testing.T) {
		cs.failPutDecrypted = errBoom
		defer func() { cs.failPutDecrypted = nil }()
		b := peer.sig.Begin(cs)
		_, err := b.Decrypt(ctx, biz.addr, ct)
		notOurs(t, err)
		// The ratchet moved in memory but the buffer write failed: the
		// Batch refuses to go on, so nothing half-done can be flushed.
		_, err = b.Encrypt(ctx, biz.addr, []byte("y"))
		notOurs(t, err)
		notOurs(t, b.Flush(ctx))
	})
	t.Run("PutPeerIdentity", func(t *testing.T) {
		cs.failPutPeerIdentity = errBoom
		defer func() { cs.failPutPeerIdentity = nil }()
		other := newParty(t, memstore.New(), "other")
		b := peer.sig.Begin(cs)
		_, err := b.ProcessBundle(ctx, other.addr, other.bundle(0))
		notOurs(t, err)
		notOurs(t, b.Flush(ctx))
	})
	// Nothing above was flushed: the session still takes the message.
	peer.decrypt(biz, ct, "x")
}

func TestDeleteSession(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	connect(t, biz, peer)
	err := biz.tx(func(b *Batch) error {
		if _, err := b.Encrypt(ctx, peer.addr, []byte("unflushed")); err != nil {
			return err
		}
		if err := b.DeleteSession(ctx, peer.addr); err != nil {
			return err
		}
		if ok, err := b.HasSession(ctx, peer.addr); ok || err != nil {
			t.Errorf("HasSession after delete = %v, %v", ok, err)
		}
		_, err := b.Encrypt(ctx, peer.addr, []byte("x"))
		wantErr(t, err, ErrNoSession)
		// Deleting what is not there is no error.
		return b.DeleteSession(ctx, store.Address{Name: "nobody"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := biz.st.GetSession(ctx, peer.addr); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session after delete: %v", err)
	}
	if _, err := biz.st.GetPeerIdentity(ctx, peer.addr); err != nil {
		t.Fatalf("identity lost with the session: %v", err)
	}
	// A new bundle starts over.
	biz.processBundle(peer, 1)
	peer.decrypt(biz, biz.encrypt(peer, "again"), "again")
}

func TestSessionDevices(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	phone := newParty(t, memstore.New(), "peer")
	laptop := newParty(t, memstore.New(), "peer")
	laptop.addr.DeviceID = 3
	biz.processBundle(phone, 0)
	err := biz.tx(func(b *Batch) error {
		if _, err := b.ProcessBundle(ctx, laptop.addr, laptop.bundle(0)); err != nil {
			return err
		}
		ids, err := b.SessionDevices(ctx, "peer")
		if err != nil || !slices.Equal(ids, []uint32{0, 3}) {
			t.Errorf("devices = %v, %v; want [0 3]", ids, err)
		}
		if err := b.DeleteSession(ctx, phone.addr); err != nil {
			return err
		}
		ids, err = b.SessionDevices(ctx, "peer")
		if err != nil || !slices.Equal(ids, []uint32{3}) {
			t.Errorf("devices after delete = %v, %v; want [3]", ids, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := biz.st.SessionDevices(ctx, "peer"); err != nil || !slices.Equal(ids, []uint32{3}) {
		t.Fatalf("stored devices = %v, %v", ids, err)
	}
}

func TestSimultaneousInitiation(t *testing.T) {
	a := newParty(t, memstore.New(), "a")
	b := newParty(t, memstore.New(), "b")
	a.processBundle(b, 0)
	b.processBundle(a, 0)
	fromA := a.encrypt(b, "a1")
	fromB := b.encrypt(a, "b1")
	b.decrypt(a, fromA, "a1")
	a.decrypt(b, fromB, "b1")
	for i := range 5 {
		b.decrypt(a, a.encrypt(b, msgN(i)), msgN(i))
		a.decrypt(b, b.encrypt(a, msgN(i)), msgN(i))
	}
}

// Two bundles for one peer in one Batch: the first session must be
// archived, not overwritten, so an answer on it still decrypts.
func TestSecondBundleInBatchArchivesFirst(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	var ct1 Ciphertext
	err := biz.tx(func(b *Batch) error {
		if _, err := b.ProcessBundle(ctx, peer.addr, peer.bundle(0)); err != nil {
			return err
		}
		var err error
		if ct1, err = b.Encrypt(ctx, peer.addr, []byte("one")); err != nil {
			return err
		}
		_, err = b.ProcessBundle(ctx, peer.addr, peer.bundle(1))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	peer.decrypt(biz, ct1, "one")
	biz.decrypt(peer, peer.encrypt(biz, "answer on the first"), "answer on the first")
}

func TestCorruptStoredSession(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	for _, rec := range []string{"x", "null", "{}", `{"SessionState":{}}`, `{"SessionState":null,"PreviousStates":[null]}`} {
		if err := biz.st.PutSessions(ctx, []store.Session{{Address: peer.addr, Record: []byte(rec)}}); err != nil {
			t.Fatal(err)
		}
		b := biz.sig.Begin(biz.st)
		if _, err := b.HasSession(ctx, peer.addr); err == nil || errors.Is(err, ErrNoSession) {
			t.Errorf("record %q: HasSession error %v, want a store error", rec, err)
		}
		if _, err := biz.sig.ProtocolStore(biz.st).LoadSession(ctx, signalAddress(peer.addr)); err == nil {
			t.Errorf("record %q: ProtocolStore.LoadSession succeeded", rec)
		}
	}
}

// sendRaw encrypts plaintext from p to to without padding, as a broken or
// hostile client might.
func (p *party) sendRaw(to *party, plaintext []byte) Ciphertext {
	p.tb.Helper()
	var ct Ciphertext
	err := p.tx(func(b *Batch) error {
		a := signalAddress(to.addr)
		m, err := session.NewCipher(b.builder(a), a).Encrypt(context.Background(), plaintext)
		if err != nil {
			return err
		}
		ct = Ciphertext{Type: TypeMsg, Data: m.Serialize()}
		return nil
	})
	if err != nil {
		p.tb.Fatal(err)
	}
	return ct
}

func TestBadPaddingLeavesSessionIntact(t *testing.T) {
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	connect(t, biz, peer)
	for _, pt := range [][]byte{{1, 2, 3, 0}, {1, 2, 9}, {}} {
		bad := peer.sendRaw(biz, pt)
		_, err := biz.decryptAndCommit(peer, bad)
		wantErr(t, err, ErrDecrypt)
		// Rolled back, so it fails the same way again rather than as a
		// duplicate of a counter already used.
		_, err = biz.decryptAndCommit(peer, bad)
		wantErr(t, err, ErrDecrypt)
		biz.decrypt(peer, peer.encrypt(biz, "fine"), "fine")
	}
}

func TestBufferKey(t *testing.T) {
	from := store.Address{Name: "biz", DeviceID: 7}
	want := sha256.Sum256([]byte("msg\x00\x00\x00\x00\x05biz:7\x01\x02\x03"))
	if got := bufferKey(from, TypeMsg, []byte{1, 2, 3}); got != want {
		t.Fatalf("bufferKey = %x, want %x", got, want)
	}
	if bufferKey(from, TypePreKey, []byte{1, 2, 3}) == want {
		t.Fatal("type not part of the key")
	}
	if bufferKey(store.Address{Name: "biz", DeviceID: 8}, TypeMsg, []byte{1, 2, 3}) == want {
		t.Fatal("sender not part of the key")
	}
}

// Re-encoded copies of a message decrypt under libsignal's MAC check; a
// redelivery in another encoding must be answered from the buffer too.
func TestReplayOfReencodedMessage(t *testing.T) {
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	biz.processBundle(peer, 0)
	pk := biz.encrypt(peer, "pk")
	peer.decrypt(biz, pk, "pk")
	ct := biz.encrypt(peer, "once")
	peer.decrypt(biz, ct, "once")

	// The version byte's low nibble is ignored by the parser.
	re := Ciphertext{Type: ct.Type, Data: bytes.Clone(ct.Data)}
	re.Data[0] = 0x30
	// A pkmsg header field outside the MAC, changed.
	st, err := peer.sig.ser.PreKeySignalMessage.Deserialize(pk.Data)
	if err != nil {
		t.Fatal(err)
	}
	st.RegistrationID++
	rePK := Ciphertext{Type: TypePreKey, Data: peer.sig.ser.PreKeySignalMessage.Serialize(st)}
	for want, c := range map[string]Ciphertext{"once": re, "pk": rePK} {
		if bytes.Equal(c.Data, ct.Data) || bytes.Equal(c.Data, pk.Data) {
			t.Fatal("re-encoding produced the same bytes")
		}
		if d := peer.decrypt(biz, c, want); !d.Replay {
			t.Fatalf("re-encoded %q not answered from the buffer", want)
		}
	}
}

// A ciphertext re-delivered under another sender's address must not be
// answered from the buffer as that sender's message.
func TestReplayBoundToSender(t *testing.T) {
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	impostor := newParty(t, memstore.New(), "impostor")
	connect(t, biz, peer)
	ct := biz.encrypt(peer, "from biz")
	peer.decrypt(biz, ct, "from biz")
	d, err := peer.tryDecrypt(impostor, ct)
	if err == nil || d.Replay {
		t.Fatalf("replay under another address: %+v, %v", d, err)
	}
	wantErr(t, err, ErrNoSession)
}
