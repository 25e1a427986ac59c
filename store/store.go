package store

import "context"

// Store is everything waent keeps durably. It is the first of the three
// seams (with MediaStore and the webhook sink) an application may replace.
type Store interface {
	AccountStore
	PreKeyStore
	SignedPreKeyStore
	SessionStore
	PeerIdentityStore
	SenderKeyStore
	DecryptBufferStore
	MessageStore
	OutboxStore
	CallbackStore
	ContactStore
	SettingsStore
	UserStore
	TokenStore
	TemplateStore
	MediaMetaStore
	LeaseStore
	ConversationStore
	Transactor
}

// Transactor runs a function in one transaction.
type Transactor interface {
	// InTx runs fn with a Store whose every method takes part in one
	// transaction. If fn returns an error (or panics) nothing it wrote is
	// kept and the error is returned; otherwise the transaction commits and
	// InTx returns the commit error, if any.
	//
	// Calling InTx on the transaction's Store runs fn in the same
	// transaction, without a savepoint: the inner error is returned as is
	// and the outermost fn's result decides the fate of every write. The transaction's Store must not be used after fn
	// returns, nor from other goroutines. fn must not block on the network:
	// embedded backends serialise writers, so a long transaction stalls every
	// other writer.
	//
	// A backend may run fn again when the database aborts the transaction
	// for a transient reason (deadlock, serialization failure, a busy
	// embedded database), so fn must act only through tx and be safe to
	// repeat.
	InTx(ctx context.Context, fn func(tx Store) error) error
}
