package waent

import (
	"context"
	"reflect"
	"time"

	"github.com/waent/waent/store"
	"github.com/waent/waent/webhook"
)

// Stats is a snapshot of the Client's in-memory state and counters, for
// /v1/health, /v1/stats/app and /v1/support. Taking it touches neither
// the store nor the network, so a monitor may poll it as often as it
// likes.
type Stats struct {
	// Initialized is false until Start has loaded the account: before
	// that Health says nothing about the number (On-Premises reports
	// "uninitialized").
	Initialized bool
	Health      Health
	// Ready: sends are accepted (connected, offline backlog processed).
	Ready bool

	// The account: the registered number ("" before registration), its
	// Signal registration id, when its identity was created, and the
	// Multiconnect shard count.
	WAID              string
	RegistrationID    uint32
	IdentityCreatedAt time.Time
	Shards            int

	// Callbacks are the webhook dispatcher's counters: queue size, POSTs
	// by result and kind (KindInbound, KindStatus, KindSystem), callbacks
	// delivered and POST latency. Zero before Start.
	Callbacks webhook.Stats
	// DecryptFailures counts inbound messages that could not be
	// decrypted since the Client was created.
	DecryptFailures int64
}

// Stats returns a snapshot of the Client's state and counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	acct, hooks := c.acct, c.hooks
	// acct.State is set by the same critical section of Start that sets
	// hooks, so an empty state means the account is not loaded yet.
	initialized := c.started && acct.State != ""
	c.mu.Unlock()
	s := Stats{
		Initialized:       initialized,
		Health:            c.Health(),
		Ready:             c.Ready(),
		WAID:              acct.WAID,
		RegistrationID:    acct.RegistrationID,
		IdentityCreatedAt: acct.CreatedAt,
		Shards:            acct.Shards,
		DecryptFailures:   c.DecryptFailures(),
	}
	if hooks != nil {
		s.Callbacks = hooks.Stats()
	}
	return s
}

// DBStats is what /v1/stats/db reports: row counts of the queues the
// store keeps and how long asking for them took.
type DBStats struct {
	// Backend names the database ("sqlite", "postgres", "mysql"), or is
	// empty when the Store does not say (memstore, custom stores).
	Backend string
	// PendingCallbacks are callbacks not yet acknowledged by the webhook;
	// PendingMessages are accepted messages the chat server has not yet
	// acknowledged (the durable outbox backlog).
	PendingCallbacks int
	PendingMessages  int
	// PreKeys stored, and how many of them were uploaded to the server.
	PreKeys, PreKeysUploaded int
	// Users of the /v1 API.
	Users int
	// Took is the wall time of the queries above: a rough probe of the
	// database's latency as the Client sees it.
	Took time.Duration
}

// DBStats counts rows in the store. It runs a few COUNT queries, so it
// is meant for a monitor's poll, not for every request.
func (c *Client) DBStats(ctx context.Context) (DBStats, error) {
	start := time.Now()
	s := DBStats{Backend: storeBackend(c.cfg.Store)}
	var err error
	if s.PendingCallbacks, err = c.st.CallbackQueueLen(ctx); err != nil {
		return s, newError(CodeDatabase, "count callbacks", err)
	}
	if s.PendingMessages, err = c.st.OutboxLen(ctx); err != nil {
		return s, newError(CodeDatabase, "count outbox", err)
	}
	if s.PreKeys, s.PreKeysUploaded, err = c.st.CountPreKeys(ctx); err != nil {
		return s, newError(CodeDatabase, "count prekeys", err)
	}
	users, err := c.st.ListUsers(ctx)
	if err != nil {
		return s, newError(CodeDatabase, "count users", err)
	}
	s.Users = len(users)
	// Wall time, not c.now(): a test clock must not make the probe lie.
	s.Took = time.Since(start)
	return s, nil
}

// storeBackend asks the store for its database name through a
// Backend() method returning a string type, as sqlstore has. It goes
// through reflection because importing sqlstore for its type would link
// every SQL driver into applications that bring their own Store.
func storeBackend(st store.Store) string {
	m := reflect.ValueOf(st).MethodByName("Backend")
	if !m.IsValid() {
		return ""
	}
	t := m.Type()
	if t.NumIn() != 0 || t.NumOut() != 1 || t.Out(0).Kind() != reflect.String {
		return ""
	}
	return m.Call(nil)[0].String()
}
