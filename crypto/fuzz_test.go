package crypto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
)

// The fuzz target decrypts against a session frozen in testdata, so that
// the valid ciphertexts of its seed corpus decrypt on every run (keys and
// ratchet steps are random, so a session set up afresh would not match
// them). TestWriteFuzzFixture regenerates both.
const (
	fuzzFixturePath = "testdata/fuzz_fixture.json"
	fuzzCorpusDir   = "testdata/fuzz/FuzzDecrypt"
	writeFixtureEnv = "WAENT_WRITE_FUZZ_FIXTURE"
	probePlaintext  = "probe"
)

// fuzzFixture is a receiver with a session with peer, and the next message
// peer sent on it (Probe), not yet delivered.
type fuzzFixture struct {
	Identity       store.KeyPair
	RegistrationID uint32
	SignedPreKey   store.SignedPreKey
	PreKeys        []store.PreKey
	Peer           store.Address
	PeerIdentity   []byte
	Session        []byte
	Probe          []byte
}

type fuzzEnv struct {
	st    store.Store
	sig   *Signal
	peer  store.Address
	probe Ciphertext
}

func loadFuzzFixture(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile(fuzzFixturePath)
	if err != nil {
		tb.Fatalf("%v (regenerate with %s=1 go test -run TestWriteFuzzFixture)", err, writeFixtureEnv)
	}
	var fx fuzzFixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		tb.Fatal(err)
	}
	st := memstore.New()
	sig, err := New(store.Account{IdentityKey: fx.Identity, RegistrationID: fx.RegistrationID}, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	err = errors.Join(
		st.PutSignedPreKey(ctx, fx.SignedPreKey),
		st.PutPreKeys(ctx, fx.PreKeys),
		st.PutPeerIdentity(ctx, store.PeerIdentity{Address: fx.Peer, Key: fx.PeerIdentity, Acknowledged: true}),
		st.PutSessions(ctx, []store.Session{{Address: fx.Peer, Record: fx.Session}}),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return &fuzzEnv{st: st, sig: sig, peer: fx.Peer, probe: Ciphertext{Type: TypeMsg, Data: fx.Probe}}
}

var errFuzzRollback = errors.New("rollback: every input starts from the same session")

func FuzzDecrypt(f *testing.F) {
	env := loadFuzzFixture(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, preKey bool, data []byte) {
		ct := Ciphertext{Type: TypeMsg, Data: data}
		if preKey {
			ct.Type = TypePreKey
		}
		err := env.st.InTx(ctx, func(tx store.Store) error {
			b := env.sig.Begin(tx)
			_, err := b.Decrypt(ctx, env.peer, ct)
			if err != nil && !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrDuplicate) {
				t.Errorf("Decrypt(%s %x): error %v wraps none of ErrDecrypt, ErrNoSession, ErrDuplicate", ct.Type, data, err)
			}
			// Whatever the input did, the session takes the peer's next
			// message, and what the Batch holds still serialises.
			d, err := b.Decrypt(ctx, env.peer, env.probe)
			if err != nil || string(d.Plaintext) != probePlaintext {
				t.Errorf("after %s %x: probe = %q, %v", ct.Type, data, d.Plaintext, err)
			}
			if err := b.Flush(ctx); err != nil {
				t.Errorf("Flush: %v", err)
			}
			return errFuzzRollback
		})
		if !errors.Is(err, errFuzzRollback) {
			t.Fatalf("InTx: %v", err)
		}
	})
}

// TestWriteFuzzFixture regenerates the fixture and seed corpus of
// FuzzDecrypt. It runs only when asked to.
func TestWriteFuzzFixture(t *testing.T) {
	if os.Getenv(writeFixtureEnv) == "" {
		t.Skipf("set %s=1 to regenerate %s and %s", writeFixtureEnv, fuzzFixturePath, fuzzCorpusDir)
	}
	ctx := context.Background()
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	peer.addr = store.Address{Name: "15550001111", DeviceID: 0}
	connect(t, biz, peer)
	for i := range 3 {
		peer.decrypt(biz, biz.encrypt(peer, msgN(i)), msgN(i))
		biz.decrypt(peer, peer.encrypt(biz, msgN(i)), msgN(i))
	}
	old := peer.encrypt(biz, "old")
	biz.decrypt(peer, old, "old")
	probe := peer.encrypt(biz, probePlaintext)
	later := peer.encrypt(biz, "later")
	// A reinstalled peer: a valid pkmsg under a new identity.
	stranger := newParty(t, memstore.New(), peer.addr.Name)
	stranger.addr = peer.addr
	stranger.processBundle(biz, 1)
	pk := stranger.encrypt(biz, "new identity")

	preKeys, err := biz.st.PreKeysToUpload(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	fx := fuzzFixture{
		Identity:       biz.acct.IdentityKey,
		RegistrationID: biz.acct.RegistrationID,
		SignedPreKey:   biz.spk,
		PreKeys:        preKeys,
		Peer:           peer.addr,
		PeerIdentity:   peer.acct.IdentityKey.Public,
		Session:        biz.sessionBytes(peer.addr),
		Probe:          probe.Data,
	}
	raw, err := json.MarshalIndent(fx, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fuzzFixturePath, append(raw, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}

	flipped := append([]byte(nil), probe.Data...)
	flipped[len(flipped)/2] ^= 0x10
	seeds := []struct {
		name   string
		preKey bool
		data   []byte
	}{
		{"valid_probe", false, probe.Data},
		{"valid_later", false, later.Data},
		{"duplicate", false, old.Data},
		{"valid_pkmsg_new_identity", true, pk.Data},
		{"probe_short_mac", false, probe.Data[:len(probe.Data)-1]},
		{"probe_no_mac", false, probe.Data[:len(probe.Data)-8]},
		{"probe_one_byte", false, probe.Data[:1]},
		{"probe_flipped_body", false, flipped},
		{"pkmsg_half", true, pk.Data[:len(pk.Data)/2]},
		{"pkmsg_bad_inner_mac", true, corruptPreKeyMAC(t, biz.sig, pk).Data},
		{"msg_as_pkmsg", true, probe.Data},
		{"pkmsg_as_msg", false, pk.Data},
		{"empty", false, nil},
	}
	if err := os.MkdirAll(fuzzCorpusDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\nbool(%t)\n[]byte(%q)\n", s.preKey, s.data)
		if err := os.WriteFile(filepath.Join(fuzzCorpusDir, s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote %s and %d seeds at %s", fuzzFixturePath, len(seeds), time.Now().Format(time.RFC3339))
}
