package crypto

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mau.fi/libsignal/ecc"
	"go.mau.fi/libsignal/groups"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/state/record"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

func identityKey(pub []byte) *identity.Key {
	return identity.NewKey(ecc.NewDjbECPublicKey([32]byte(pub)))
}

func TestProtocolStoreIdentity(t *testing.T) {
	ctx := context.Background()
	p := newParty(t, memstore.New(), "me")
	ps := p.sig.ProtocolStore(p.st)
	if got := ps.GetIdentityKeyPair().PublicKey().PublicKey().PublicKey(); !bytes.Equal(got[:], p.acct.IdentityKey.Public) {
		t.Fatal("GetIdentityKeyPair: wrong public key")
	}
	if got := ps.GetIdentityKeyPair().PrivateKey().Serialize(); !bytes.Equal(got[:], p.acct.IdentityKey.Private) {
		t.Fatal("GetIdentityKeyPair: wrong private key")
	}
	if ps.GetLocalRegistrationID() != p.acct.RegistrationID {
		t.Fatal("GetLocalRegistrationID")
	}

	addr := protocol.NewSignalAddress("peer", 2)
	k1, _ := GenerateKeyPair()
	k2, _ := GenerateKeyPair()
	if err := ps.SaveIdentity(ctx, addr, identityKey(k1.Public)); err != nil {
		t.Fatal(err)
	}
	pi, err := p.st.GetPeerIdentity(ctx, toAddress(addr))
	if err != nil || !bytes.Equal(pi.Key, k1.Public) || !pi.Acknowledged {
		t.Fatalf("first identity: %+v, %v", pi, err)
	}
	if err := ps.SaveIdentity(ctx, addr, identityKey(k1.Public)); err != nil {
		t.Fatal(err)
	}
	if again, _ := p.st.GetPeerIdentity(ctx, toAddress(addr)); !again.CreatedAt.Equal(pi.CreatedAt) || !again.Acknowledged {
		t.Fatalf("same key rewrote the record: %+v", again)
	}
	if err := ps.SaveIdentity(ctx, addr, identityKey(k2.Public)); err != nil {
		t.Fatal(err)
	}
	pi, err = p.st.GetPeerIdentity(ctx, toAddress(addr))
	if err != nil || !bytes.Equal(pi.Key, k2.Public) || pi.Acknowledged {
		t.Fatalf("changed identity: %+v, %v", pi, err)
	}
	if ok, err := ps.IsTrustedIdentity(ctx, addr, identityKey(k1.Public)); !ok || err != nil {
		t.Fatalf("IsTrustedIdentity = %v, %v; want trust on change", ok, err)
	}
	if err := ps.SaveIdentity(ctx, addr, nil); err == nil {
		t.Fatal("SaveIdentity(nil) succeeded")
	}
}

func TestProtocolStorePreKeys(t *testing.T) {
	ctx := context.Background()
	p := newParty(t, memstore.New(), "me")
	ps := p.sig.ProtocolStore(p.st)
	pk := p.pks[0]

	rec, err := ps.LoadPreKey(ctx, pk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pub := rec.KeyPair().PublicKey().PublicKey(); rec.ID().Value != pk.ID || !bytes.Equal(pub[:], pk.Key.Public) {
		t.Fatal("LoadPreKey returned the wrong key")
	}
	_, err = ps.LoadPreKey(ctx, 999)
	if !errors.Is(err, signalerror.ErrNoOneTimeKeyFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadPreKey(missing) = %v", err)
	}
	if ok, err := ps.ContainsPreKey(ctx, pk.ID); !ok || err != nil {
		t.Fatalf("ContainsPreKey = %v, %v", ok, err)
	}
	if ok, err := ps.ContainsPreKey(ctx, 999); ok || err != nil {
		t.Fatalf("ContainsPreKey(missing) = %v, %v", ok, err)
	}

	// Store: new id, then replace an uploaded one.
	fresh, _ := GenerateKeyPair()
	kp, err := keyPairOf("test", fresh)
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.StorePreKey(ctx, 999, record.NewPreKey(999, kp, nil)); err != nil {
		t.Fatal(err)
	}
	if got, err := p.st.GetPreKey(ctx, 999); err != nil || !bytes.Equal(got.Key.Private, fresh.Private) {
		t.Fatalf("stored prekey: %+v, %v", got, err)
	}
	if err := p.st.MarkPreKeysUploaded(ctx, pk.ID); err != nil {
		t.Fatal(err)
	}
	if err := ps.StorePreKey(ctx, pk.ID, record.NewPreKey(pk.ID, kp, nil)); err != nil {
		t.Fatal(err)
	}
	got, err := p.st.GetPreKey(ctx, pk.ID)
	if err != nil || !bytes.Equal(got.Key.Public, fresh.Public) || got.Uploaded {
		t.Fatalf("replaced prekey: %+v, %v; want new key, not uploaded", got, err)
	}

	if err := ps.RemovePreKey(ctx, pk.ID); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ps.ContainsPreKey(ctx, pk.ID); ok {
		t.Fatal("prekey still there after RemovePreKey")
	}
	if err := ps.RemovePreKey(ctx, pk.ID); err != nil {
		t.Fatalf("removing an absent prekey: %v", err)
	}
}

func TestProtocolStoreSignedPreKeys(t *testing.T) {
	ctx := context.Background()
	p := newParty(t, memstore.New(), "me")
	ps := p.sig.ProtocolStore(p.st)

	rec, err := ps.LoadSignedPreKey(ctx, p.spk.ID)
	if err != nil {
		t.Fatal(err)
	}
	pub := rec.KeyPair().PublicKey().PublicKey()
	sig := rec.Signature()
	if rec.ID() != p.spk.ID || !bytes.Equal(pub[:], p.spk.Key.Public) || !bytes.Equal(sig[:], p.spk.Signature) ||
		rec.Timestamp() != p.spk.CreatedAt.UnixMilli() {
		t.Fatal("LoadSignedPreKey returned the wrong record")
	}
	if _, err := ps.LoadSignedPreKey(ctx, 7); !errors.Is(err, signalerror.ErrNoSignedPreKey) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("LoadSignedPreKey(missing) = %v", err)
	}

	spk2, err := NewSignedPreKey(p.acct.IdentityKey, 7, time.UnixMilli(1_700_000_000_000))
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := keyPairOf("test", spk2.Key)
	if err := ps.StoreSignedPreKey(ctx, 7, record.NewSignedPreKey(7, spk2.CreatedAt.UnixMilli(), kp, [64]byte(spk2.Signature), nil)); err != nil {
		t.Fatal(err)
	}
	got, err := p.st.GetSignedPreKey(ctx, 7)
	if err != nil || !bytes.Equal(got.Key.Private, spk2.Key.Private) || !bytes.Equal(got.Signature, spk2.Signature) || !got.CreatedAt.Equal(spk2.CreatedAt) {
		t.Fatalf("stored signed prekey %+v, %v", got, err)
	}
	all, err := ps.LoadSignedPreKeys(ctx)
	if err != nil || len(all) != 2 || all[0].ID() != p.spk.ID || all[1].ID() != 7 {
		t.Fatalf("LoadSignedPreKeys = %d records, %v", len(all), err)
	}
	if ok, err := ps.ContainsSignedPreKey(ctx, 7); !ok || err != nil {
		t.Fatalf("ContainsSignedPreKey = %v, %v", ok, err)
	}
	if err := ps.RemoveSignedPreKey(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if ok, err := ps.ContainsSignedPreKey(ctx, 7); ok || err != nil {
		t.Fatalf("ContainsSignedPreKey after remove = %v, %v", ok, err)
	}
	if err := ps.RemoveSignedPreKey(ctx, 7); err != nil {
		t.Fatalf("removing an absent signed prekey: %v", err)
	}
}

// TestProtocolStoreSessions drives a whole session through ProtocolStore
// with libsignal's own builder and cipher, then hands it to a Batch: both
// read and write the same record format.
func TestProtocolStoreSessions(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	ps := biz.sig.ProtocolStore(biz.st)
	addr := signalAddress(peer.addr)

	rec, err := ps.LoadSession(ctx, addr)
	if err != nil || !rec.IsFresh() {
		t.Fatalf("LoadSession(absent) = fresh %v, %v", rec != nil && rec.IsFresh(), err)
	}
	if ok, err := ps.ContainsSession(ctx, addr); ok || err != nil {
		t.Fatalf("ContainsSession(absent) = %v, %v", ok, err)
	}

	pb := libsignalBundle(peer.addr, peer.bundle(0))
	builder := session.NewBuilderFromSignal(ps, addr, biz.sig.ser)
	if err := builder.ProcessBundle(ctx, pb); err != nil {
		t.Fatal(err)
	}
	if ok, err := ps.ContainsSession(ctx, addr); !ok || err != nil {
		t.Fatalf("ContainsSession = %v, %v", ok, err)
	}
	msg, err := session.NewCipher(builder, addr).Encrypt(ctx, Pad([]byte("via ProtocolStore")))
	if err != nil {
		t.Fatal(err)
	}
	peer.decrypt(biz, Ciphertext{Type: TypePreKey, Data: msg.Serialize()}, "via ProtocolStore")
	// The Batch continues the session ProtocolStore stored.
	biz.decrypt(peer, peer.encrypt(biz, "to batch"), "to batch")

	// StoreSession/LoadSession round trip under another device.
	rec, err = ps.LoadSession(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	other := protocol.NewSignalAddress("peer", 5)
	if err := ps.StoreSession(ctx, other, rec); err != nil {
		t.Fatal(err)
	}
	got, err := ps.LoadSession(ctx, other)
	if err != nil || !bytes.Equal(got.Serialize(), rec.Serialize()) {
		t.Fatalf("LoadSession after StoreSession differs: %v", err)
	}
	if ids, err := ps.GetSubDeviceSessions(ctx, "peer"); err != nil || !slices.Equal(ids, []uint32{0, 5}) {
		t.Fatalf("GetSubDeviceSessions = %v, %v", ids, err)
	}
	if err := ps.DeleteSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := ps.DeleteSession(ctx, other); err != nil {
		t.Fatalf("deleting an absent session: %v", err)
	}
	if ids, _ := ps.GetSubDeviceSessions(ctx, "peer"); !slices.Equal(ids, []uint32{0}) {
		t.Fatalf("after DeleteSession: %v", ids)
	}
	if err := ps.DeleteAllSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := ps.ContainsSession(ctx, addr); ok {
		t.Fatal("session left after DeleteAllSessions")
	}
}

// TestProtocolStoreSenderKeys runs a group message through libsignal's
// group cipher with both sides' sender keys in ProtocolStores.
func TestProtocolStoreSenderKeys(t *testing.T) {
	ctx := context.Background()
	alice := newParty(t, memstore.New(), "alice")
	bob := newParty(t, memstore.New(), "bob")
	aps, bps := alice.sig.ProtocolStore(alice.st), bob.sig.ProtocolStore(bob.st)
	name := protocol.NewSenderKeyName("group@g.us", signalAddress(alice.addr))

	empty, err := aps.LoadSenderKey(ctx, name)
	if err != nil || !empty.IsEmpty() {
		t.Fatalf("LoadSenderKey(absent) = %v", err)
	}
	ab := groups.NewGroupSessionBuilder(aps, alice.sig.ser)
	skdm, err := ab.Create(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.st.GetSenderKey(ctx, name.GroupID(), name.Sender().String()); err != nil {
		t.Fatalf("Create stored no sender key: %v", err)
	}
	ct, err := groups.NewGroupCipher(ab, name, aps).Encrypt(ctx, []byte("to the group"))
	if err != nil {
		t.Fatal(err)
	}

	bb := groups.NewGroupSessionBuilder(bps, bob.sig.ser)
	dist, err := protocol.NewSenderKeyDistributionMessageFromBytes(skdm.Serialize(), bob.sig.ser.SenderKeyDistributionMessage)
	if err != nil {
		t.Fatal(err)
	}
	if err := bb.Process(ctx, name, dist); err != nil {
		t.Fatal(err)
	}
	skm, err := protocol.NewSenderKeyMessageFromBytes(ct.SignedSerialize(), bob.sig.ser.SenderKeyMessage)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := groups.NewGroupCipher(bb, name, bps).Decrypt(ctx, skm)
	if err != nil || string(pt) != "to the group" {
		t.Fatalf("group decrypt = %q, %v", pt, err)
	}

	// A damaged record is an error, not an empty key.
	if err := bob.st.PutSenderKey(ctx, name.GroupID(), name.Sender().String(), []byte("junk")); err != nil {
		t.Fatal(err)
	}
	if _, err := bps.LoadSenderKey(ctx, name); err == nil {
		t.Fatal("LoadSenderKey accepted a corrupt record")
	}
}

// TestViewDelegation covers the libsignal store methods of a Batch's view
// that the builder and cipher do not call today.
func TestViewDelegation(t *testing.T) {
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	connect(t, biz, peer)
	b := biz.sig.Begin(biz.st)
	v := &b.v

	// A prekey consumed within the operation is gone for the rest of it,
	// but stays in the store until the operation succeeds.
	id := biz.pks[1].ID
	if err := v.RemovePreKey(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ok, _ := v.ContainsPreKey(ctx, id); ok {
		t.Error("ContainsPreKey true for a prekey removed in this operation")
	}
	if _, err := v.LoadPreKey(ctx, id); !errors.Is(err, signalerror.ErrNoOneTimeKeyFound) {
		t.Errorf("LoadPreKey of a removed prekey: %v", err)
	}
	if _, err := biz.st.GetPreKey(ctx, id); err != nil {
		t.Errorf("prekey deleted before the operation finished: %v", err)
	}
	v.reset()

	kp, _ := keyPairOf("test", biz.pks[2].Key)
	if err := v.StorePreKey(ctx, 500, record.NewPreKey(500, kp, nil)); err != nil {
		t.Fatal(err)
	}
	if ok, err := v.ContainsPreKey(ctx, 500); !ok || err != nil {
		t.Errorf("ContainsPreKey(500) = %v, %v", ok, err)
	}
	spk, _ := v.LoadSignedPreKey(ctx, biz.spk.ID)
	if err := v.StoreSignedPreKey(ctx, 9, spk); err != nil {
		t.Fatal(err)
	}
	if all, err := v.LoadSignedPreKeys(ctx); err != nil || len(all) != 2 {
		t.Errorf("LoadSignedPreKeys = %d, %v", len(all), err)
	}
	if ok, err := v.ContainsSignedPreKey(ctx, 9); !ok || err != nil {
		t.Errorf("ContainsSignedPreKey(9) = %v, %v", ok, err)
	}
	if err := v.RemoveSignedPreKey(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if v.GetLocalRegistrationID() != biz.acct.RegistrationID || v.GetIdentityKeyPair() != biz.sig.identity {
		t.Error("view identity differs from the account")
	}

	a := signalAddress(peer.addr)
	if ids, err := v.GetSubDeviceSessions(ctx, "peer"); err != nil || !slices.Equal(ids, []uint32{0}) {
		t.Errorf("GetSubDeviceSessions = %v, %v", ids, err)
	}
	if err := v.DeleteSession(ctx, a); err != nil {
		t.Fatal(err)
	}
	if ok, _ := v.ContainsSession(ctx, a); ok {
		t.Error("session after view DeleteSession")
	}
	if _, err := b.ProcessBundle(ctx, peer.addr, peer.bundle(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Encrypt(ctx, peer.addr, []byte("cached")); err != nil {
		t.Fatal(err)
	}
	if err := v.DeleteAllSessions(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.HasSession(ctx, peer.addr); ok || err != nil {
		t.Errorf("HasSession after DeleteAllSessions = %v, %v", ok, err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if ids, _ := biz.st.SessionDevices(ctx, "peer"); len(ids) != 0 {
		t.Errorf("sessions left: %v", ids)
	}
}
