package storetest

import (
	"testing"
	"time"

	"github.com/waent/waent/store"
)

// scribble overwrites b in place.
func scribble(b []byte) {
	for i := range b {
		b[i] ^= 0xA5
	}
}

func testSlices(t *testing.T, s store.Store) {
	t.Run("Copied", func(t *testing.T) { testCopied(t, s) })
	t.Run("EmptyBatches", func(t *testing.T) { testEmptyBatches(t, s) })
}

// testCopied checks that the store neither keeps the slices it is given nor
// hands out slices it keeps: a caller scribbling over either after the call
// must not change what is stored.
func testCopied(t *testing.T, s store.Store) {
	ctx := t.Context()

	t.Run("Account", func(t *testing.T) {
		a := store.Account{State: store.RegistrationNone, NoiseKey: keyPair(1), IdentityKey: keyPair(2), CreatedAt: at(0), UpdatedAt: at(0)}
		want := normalized(a)
		must(t, "PutAccount", s.PutAccount(ctx, a))
		scribble(a.NoiseKey.Public)
		scribble(a.NoiseKey.Private)
		scribble(a.IdentityKey.Public)
		scribble(a.IdentityKey.Private)
		got, err := s.GetAccount(ctx)
		must(t, "GetAccount", err)
		equal(t, "GetAccount after scribbling over the input", got, want)
		scribble(got.NoiseKey.Public)
		scribble(got.IdentityKey.Private)
		got, err = s.GetAccount(ctx)
		must(t, "GetAccount", err)
		equal(t, "GetAccount after scribbling over a result", got, want)
	})

	t.Run("PreKeys", func(t *testing.T) {
		ks := preKeys(1, 2)
		want := normalized(ks)
		must(t, "PutPreKeys", s.PutPreKeys(ctx, ks))
		scribble(ks[0].Key.Public)
		scribble(ks[1].Key.Private)
		got, err := s.PreKeysToUpload(ctx, 10)
		must(t, "PreKeysToUpload", err)
		equal(t, "PreKeysToUpload after scribbling over the input", got, want)
		for _, k := range got {
			scribble(k.Key.Public)
			scribble(k.Key.Private)
		}
		one, err := s.GetPreKey(ctx, 1)
		must(t, "GetPreKey", err)
		equal(t, "GetPreKey after scribbling over a result", one, want[0])
		scribble(one.Key.Private)
		got, err = s.PreKeysToUpload(ctx, 10)
		must(t, "PreKeysToUpload", err)
		equal(t, "PreKeysToUpload after scribbling over results", got, want)
	})

	t.Run("SignedPreKeys", func(t *testing.T) {
		k := signedPreKey(1, 1, 0)
		want := normalized(k)
		must(t, "PutSignedPreKey", s.PutSignedPreKey(ctx, k))
		scribble(k.Signature)
		scribble(k.Key.Private)
		got, err := s.GetSignedPreKey(ctx, 1)
		must(t, "GetSignedPreKey", err)
		equal(t, "GetSignedPreKey after scribbling over the input", got, want)
		scribble(got.Signature)
		list, err := s.ListSignedPreKeys(ctx)
		must(t, "ListSignedPreKeys", err)
		equal(t, "ListSignedPreKeys after scribbling over a result", list, []store.SignedPreKey{want})
		for _, k := range list {
			scribble(k.Signature)
			scribble(k.Key.Public)
		}
		got, err = s.GetSignedPreKey(ctx, 1)
		must(t, "GetSignedPreKey", err)
		equal(t, "GetSignedPreKey after scribbling over a list", got, want)
	})

	t.Run("Sessions", func(t *testing.T) {
		ss := []store.Session{session("1999", 1, 1)}
		want := normalized(ss[0].Record)
		must(t, "PutSessions", s.PutSessions(ctx, ss))
		scribble(ss[0].Record)
		got, err := s.GetSession(ctx, ss[0].Address)
		must(t, "GetSession", err)
		equal(t, "GetSession after scribbling over the input", got, want)
		scribble(got)
		got, err = s.GetSession(ctx, ss[0].Address)
		must(t, "GetSession", err)
		equal(t, "GetSession after scribbling over a result", got, want)
	})

	t.Run("PeerIdentity", func(t *testing.T) {
		p := store.PeerIdentity{Address: store.Address{Name: "1999", DeviceID: 2}, Key: key(4), CreatedAt: at(0)}
		want := normalized(p)
		must(t, "PutPeerIdentity", s.PutPeerIdentity(ctx, p))
		scribble(p.Key)
		got, err := s.GetPeerIdentity(ctx, p.Address)
		must(t, "GetPeerIdentity", err)
		equal(t, "GetPeerIdentity after scribbling over the input", got, want)
		scribble(got.Key)
		got, err = s.GetPeerIdentity(ctx, p.Address)
		must(t, "GetPeerIdentity", err)
		equal(t, "GetPeerIdentity after scribbling over a result", got, want)
	})

	t.Run("SenderKey", func(t *testing.T) {
		rec := bytesOf(5, 50)
		want := normalized(rec)
		must(t, "PutSenderKey", s.PutSenderKey(ctx, "g", "1999:0", rec))
		scribble(rec)
		got, err := s.GetSenderKey(ctx, "g", "1999:0")
		must(t, "GetSenderKey", err)
		equal(t, "GetSenderKey after scribbling over the input", got, want)
		scribble(got)
		got, err = s.GetSenderKey(ctx, "g", "1999:0")
		must(t, "GetSenderKey", err)
		equal(t, "GetSenderKey after scribbling over a result", got, want)
	})

	t.Run("DecryptBuffer", func(t *testing.T) {
		h, pt := hashOf("copied"), []byte("plain text")
		wantHash, wantPT := normalized(h), normalized(pt)
		must(t, "PutDecrypted", s.PutDecrypted(ctx, h, pt, at(0)))
		scribble(h)
		scribble(pt)
		got, err := s.GetDecrypted(ctx, wantHash)
		must(t, "GetDecrypted by the hash as given", err)
		equal(t, "GetDecrypted after scribbling over the input", got, wantPT)
		scribble(got)
		got, err = s.GetDecrypted(ctx, wantHash)
		must(t, "GetDecrypted", err)
		equal(t, "GetDecrypted after scribbling over a result", got, wantPT)
		_, err = s.GetDecrypted(ctx, h)
		isErr(t, "GetDecrypted by the scribbled hash", err, store.ErrNotFound)
	})

	t.Run("Message", func(t *testing.T) {
		m := outMsg("copy-msg", 0)
		want := normalized(m)
		msgs := []store.Message{m}
		addMsgs(t, s, msgs...)
		scribble(m.Payload)
		got, err := s.GetMessage(ctx, m.ID)
		must(t, "GetMessage", err)
		equal(t, "GetMessage after scribbling over the input", got, want)
		scribble(got.Payload)
		got, err = s.GetMessage(ctx, m.ID)
		must(t, "GetMessage", err)
		equal(t, "GetMessage after scribbling over a result", got, want)
	})

	t.Run("Callback", func(t *testing.T) {
		cb := callback("status_change", 1, 0)
		want := normalized(cb)
		must(t, "EnqueueCallbacks", s.EnqueueCallbacks(ctx, []store.Callback{cb}))
		scribble(cb.Payload)
		got, err := s.PendingCallbacks(ctx, 0, 10)
		must(t, "PendingCallbacks", err)
		if len(got) != 1 {
			t.Fatalf("PendingCallbacks returned %d callbacks, want 1", len(got))
		}
		want.Seq = got[0].Seq
		equal(t, "PendingCallbacks after scribbling over the input", got[0], want)
		scribble(got[0].Payload)
		got, err = s.PendingCallbacks(ctx, 0, 10)
		must(t, "PendingCallbacks", err)
		equal(t, "PendingCallbacks after scribbling over a result", got, []store.Callback{want})
	})

	t.Run("Settings", func(t *testing.T) {
		v := []byte(`{"copied":true}`)
		want := store.SettingsDoc{Name: "copied", Version: 1, Value: normalized(v), UpdatedAt: at(0)}
		doc, err := s.PutSettings(ctx, "copied", v, 0, at(0))
		must(t, "PutSettings", err)
		scribble(v)
		scribble(doc.Value)
		got, err := s.GetSettings(ctx, "copied")
		must(t, "GetSettings", err)
		equal(t, "GetSettings after scribbling over the input and the returned document", got, want)
		scribble(got.Value)
		got, err = s.GetSettings(ctx, "copied")
		must(t, "GetSettings", err)
		equal(t, "GetSettings after scribbling over a result", got, want)
	})

	t.Run("Token", func(t *testing.T) {
		must(t, "CreateUser", s.CreateUser(ctx, store.User{Username: "copier", PasswordHash: "h", Role: store.RoleUser, CreatedAt: at(0), UpdatedAt: at(0)}))
		tk := store.Token{Hash: hashOf("copied-token"), Username: "copier", CreatedAt: at(0), ExpiresAt: at(time.Hour)}
		want := normalized(tk)
		must(t, "CreateToken", s.CreateToken(ctx, tk))
		scribble(tk.Hash)
		got, err := s.GetToken(ctx, want.Hash)
		must(t, "GetToken by the hash as given", err)
		equal(t, "GetToken after scribbling over the input", got, want)
		scribble(got.Hash)
		got, err = s.GetToken(ctx, want.Hash)
		must(t, "GetToken", err)
		equal(t, "GetToken after scribbling over a result", got, want)
	})

	t.Run("Template", func(t *testing.T) {
		tp := template("copy", "copied", "en", store.TemplateApproved, 0)
		want := normalized(tp)
		ts := []store.Template{tp}
		must(t, "PutTemplates", s.PutTemplates(ctx, ts))
		scribble(tp.Components)
		got, err := s.GetTemplate(ctx, tp.TemplateKey)
		must(t, "GetTemplate", err)
		equal(t, "GetTemplate after scribbling over the input", got, want)
		scribble(got.Components)
		list, err := s.ListTemplates(ctx, store.TemplateFilter{Namespace: "copy"})
		must(t, "ListTemplates", err)
		equal(t, "ListTemplates after scribbling over a result", list, []store.Template{want})
		for _, tp := range list {
			scribble(tp.Components)
		}
		got, err = s.GetTemplate(ctx, tp.TemplateKey)
		must(t, "GetTemplate", err)
		equal(t, "GetTemplate after scribbling over a list", got, want)
	})

	t.Run("Media", func(t *testing.T) {
		m := media("copied-media", 0)
		m.MediaKey, m.FileEncSHA256, m.UploadedAt = key(9), hashOf("enc"), at(0)
		want := normalized(m)
		must(t, "CreateMedia", s.CreateMedia(ctx, m))
		scribble(m.SHA256)
		scribble(m.MediaKey)
		scribble(m.FileEncSHA256)
		got, err := s.GetMedia(ctx, m.ID)
		must(t, "GetMedia", err)
		equal(t, "GetMedia after scribbling over the input", got, want)
		scribble(got.SHA256)
		scribble(got.MediaKey)
		list, err := s.UnusedMedia(ctx, at(time.Hour), 10)
		must(t, "UnusedMedia", err)
		equal(t, "UnusedMedia after scribbling over a result", list, []store.Media{want})
		for _, m := range list {
			scribble(m.FileEncSHA256)
		}
		got, err = s.GetMedia(ctx, m.ID)
		must(t, "GetMedia", err)
		equal(t, "GetMedia after scribbling over a list", got, want)
	})
}

// testEmptyBatches checks that batch methods take an empty batch as a no-op.
func testEmptyBatches(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := lens(t, s)
	ok(t, "PutPreKeys(nil)", s.PutPreKeys(ctx, nil))
	ok(t, "PutSessions(nil)", s.PutSessions(ctx, nil))
	added, err := s.AddMessages(ctx, nil)
	if ok(t, "AddMessages(nil)", err) && len(added) != 0 {
		t.Errorf("AddMessages(nil) = %v, want no flags", added)
	}
	outcomes, err := s.ApplyStatuses(ctx, nil)
	if ok(t, "ApplyStatuses(nil)", err) && len(outcomes) != 0 {
		t.Errorf("ApplyStatuses(nil) = %v, want no outcomes", outcomes)
	}
	n, err := s.DeleteMessages(ctx, nil)
	if ok(t, "DeleteMessages(nil)", err) && n != 0 {
		t.Errorf("DeleteMessages(nil) = %d, want 0", n)
	}
	ok(t, "EnqueueOutbox(nil)", s.EnqueueOutbox(ctx, nil))
	n, err = s.DeleteOutbox(ctx, nil)
	if ok(t, "DeleteOutbox(nil)", err) && n != 0 {
		t.Errorf("DeleteOutbox(nil) = %d, want 0", n)
	}
	ok(t, "EnqueueCallbacks(nil)", s.EnqueueCallbacks(ctx, nil))
	n, err = s.AckCallbacks(ctx, nil)
	if ok(t, "AckCallbacks(nil)", err) && n != 0 {
		t.Errorf("AckCallbacks(nil) = %d, want 0", n)
	}
	ok(t, "PutContacts(nil)", s.PutContacts(ctx, nil))
	contacts, err := s.GetContacts(ctx, nil)
	if ok(t, "GetContacts(nil)", err) && len(contacts) != 0 {
		t.Errorf("GetContacts(nil) = %v, want none", contacts)
	}
	ok(t, "PutTemplates(nil)", s.PutTemplates(ctx, nil))
	checkLens(t, s, "after empty batches", before)
}
