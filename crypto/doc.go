// Package crypto is waent's Signal protocol engine: it adapts libsignal's
// store interfaces to store.Store and encrypts and decrypts the pairwise
// <enc> payloads of the chat protocol.
//
// A Signal is built once from the account (New) and is safe for concurrent
// use; it holds no mutable state. Work happens in a Batch (Signal.Begin),
// which is bound to one store, normally the transaction of a store.InTx:
//
//	err := st.InTx(ctx, func(tx store.Store) error {
//		b := sig.Begin(tx)
//		d, err := b.Decrypt(ctx, from, ct)
//		if err != nil {
//			return err
//		}
//		// ... record d.Plaintext in tx ...
//		return b.Flush(ctx)
//	})
//
// A Batch keeps the sessions it touches decoded, so many messages to or
// from the same peers within one transaction decode and encode each
// session record once, and Flush writes every changed session with one
// PutSessions. It caches peer identities the same way. Decrypt is
// exactly-once: the plaintext is written to the decrypt buffer in the same
// transaction that advances the ratchet, keyed by a hash of the message
// and its sender, so a ciphertext redelivered after a crash is answered
// from there (Replay).
//
// Failed operations leave no trace: libsignal can modify a session record
// in place before it notices a bad MAC, so before each Decrypt and
// ProcessBundle a Batch keeps the record's last good form (the stored
// bytes while it is unchanged, else an in-memory copy of its structure)
// and rolls back to it on failure, and the identity and prekey writes an
// operation implies are applied only once it has succeeded. Received bytes
// pass form checks before libsignal sees them, because libsignal panics on
// some malformed input; a recover at that boundary is the last resort.
//
// Errors from the store pass through (wrapped, unclassified), never as
// ErrDecrypt or ErrNoSession, so that the caller rolls back and retries
// instead of dropping a message.
// Should a store write fail after an operation succeeded in memory, the
// Batch refuses all further work: only a rollback is safe then.
//
// Identities are trusted on first use and on every change (a peer that
// reinstalls gets a new identity key and On-Premises keeps receiving its
// messages); a change is recorded unacknowledged and reported as an
// IdentityChange.
//
// The package also generates the account's keys (NewAccount, NewPreKeys)
// and builds and checks prekey bundles. It depends only on package store,
// libsignal, golang.org/x/crypto and the standard library.
package crypto
