package crypto

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.mau.fi/libsignal/protocol"

	"github.com/waent/waent/store/memstore"
)

// forgeMsg builds a msg from p to its peer at addr whose MAC is valid but
// whose ciphertext is body as given: what a hostile peer can send.
func forgeMsg(t *testing.T, p *party, to *party, body []byte) Ciphertext {
	t.Helper()
	b := p.sig.Begin(p.st)
	e, err := b.entry(context.Background(), to.addr)
	if err != nil || e.rec == nil {
		t.Fatalf("no session to forge on: %v", err)
	}
	st := e.rec.SessionState()
	ck := st.SenderChainKey()
	m, err := protocol.NewSignalMessage(st.Version(), ck.Index(), st.PreviousCounter(), ck.MessageKeys().MacKey(),
		st.SenderRatchetKey(), body, st.LocalIdentityKey(), st.RemoteIdentityKey(), p.sig.ser.SignalMessage)
	if err != nil {
		t.Fatal(err)
	}
	return Ciphertext{Type: TypeMsg, Data: m.Serialize()}
}

// TestHostileInputIsRefusedBeforeLibsignal feeds messages that panic inside
// libsignal v0.2.2 and checks that the form checks stop them, so the
// recover in Decrypt stays a last resort (it would log a warning).
func TestHostileInputIsRefusedBeforeLibsignal(t *testing.T) {
	var logs bytes.Buffer
	biz := newParty(t, memstore.New(), "biz")
	peer := newParty(t, memstore.New(), "peer")
	var err error
	biz.sig, err = New(biz.acct, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, biz, peer)

	emptyRatchet := peer.sig.ser.SignalMessage.Serialize(&protocol.SignalMessageStructure{
		Version: 3, RatchetKey: []byte{}, CipherText: make([]byte, 16), Mac: make([]byte, 8),
	})
	pkEmptyKeys := peer.sig.ser.PreKeySignalMessage.Serialize(&protocol.PreKeySignalMessageStructure{
		Version: 3, BaseKey: []byte{}, IdentityKey: []byte{}, Message: emptyRatchet,
	})
	for name, ct := range map[string]Ciphertext{
		"partial AES block, valid MAC": forgeMsg(t, peer, biz, []byte("short")),
		"no AES block, valid MAC":      forgeMsg(t, peer, biz, []byte{}),
		"empty ratchet key":            {Type: TypeMsg, Data: emptyRatchet},
		"pkmsg with empty keys":        {Type: TypePreKey, Data: pkEmptyKeys},
	} {
		_, err := biz.decryptAndCommit(peer, ct)
		wantErr(t, err, ErrDecrypt)
		if strings.Contains(logs.String(), "panicked") {
			t.Fatalf("%s reached a libsignal panic: %s", name, logs.String())
		}
	}
	biz.decrypt(peer, peer.encrypt(biz, "still fine"), "still fine")
}

// TestFuzzSeedsAreLive checks that the frozen fixture still matches its
// seeds: the valid ones decrypt, the duplicate is one.
func TestFuzzSeedsAreLive(t *testing.T) {
	ctx := context.Background()
	for name, want := range map[string]string{
		"valid_probe":              probePlaintext,
		"valid_later":              "later",
		"valid_pkmsg_new_identity": "new identity",
		"duplicate":                "",
	} {
		preKey, data := readSeed(t, filepath.Join(fuzzCorpusDir, name))
		ct := Ciphertext{Type: TypeMsg, Data: data}
		if preKey {
			ct.Type = TypePreKey
		}
		env := loadFuzzFixture(t) // a fresh copy each, as the seeds are alternatives
		d, err := env.sig.Begin(env.st).Decrypt(ctx, env.peer, ct)
		if want == "" {
			wantErr(t, err, ErrDuplicate)
			continue
		}
		if err != nil || string(d.Plaintext) != want {
			t.Errorf("%s: %q, %v; want %q", name, d.Plaintext, err, want)
		}
		if (name == "valid_pkmsg_new_identity") != (d.IdentityChange != nil) {
			t.Errorf("%s: IdentityChange %+v", name, d.IdentityChange)
		}
	}
}

func readSeed(t *testing.T, path string) (bool, []byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || lines[0] != "go test fuzz v1" {
		t.Fatalf("%s: not a fuzz seed", path)
	}
	preKey, err := strconv.ParseBool(strings.TrimSuffix(strings.TrimPrefix(lines[1], "bool("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	return preKey, []byte(s)
}
