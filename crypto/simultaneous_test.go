package crypto

import (
	"testing"

	"github.com/waent/waent/store"
)

// TestCrossedSessionsKeepDecrypting: both parties build a session from the
// other's bundle at the same time, and their first messages cross. Each
// side then holds two states and messages keep arriving on both. With
// libsignal's own DecryptWithRecord this breaks: trying a message on the
// wrong (current) state ratchets that state before the MAC check fails,
// the broken state is archived, and once it is promoted again its
// messages cannot be decrypted ("no valid sessions"). Every message here
// must decrypt.
func TestCrossedSessionsKeepDecrypting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, open func(testing.TB) store.Store) {
		a, b := newParty(t, open(t), "alice"), newParty(t, open(t), "bob")
		a.processBundle(b, 0)
		b.processBundle(a, 0)
		a1 := a.encrypt(b, "a1") // pkmsg on A's state
		a2 := a.encrypt(b, "a2") // still pkmsg, same state
		b1 := b.encrypt(a, "b1") // pkmsg on B's state
		a.decrypt(b, b1, "b1")   // A: B's state current, its own archived
		b.decrypt(a, a1, "a1")   // B: A's state current, its own archived
		a3 := a.encrypt(b, "a3") // on B's state (A answers it)
		b.decrypt(a, a3, "a3")   // B: current (A's state) is the wrong one
		b2 := b.encrypt(a, "b2")
		a.decrypt(b, b2, "b2")
		b.decrypt(a, a2, "a2") // back on A's state: promoted again
		// B now answers on A's state; A must read it, and the
		// conversation must go on both ways.
		for i := range 6 {
			ct := b.encrypt(a, msgN(i))
			a.decrypt(b, ct, msgN(i))
			ct = a.encrypt(b, msgN(100+i))
			b.decrypt(a, ct, msgN(100+i))
		}
	})
}
