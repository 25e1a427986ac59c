package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/waent/waent/store"
)

func testSignal(t *testing.T, s store.Store) {
	t.Run("PreKeys", func(t *testing.T) { testPreKeys(t, s) })
	t.Run("SignedPreKeys", func(t *testing.T) { testSignedPreKeys(t, s) })
	t.Run("Sessions", func(t *testing.T) { testSessions(t, s) })
	t.Run("PeerIdentities", func(t *testing.T) { testPeerIdentities(t, s) })
	t.Run("SenderKeys", func(t *testing.T) { testSenderKeys(t, s) })
	t.Run("DecryptBuffer", func(t *testing.T) { testDecryptBuffer(t, s) })
}

func preKey(id uint32) store.PreKey {
	return store.PreKey{ID: id, Key: keyPair(byte(id*3 + id>>16))}
}

func preKeys(ids ...uint32) []store.PreKey {
	out := make([]store.PreKey, len(ids))
	for i, id := range ids {
		out[i] = preKey(id)
	}
	return out
}

func uploaded(ks []store.PreKey) []store.PreKey {
	out := make([]store.PreKey, len(ks))
	for i, k := range ks {
		k.Uploaded = true
		out[i] = k
	}
	return out
}

func testPreKeys(t *testing.T, s store.Store) {
	ctx := t.Context()

	checkCounts := func(what string, wantTotal, wantUploaded int) {
		t.Helper()
		total, up, err := s.CountPreKeys(ctx)
		if ok(t, "CountPreKeys "+what, err) && (total != wantTotal || up != wantUploaded) {
			t.Errorf("CountPreKeys %s = %d total, %d uploaded; want %d, %d", what, total, up, wantTotal, wantUploaded)
		}
	}
	checkLast := func(what string, want uint32) {
		t.Helper()
		last, err := s.LastPreKeyID(ctx)
		if ok(t, "LastPreKeyID "+what, err) && last != want {
			t.Errorf("LastPreKeyID %s = %d, want %d", what, last, want)
		}
	}
	checkToUpload := func(what string, limit int, want []store.PreKey) {
		t.Helper()
		got, err := s.PreKeysToUpload(ctx, limit)
		if ok(t, "PreKeysToUpload "+what, err) {
			equal(t, "PreKeysToUpload "+what, got, want)
		}
	}
	checkAbsent := func(what string, ids ...uint32) {
		t.Helper()
		for _, id := range ids {
			_, err := s.GetPreKey(ctx, id)
			isErr(t, what+": GetPreKey of an id that must not be stored", err, store.ErrNotFound)
		}
	}

	// Empty.
	checkLast("when empty", 0)
	checkCounts("when empty", 0, 0)
	checkToUpload("when empty", 10, nil)
	checkAbsent("when empty", 1)

	// Invalid batches write nothing.
	bad := preKeys(1, 2)
	bad[1].ID = 0
	isErr(t, "PutPreKeys with id 0", s.PutPreKeys(ctx, bad), store.ErrInvalid)
	bad = preKeys(1, 2)
	bad[1].ID = store.MaxKeyID
	isErr(t, "PutPreKeys with id MaxKeyID", s.PutPreKeys(ctx, bad), store.ErrInvalid)
	bad = preKeys(1, 2)
	bad[1].Key.Private = bad[1].Key.Private[:store.KeyLen-1]
	isErr(t, "PutPreKeys with a 31-byte private key", s.PutPreKeys(ctx, bad), store.ErrInvalid)
	checkAbsent("after invalid batches", 1, 2)
	checkCounts("after invalid batches", 0, 0)

	all := preKeys(1, 2, 3, 4, 5)
	must(t, "PutPreKeys 1..5", s.PutPreKeys(ctx, all))
	for _, k := range all {
		got, err := s.GetPreKey(ctx, k.ID)
		if ok(t, "GetPreKey", err) {
			equal(t, "GetPreKey", got, k)
		}
	}
	checkLast("after 1..5", 5)
	checkCounts("after 1..5", 5, 0)

	// A batch holding an existing id fails whole.
	isErr(t, "PutPreKeys 6,7,3 (3 exists)", s.PutPreKeys(ctx, preKeys(6, 7, 3)), store.ErrConflict)
	isErr(t, "PutPreKeys 8,8 (duplicate in the batch)", s.PutPreKeys(ctx, preKeys(8, 8)), store.ErrConflict)
	checkAbsent("after conflicting batches", 6, 7, 8)
	got, err := s.GetPreKey(ctx, 3)
	if ok(t, "GetPreKey 3", err) {
		equal(t, "GetPreKey 3 after a conflicting batch", got, all[2])
	}
	checkLast("after conflicting batches", 5)
	checkCounts("after conflicting batches", 5, 0)

	// Upload bookkeeping.
	checkToUpload("limit 3", 3, all[:3])
	must(t, "MarkPreKeysUploaded through 2", s.MarkPreKeysUploaded(ctx, 2))
	checkCounts("after marking through 2", 5, 2)
	checkToUpload("after marking through 2", 10, all[2:])
	for _, k := range uploaded(all[:2]) {
		got, err := s.GetPreKey(ctx, k.ID)
		if ok(t, "GetPreKey", err) {
			equal(t, "GetPreKey of an uploaded prekey", got, k)
		}
	}

	// Deleting the highest id lowers LastPreKeyID.
	must(t, "DeletePreKey 5", s.DeletePreKey(ctx, 5))
	checkAbsent("after DeletePreKey 5", 5)
	isErr(t, "DeletePreKey 5 again", s.DeletePreKey(ctx, 5), store.ErrNotFound)
	isErr(t, "DeletePreKey of a never stored id", s.DeletePreKey(ctx, 999), store.ErrNotFound)
	checkLast("after deleting 5", 4)
	checkCounts("after deleting 5", 4, 2)

	// Ids are ordered as numbers (100 after 4) up to the largest allowed.
	big := preKeys(100, store.MaxKeyID-1)
	must(t, "PutPreKeys 100, MaxKeyID-1", s.PutPreKeys(ctx, big))
	checkLast("after MaxKeyID-1", store.MaxKeyID-1)
	checkToUpload("across magnitudes", 10, []store.PreKey{all[2], all[3], big[0], big[1]})
	checkToUpload("limit 1", 1, []store.PreKey{all[2]})
	must(t, "MarkPreKeysUploaded through 100", s.MarkPreKeysUploaded(ctx, 100))
	checkToUpload("after marking through 100", 10, big[1:])
	checkCounts("after marking through 100", 6, 5)
	got, err = s.GetPreKey(ctx, 100)
	if ok(t, "GetPreKey 100", err) {
		equal(t, "GetPreKey 100", got, uploaded(big[:1])[0])
	}
}

func signedPreKey(id uint32, seed byte, created time.Duration) store.SignedPreKey {
	return store.SignedPreKey{ID: id, Key: keyPair(seed), Signature: bytesOf(seed+50, store.SignatureLen), CreatedAt: at(created)}
}

func testSignedPreKeys(t *testing.T, s store.Store) {
	ctx := t.Context()

	_, err := s.GetSignedPreKey(ctx, 1)
	isErr(t, "GetSignedPreKey when empty", err, store.ErrNotFound)
	list, err := s.ListSignedPreKeys(ctx)
	if ok(t, "ListSignedPreKeys", err) && len(list) != 0 {
		t.Errorf("ListSignedPreKeys when empty = %d keys, want none", len(list))
	}

	bad := signedPreKey(1, 1, 0)
	bad.Signature = bad.Signature[:store.SignatureLen-1]
	isErr(t, "PutSignedPreKey with a 63-byte signature", s.PutSignedPreKey(ctx, bad), store.ErrInvalid)
	bad = signedPreKey(store.MaxKeyID, 1, 0)
	isErr(t, "PutSignedPreKey with id MaxKeyID", s.PutSignedPreKey(ctx, bad), store.ErrInvalid)
	bad = signedPreKey(1, 1, 0)
	bad.Key.Public = nil
	isErr(t, "PutSignedPreKey without a public key", s.PutSignedPreKey(ctx, bad), store.ErrInvalid)
	_, err = s.GetSignedPreKey(ctx, 1)
	isErr(t, "GetSignedPreKey after invalid puts", err, store.ErrNotFound)

	// Id 0 is valid for signed prekeys. Written out of order, listed by id.
	k3, k1, k0, k2 := signedPreKey(3, 30, 3*time.Hour), signedPreKey(1, 10, time.Hour), signedPreKey(0, 5, 0), signedPreKey(2, 20, 2*time.Hour)
	for _, k := range []store.SignedPreKey{k3, k1, k0, k2} {
		must(t, "PutSignedPreKey", s.PutSignedPreKey(ctx, k))
	}
	for _, k := range []store.SignedPreKey{k0, k1, k2, k3} {
		got, err := s.GetSignedPreKey(ctx, k.ID)
		if ok(t, "GetSignedPreKey", err) {
			equal(t, "GetSignedPreKey", got, k)
		}
	}
	list, err = s.ListSignedPreKeys(ctx)
	if ok(t, "ListSignedPreKeys", err) {
		equal(t, "ListSignedPreKeys", list, []store.SignedPreKey{k0, k1, k2, k3})
	}

	// Put replaces the whole key.
	k2b := signedPreKey(2, 77, 5*time.Hour)
	must(t, "PutSignedPreKey (replace)", s.PutSignedPreKey(ctx, k2b))
	got, err := s.GetSignedPreKey(ctx, 2)
	if ok(t, "GetSignedPreKey", err) {
		equal(t, "GetSignedPreKey after a replacement", got, k2b)
	}

	must(t, "DeleteSignedPreKey 1", s.DeleteSignedPreKey(ctx, 1))
	_, err = s.GetSignedPreKey(ctx, 1)
	isErr(t, "GetSignedPreKey after delete", err, store.ErrNotFound)
	absentDelete(t, "DeleteSignedPreKey", s.DeleteSignedPreKey(ctx, 1))
	list, err = s.ListSignedPreKeys(ctx)
	if ok(t, "ListSignedPreKeys", err) {
		equal(t, "ListSignedPreKeys after delete", list, []store.SignedPreKey{k0, k2b, k3})
	}
}

func session(name string, dev uint32, seed byte) store.Session {
	return store.Session{Address: store.Address{Name: name, DeviceID: dev}, Record: bytesOf(seed, 40+int(seed%17))}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()

	checkDevices := func(name string, want []uint32) {
		t.Helper()
		got, err := s.SessionDevices(ctx, name)
		if ok(t, "SessionDevices "+name, err) {
			equal(t, "SessionDevices "+name, got, want)
		}
	}
	checkSession := func(what string, ss store.Session) {
		t.Helper()
		got, err := s.GetSession(ctx, ss.Address)
		if ok(t, what+": GetSession "+ss.Address.String(), err) {
			equal(t, what+": GetSession "+ss.Address.String(), got, ss.Record)
		}
	}
	checkNoSession := func(what string, addr store.Address) {
		t.Helper()
		_, err := s.GetSession(ctx, addr)
		isErr(t, what+": GetSession "+addr.String(), err, store.ErrNotFound)
	}

	checkNoSession("when empty", store.Address{Name: "1555", DeviceID: 1})
	checkDevices("1555", nil)

	// Invalid batches write nothing.
	noName := session("1777", 1, 1)
	noName.Address.Name = ""
	isErr(t, "PutSessions with an empty name", s.PutSessions(ctx, []store.Session{session("1777", 1, 1), noName}), store.ErrInvalid)
	noRecord := session("1777", 2, 2)
	noRecord.Record = nil
	isErr(t, "PutSessions with an empty record", s.PutSessions(ctx, []store.Session{session("1777", 1, 1), noRecord}), store.ErrInvalid)
	isErr(t, "PutSessions with a 129-byte name", s.PutSessions(ctx, []store.Session{session(strings.Repeat("1", 129), 1, 1)}), store.ErrInvalid)
	checkNoSession("after invalid batches", store.Address{Name: "1777", DeviceID: 1})
	checkDevices("1777", nil)

	// Names that are prefixes of each other must not mix; device ids are
	// ordered as numbers.
	batch := []store.Session{
		session("1555", 0, 10),
		session("1555", 3, 11),
		session("1555", 1, 12),
		session("15550", 2, 13),
		session("1555", 70000, 14),
		session("155", 5, 15),
	}
	must(t, "PutSessions", s.PutSessions(ctx, batch))
	for _, ss := range batch {
		checkSession("after PutSessions", ss)
	}
	checkDevices("1555", []uint32{0, 1, 3, 70000})
	checkDevices("15550", []uint32{2})
	checkDevices("155", []uint32{5})
	checkDevices("15", nil)
	checkNoSession("other device", store.Address{Name: "1555", DeviceID: 2})

	// Upsert: one replaced, one new, in one batch.
	replaced, added := session("1555", 1, 99), session("1666", 1, 98)
	must(t, "PutSessions (upsert)", s.PutSessions(ctx, []store.Session{replaced, added}))
	checkSession("after upsert", replaced)
	checkSession("after upsert", added)
	checkSession("after upsert (untouched)", batch[0])
	checkDevices("1555", []uint32{0, 1, 3, 70000})

	must(t, "DeleteSession 1555:3", s.DeleteSession(ctx, store.Address{Name: "1555", DeviceID: 3}))
	checkNoSession("after DeleteSession", store.Address{Name: "1555", DeviceID: 3})
	isErr(t, "DeleteSession 1555:3 again", s.DeleteSession(ctx, store.Address{Name: "1555", DeviceID: 3}), store.ErrNotFound)
	checkDevices("1555", []uint32{0, 1, 70000})

	n, err := s.DeleteSessions(ctx, "1555")
	if ok(t, "DeleteSessions 1555", err) && n != 3 {
		t.Errorf("DeleteSessions 1555 = %d, want 3", n)
	}
	checkDevices("1555", nil)
	checkDevices("15550", []uint32{2})
	checkDevices("155", []uint32{5})
	checkSession("other name after DeleteSessions", batch[3])
	n, err = s.DeleteSessions(ctx, "1555")
	if ok(t, "DeleteSessions 1555 again", err) && n != 0 {
		t.Errorf("DeleteSessions 1555 again = %d, want 0", n)
	}

	must(t, "DeleteAllSessions", s.DeleteAllSessions(ctx))
	checkNoSession("after DeleteAllSessions", batch[3].Address)
	checkNoSession("after DeleteAllSessions", added.Address)
	checkDevices("15550", nil)
	checkDevices("1666", nil)
	checkDevices("155", nil)
}

func testPeerIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	dev0 := store.Address{Name: "1555", DeviceID: 0}
	dev1 := store.Address{Name: "1555", DeviceID: 1}

	_, err := s.GetPeerIdentity(ctx, dev0)
	isErr(t, "GetPeerIdentity when empty", err, store.ErrNotFound)

	isErr(t, "PutPeerIdentity with a 31-byte key",
		s.PutPeerIdentity(ctx, store.PeerIdentity{Address: dev0, Key: key(1)[:31], CreatedAt: at(0)}), store.ErrInvalid)
	isErr(t, "PutPeerIdentity with an empty name",
		s.PutPeerIdentity(ctx, store.PeerIdentity{Address: store.Address{DeviceID: 1}, Key: key(1), CreatedAt: at(0)}), store.ErrInvalid)
	_, err = s.GetPeerIdentity(ctx, dev0)
	isErr(t, "GetPeerIdentity after invalid puts", err, store.ErrNotFound)

	p1 := store.PeerIdentity{Address: dev0, Key: key(10), Acknowledged: true, CreatedAt: at(0)}
	must(t, "PutPeerIdentity", s.PutPeerIdentity(ctx, p1))
	got, err := s.GetPeerIdentity(ctx, dev0)
	if ok(t, "GetPeerIdentity", err) {
		equal(t, "GetPeerIdentity", got, p1)
	}
	_, err = s.GetPeerIdentity(ctx, dev1)
	isErr(t, "GetPeerIdentity of another device", err, store.ErrNotFound)

	// A changed key replaces the record, unacknowledged.
	p2 := store.PeerIdentity{Address: dev0, Key: key(11), Acknowledged: false, CreatedAt: at(time.Hour)}
	must(t, "PutPeerIdentity (replace)", s.PutPeerIdentity(ctx, p2))
	got, err = s.GetPeerIdentity(ctx, dev0)
	if ok(t, "GetPeerIdentity", err) {
		equal(t, "GetPeerIdentity after a replacement", got, p2)
	}
	// Acknowledging it.
	p3 := p2
	p3.Acknowledged = true
	must(t, "PutPeerIdentity (acknowledge)", s.PutPeerIdentity(ctx, p3))
	got, err = s.GetPeerIdentity(ctx, dev0)
	if ok(t, "GetPeerIdentity", err) {
		equal(t, "GetPeerIdentity after acknowledging", got, p3)
	}

	pd1 := store.PeerIdentity{Address: dev1, Key: key(12), CreatedAt: at(2 * time.Hour)}
	must(t, "PutPeerIdentity device 1", s.PutPeerIdentity(ctx, pd1))
	must(t, "DeletePeerIdentity", s.DeletePeerIdentity(ctx, dev0))
	_, err = s.GetPeerIdentity(ctx, dev0)
	isErr(t, "GetPeerIdentity after delete", err, store.ErrNotFound)
	absentDelete(t, "DeletePeerIdentity", s.DeletePeerIdentity(ctx, dev0))
	got, err = s.GetPeerIdentity(ctx, dev1)
	if ok(t, "GetPeerIdentity of the other device after delete", err) {
		equal(t, "GetPeerIdentity of the other device after delete", got, pd1)
	}
}

func testSenderKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	const group, sender, other = "120363000000000001@g.us", "1555:0", "1555:1"

	_, err := s.GetSenderKey(ctx, group, sender)
	isErr(t, "GetSenderKey when empty", err, store.ErrNotFound)

	isErr(t, "PutSenderKey with an empty record", s.PutSenderKey(ctx, group, sender, nil), store.ErrInvalid)
	isErr(t, "PutSenderKey with an empty group", s.PutSenderKey(ctx, "", sender, bytesOf(1, 10)), store.ErrInvalid)
	isErr(t, "PutSenderKey with an empty sender", s.PutSenderKey(ctx, group, "", bytesOf(1, 10)), store.ErrInvalid)
	_, err = s.GetSenderKey(ctx, group, sender)
	isErr(t, "GetSenderKey after invalid puts", err, store.ErrNotFound)

	r1, r2, r3 := bytesOf(1, 60), bytesOf(2, 61), bytesOf(3, 62)
	must(t, "PutSenderKey", s.PutSenderKey(ctx, group, sender, r1))
	must(t, "PutSenderKey other sender", s.PutSenderKey(ctx, group, other, r3))
	got, err := s.GetSenderKey(ctx, group, sender)
	if ok(t, "GetSenderKey", err) {
		equal(t, "GetSenderKey", got, r1)
	}
	_, err = s.GetSenderKey(ctx, "120363000000000002@g.us", sender)
	isErr(t, "GetSenderKey in another group", err, store.ErrNotFound)

	must(t, "PutSenderKey (replace)", s.PutSenderKey(ctx, group, sender, r2))
	got, err = s.GetSenderKey(ctx, group, sender)
	if ok(t, "GetSenderKey", err) {
		equal(t, "GetSenderKey after a replacement", got, r2)
	}

	must(t, "DeleteSenderKey", s.DeleteSenderKey(ctx, group, sender))
	_, err = s.GetSenderKey(ctx, group, sender)
	isErr(t, "GetSenderKey after delete", err, store.ErrNotFound)
	absentDelete(t, "DeleteSenderKey", s.DeleteSenderKey(ctx, group, sender))
	got, err = s.GetSenderKey(ctx, group, other)
	if ok(t, "GetSenderKey of the other sender", err) {
		equal(t, "GetSenderKey of the other sender after delete", got, r3)
	}
}

func testDecryptBuffer(t *testing.T, s store.Store) {
	ctx := t.Context()
	h1, h2, h3 := hashOf("ct-1"), hashOf("ct-2"), hashOf("ct-3")

	_, err := s.GetDecrypted(ctx, h1)
	isErr(t, "GetDecrypted when empty", err, store.ErrNotFound)

	isErr(t, "PutDecrypted with a 31-byte hash", s.PutDecrypted(ctx, h1[:31], []byte("x"), at(0)), store.ErrInvalid)
	_, err = s.GetDecrypted(ctx, h1)
	isErr(t, "GetDecrypted after an invalid put", err, store.ErrNotFound)

	must(t, "PutDecrypted", s.PutDecrypted(ctx, h1, []byte("first plaintext"), at(0)))
	must(t, "PutDecrypted of the same hash", s.PutDecrypted(ctx, h1, []byte("second plaintext"), at(time.Minute)))
	got, err := s.GetDecrypted(ctx, h1)
	if ok(t, "GetDecrypted", err) {
		equal(t, "GetDecrypted after two puts (the first must be kept)", got, []byte("first plaintext"))
	}
	must(t, "PutDecrypted h2", s.PutDecrypted(ctx, h2, []byte("two"), at(10*time.Minute)))
	must(t, "PutDecrypted h3", s.PutDecrypted(ctx, h3, []byte("three"), at(20*time.Minute)))

	_, err = s.PruneDecrypted(ctx, at(5*time.Minute), -1)
	isErr(t, "PruneDecrypted without a limit", err, store.ErrInvalid)
	n, err := s.PruneDecrypted(ctx, at(5*time.Minute), 10)
	if ok(t, "PruneDecrypted", err) && n != 1 {
		t.Errorf("PruneDecrypted before +5m = %d, want 1", n)
	}
	_, err = s.GetDecrypted(ctx, h1)
	isErr(t, "GetDecrypted of a pruned entry", err, store.ErrNotFound)
	got, err = s.GetDecrypted(ctx, h2)
	if ok(t, "GetDecrypted h2", err) {
		equal(t, "GetDecrypted h2 after prune", got, []byte("two"))
	}
	n, err = s.PruneDecrypted(ctx, at(5*time.Minute), 10)
	if ok(t, "PruneDecrypted again", err) && n != 0 {
		t.Errorf("PruneDecrypted again = %d, want 0", n)
	}
	// Bounded batches: two entries, one at a time.
	n, err = s.PruneDecrypted(ctx, at(time.Hour), 1)
	if ok(t, "PruneDecrypted, first batch", err) && n != 1 {
		t.Errorf("PruneDecrypted batch of 1 = %d, want 1", n)
	}
	n, err = s.PruneDecrypted(ctx, at(time.Hour), 1)
	if ok(t, "PruneDecrypted, second batch", err) && n != 1 {
		t.Errorf("PruneDecrypted second batch of 1 = %d, want 1", n)
	}
	_, err = s.GetDecrypted(ctx, h3)
	isErr(t, "GetDecrypted after pruning everything", err, store.ErrNotFound)

	// A pruned hash can be recorded afresh.
	must(t, "PutDecrypted after prune", s.PutDecrypted(ctx, h1, []byte("again"), at(2*time.Hour)))
	got, err = s.GetDecrypted(ctx, h1)
	if ok(t, "GetDecrypted", err) {
		equal(t, "GetDecrypted of a re-recorded hash", got, []byte("again"))
	}
}
