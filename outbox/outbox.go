package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/internal/groupcommit"
	"github.com/waent/waent/store"
)

// Transport is the part of the chat connection the outbox uses; conn.Conn
// implements it.
type Transport interface {
	Send(ctx context.Context, n wabin.Node) error
	SendIQ(ctx context.Context, n wabin.Node) (wabin.Node, error)
}

// Message is an accepted outbound message: the stored record and, when the
// caller has it at hand, the wire form, which saves rebuilding it.
type Message struct {
	Record store.Message
	Wire   *Wire // nil: rebuilt with Hooks.Wire when it is sent
}

// Wire is what goes inside the encrypted envelope and on the <message>
// stanza.
type Wire struct {
	Plaintext  []byte // marshalled waE2E.Message, unpadded
	StanzaType string // <message type=…>: text, media, reaction
	MediaType  string // <enc mediatype=…>, optional
}

// StatusChange is one status transition of a message, inbound or
// outbound. Final removes the message's outbox row in the same transaction
// (the server acked it, or it failed for good).
type StatusChange struct {
	MessageID string
	Peer      string
	Status    store.Status
	At        time.Time
	Final     bool
	// Inbound marks a change of a received message (read by the business).
	Inbound bool
	// FromPeer marks a change reported by the peer itself (its receipt):
	// it applies only to an outbound message to Peer.
	FromPeer bool
	// requeue puts the message back in the outbox (a retry receipt for a
	// message that had left it). Status may be empty for this and for a
	// Final-only change.
	requeue bool
	// Error explains a failed status, with an On-Prem code.
	ErrorCode   int
	ErrorTitle  string
	ErrorDetail string
}

// Hooks connect the outbox to the layers above it.
type Hooks struct {
	// Wire rebuilds the wire form of a stored message, for messages loaded
	// after a restart and for re-sends after a retry receipt. Required.
	Wire func(m store.Message) (Wire, error)
	// OnStatuses runs inside the transaction that applied status changes,
	// with the ones that moved a message forward; it enqueues callbacks.
	OnStatuses func(ctx context.Context, tx store.Store, applied []StatusChange) error
	// OnIdentityChange runs inside the encrypt transaction when a
	// recipient's identity key changed. Returning fail makes the message
	// fail (the peer must be acknowledged first) instead of being sent.
	OnIdentityChange func(ctx context.Context, tx store.Store, ch crypto.IdentityChange) (fail bool, err error)
	// Held reports, inside the encrypt transaction, whether messages to
	// peer must fail (480) instead of going out: an identity change the
	// business has not acknowledged. Asked once per peer per batch.
	Held func(ctx context.Context, tx store.Store, peer string) (bool, error)
	// Committed runs after each committed batch of status changes (the
	// callbacks OnStatuses queued are now visible).
	Committed func()
}

// Config configures an Outbox. Zero tunables take the defaults.
type Config struct {
	Store     store.Store
	Signal    *crypto.Signal
	Transport Transport
	Hooks     Hooks
	Now       func() time.Time
	Logger    *slog.Logger

	// BatchSize bounds the messages encrypted in one transaction and the
	// rows of one group commit. Default 1024.
	BatchSize int
	// Window is how many messages to one recipient may await the server's
	// ack at once; they are written in order on one connection, so order
	// holds. Default 64.
	Window int
	// AckTimeout: a message not acked within it is sent again. Default 30s.
	AckTimeout time.Duration
	// RetryMin and RetryMax bound the backoff after a failed attempt
	// (doubling per attempt, with jitter). Defaults 1s and 5m.
	RetryMin, RetryMax time.Duration
	// MemoryLimit bounds the queued messages held in memory; the rest wait
	// in the store and are loaded as memory frees. Default 100,000.
	MemoryLimit int
	// SignalLock is held around every transaction that reads and writes
	// Signal sessions. Whoever else changes sessions in the same store
	// (the inbound pipeline) must hold it too: databases with concurrent
	// writers (PostgreSQL, MySQL) would otherwise let two transactions
	// read one session record and the later commit silently undo the
	// earlier ratchet step. Default: a lock of the Outbox's own.
	SignalLock sync.Locker
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1024
	}
	if c.Window <= 0 {
		c.Window = 64
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 30 * time.Second
	}
	if c.RetryMin <= 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Minute
	}
	if c.MemoryLimit <= 0 {
		c.MemoryLimit = 100_000
	}
	if c.SignalLock == nil {
		c.SignalLock = &sync.Mutex{}
	}
}

// Outbox is the durable send queue. Enqueue makes messages durable;
// one dispatcher goroutine encrypts and writes them, first in, first out
// per recipient, and keeps trying until the server acks each one.
type Outbox struct {
	cfg Config
	log *slog.Logger

	inserts  *groupcommit.Group[Message]
	statuses *groupcommit.Group[StatusChange]

	feed *feedQueue
	// events carries everything else the dispatcher acts on, in the
	// order it happened (an ack before the retry receipt that follows it
	// on the wire); each runs on the dispatcher's goroutine.
	events chan event

	mu      sync.Mutex // Start and Close
	stop    context.CancelFunc
	started bool
	closed  bool
	done    chan struct{} // closed when the dispatcher has stopped
}

// New checks cfg and returns an Outbox; Start launches it.
func New(cfg Config) (*Outbox, error) {
	cfg.setDefaults()
	switch {
	case cfg.Store == nil:
		return nil, errors.New("outbox: Config.Store is required")
	case cfg.Signal == nil:
		return nil, errors.New("outbox: Config.Signal is required")
	case cfg.Transport == nil:
		return nil, errors.New("outbox: Config.Transport is required")
	case cfg.Hooks.Wire == nil:
		return nil, errors.New("outbox: Config.Hooks.Wire is required")
	}
	o := &Outbox{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "outbox"),
		feed:   &feedQueue{ready: make(chan struct{}, 1), limit: cfg.MemoryLimit},
		events: make(chan event, 4096),
		done:   make(chan struct{}),
	}
	o.inserts = groupcommit.New(cfg.BatchSize, o.commitInserts)
	o.statuses = groupcommit.New(cfg.BatchSize, o.commitStatuses)
	return o, nil
}

// Start launches the dispatcher. It sends only while the transport is
// connected (SetConnected).
func (o *Outbox) Start() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.started {
		return
	}
	o.started = true
	ctx, cancel := context.WithCancel(context.Background())
	o.stop = cancel
	d := newDispatcher(o)
	go func() {
		defer close(o.done)
		d.run(ctx)
	}()
}

// Close stops the dispatcher and commits what was already accepted.
// Messages not yet acked stay in the store and are sent after the next
// Start.
func (o *Outbox) Close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	o.inserts.Close()
	if o.started {
		o.stop()
		<-o.done
	} else {
		o.started = true // Start after Close stays a no-op
		close(o.done)
	}
	o.statuses.Close()
}

// Enqueue stores each message and its outbox row; when it returns nil the
// messages are durable and will be sent, whatever happens next. Concurrent
// calls share transactions (group commit).
func (o *Outbox) Enqueue(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	errs := make(chan error, len(msgs))
	for _, m := range msgs {
		if err := o.inserts.SubmitAsync(ctx, m, func(err error) { errs <- err }); err != nil {
			return fmt.Errorf("outbox: enqueue: %w", err)
		}
	}
	// Once submitted, a message may commit whatever ctx does; answering
	// "failed" for a message that is then sent would make the caller send
	// it again under a new id. A commit takes milliseconds, so wait.
	var first error
	for range msgs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (o *Outbox) commitInserts(ctx context.Context, msgs []Message) error {
	recs := make([]store.Message, len(msgs))
	items := make([]store.OutboxItem, len(msgs))
	now := o.cfg.Now()
	for i, m := range msgs {
		recs[i] = m.Record
		items[i] = store.OutboxItem{MessageID: m.Record.ID, Recipient: m.Record.Peer, NextAttemptAt: now, CreatedAt: now}
	}
	err := o.cfg.Store.InTx(ctx, func(tx store.Store) error {
		if _, err := tx.AddMessages(ctx, recs); err != nil {
			return err
		}
		return tx.EnqueueOutbox(ctx, items)
	})
	if err != nil {
		return fmt.Errorf("outbox: store messages: %w", err)
	}
	// Committed: hand them to the dispatcher, which never loses track:
	// what does not fit in memory is loaded from the store later.
	its := make([]*item, len(msgs))
	for i, m := range msgs {
		its[i] = &item{id: m.Record.ID, peer: m.Record.Peer, wire: m.Wire}
	}
	o.feed.push(its)
	return nil
}

// ApplyStatuses records status changes with their callbacks
// (Hooks.OnStatuses); concurrent changes share a transaction. With wait it
// returns once they are committed; otherwise it returns at once and errors
// are logged.
func (o *Outbox) ApplyStatuses(ctx context.Context, wait bool, changes ...StatusChange) error {
	if !wait {
		return o.ApplyStatusesThen(ctx, o.logStatusErr, changes...)
	}
	errs := make(chan error, len(changes))
	for _, c := range changes {
		if err := o.statuses.SubmitAsync(ctx, c, func(err error) { errs <- err }); err != nil {
			return err
		}
	}
	var first error
	for range changes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ApplyStatusesThen is ApplyStatuses calling done (from the committing
// goroutine, once per change) with the commit's result.
func (o *Outbox) ApplyStatusesThen(ctx context.Context, done func(error), changes ...StatusChange) error {
	for _, c := range changes {
		if err := o.statuses.SubmitAsync(ctx, c, done); err != nil {
			return err
		}
	}
	return nil
}

func (o *Outbox) logStatusErr(err error) {
	if err != nil {
		o.log.Error("status update failed", "err", err)
	}
}

func (o *Outbox) commitStatuses(ctx context.Context, changes []StatusChange) (err error) {
	if o.cfg.Hooks.Committed != nil {
		defer o.cfg.Hooks.Committed()
	}
	err = o.applyStatusBatch(ctx, changes)
	if err == nil || len(changes) == 1 || !errors.Is(err, store.ErrInvalid) {
		return err
	}
	// One change the store rejects (a receipt naming an impossible id,
	// say) must not take the others down with it: apply them one by one,
	// drop the invalid ones, and report only real failures.
	var first error
	for _, c := range changes {
		if err := o.applyStatusBatch(ctx, []StatusChange{c}); err != nil {
			if errors.Is(err, store.ErrInvalid) {
				o.log.Warn("status change dropped", "id", c.MessageID, "err", err)
				continue
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (o *Outbox) applyStatusBatch(ctx context.Context, changes []StatusChange) error {
	var events []store.StatusEvent
	var evChanges []StatusChange
	// What happens to each id's outbox row is decided by its changes in
	// submission order: an ack's removal followed by a retry's re-queue
	// leaves the row, the other way round removes it.
	rowAction := map[string]bool{} // id → true: re-queue, false: remove
	var order []string
	peers := map[string]string{}
	for _, c := range changes {
		if c.MessageID == "" {
			continue // a barrier: only its commit matters
		}
		if c.Status != "" {
			ev := store.StatusEvent{MessageID: c.MessageID, Status: c.Status, At: c.At, ErrorCode: c.ErrorCode, ErrorDetail: c.ErrorDetail}
			if c.FromPeer {
				ev.Peer, ev.Direction = c.Peer, store.Outbound
			}
			events = append(events, ev)
			evChanges = append(evChanges, c)
		}
		if c.Final || c.requeue {
			if _, seen := rowAction[c.MessageID]; !seen {
				order = append(order, c.MessageID)
			}
			rowAction[c.MessageID] = c.requeue
			peers[c.MessageID] = c.Peer
		}
	}
	var remove []string
	var requeue []store.OutboxItem
	now := o.cfg.Now()
	for _, id := range order {
		remove = append(remove, id) // a re-queue replaces any row still there
		if rowAction[id] {
			requeue = append(requeue, store.OutboxItem{MessageID: id, Recipient: peers[id], NextAttemptAt: now, CreatedAt: now})
		}
	}
	return o.cfg.Store.InTx(ctx, func(tx store.Store) error {
		outcomes, err := tx.ApplyStatuses(ctx, events)
		if err != nil {
			return err
		}
		if len(remove) > 0 {
			if _, err := tx.DeleteOutbox(ctx, remove); err != nil {
				return err
			}
		}
		if len(requeue) > 0 {
			if err := tx.EnqueueOutbox(ctx, requeue); err != nil {
				return err
			}
		}
		if o.cfg.Hooks.OnStatuses == nil {
			return nil
		}
		var applied []StatusChange
		for i, oc := range outcomes {
			if oc == store.StatusApplied {
				applied = append(applied, evChanges[i])
			}
		}
		if len(applied) == 0 {
			return nil
		}
		return o.cfg.Hooks.OnStatuses(ctx, tx, applied)
	})
}

// statusBarrier returns once every status change submitted before it is
// committed (or failed).
func (o *Outbox) statusBarrier(ctx context.Context) error {
	done := make(chan error, 1)
	if err := o.statuses.SubmitAsync(ctx, StatusChange{}, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetConnected tells the outbox whether the transport can send. Messages
// awaiting an ack when the connection drops are sent again once it is back.
func (o *Outbox) SetConnected(up bool) {
	select {
	case o.events <- func(ctx context.Context, d *dispatcher) { d.setConnected(up) }:
	case <-o.doneCh():
	}
}

// HandleAck takes the server's <ack class="message"> for a sent message.
func (o *Outbox) HandleAck(n wabin.Node) {
	r := ackResult{id: n.AttrString("id"), at: o.cfg.Now()}
	if e := n.AttrString("error"); e != "" {
		fmt.Sscan(e, &r.errCode)
		if r.errCode == 0 {
			r.errCode = 500
		}
	}
	if t := n.AttrString("t"); t != "" {
		var sec int64
		if _, err := fmt.Sscan(t, &sec); err == nil && sec > 0 {
			r.at = time.Unix(sec, 0)
		}
	}
	if r.errCode == 0 {
		// Recorded here, in the order stanzas arrive, rather than by the
		// dispatcher: the phone's delivery receipt follows the ack on the
		// wire, and "sent" must not lose the race to it.
		peer := ""
		if j, ok := n.AttrJID("from"); ok {
			peer = j.User
		}
		// The row leaves the outbox with it; a retry receipt later puts
		// it back through the same committer, so after this removal.
		err := o.statuses.SubmitAsync(context.Background(), StatusChange{
			MessageID: r.id, Peer: peer, Status: store.StatusSent, At: r.at, Final: true,
		}, o.logStatusErr)
		if err != nil {
			o.log.Debug("sent status not recorded", "id", r.id, "err", err)
		}
	}
	select {
	case o.events <- func(ctx context.Context, d *dispatcher) { d.ack(ctx, r) }:
	case <-o.doneCh():
	}
}

// HandleRetry takes a retry receipt: the recipient could not decrypt a
// message, so it is encrypted again (on a fresh session) and re-sent.
// done is called once the re-send is durable (or the receipt is found to
// need none); the caller acks the receipt then, so a crash in between
// makes the server deliver the receipt again.
func (o *Outbox) HandleRetry(n wabin.Node, done func()) {
	select {
	case o.events <- func(ctx context.Context, d *dispatcher) { d.retry(ctx, n, done) }:
	case <-o.doneCh():
	}
}

// event is work for the dispatcher's goroutine.
type event func(ctx context.Context, d *dispatcher)

// ForgetSession tells the outbox that the session with peer was dropped
// (an identity change notification), so the next message to peer fetches
// a fresh prekey bundle.
func (o *Outbox) ForgetSession(peer string) {
	select {
	case o.events <- func(ctx context.Context, d *dispatcher) { d.sessions[peer] = false }:
	case <-o.doneCh():
	}
}

// Len is the number of messages the outbox holds in memory (queued or
// awaiting an ack); the store's OutboxLen counts all of them.
func (o *Outbox) Len() int {
	c := make(chan int, 1)
	select {
	case o.events <- func(ctx context.Context, d *dispatcher) { c <- len(d.known) }:
		return <-c
	case <-o.doneCh():
		return 0
	}
}

func (o *Outbox) doneCh() <-chan struct{} { return o.done }

// feedQueue carries committed messages to the dispatcher. Pushing never
// blocks the committer and never drops silently: past the limit it only
// raises overflow, and the dispatcher then loads from the store, where
// the messages already are.
type feedQueue struct {
	mu       sync.Mutex
	items    []*item
	overflow bool
	limit    int
	ready    chan struct{} // capacity 1: "there may be something to take"
}

func (q *feedQueue) push(its []*item) {
	q.mu.Lock()
	if q.overflow || len(q.items)+len(its) > q.limit {
		q.overflow = true
	} else {
		q.items = append(q.items, its...)
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take returns what was pushed, in order, and whether some was left out.
func (q *feedQueue) take() ([]*item, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	its, over := q.items, q.overflow
	q.items, q.overflow = nil, false
	return its, over
}

type ackResult struct {
	id      string
	errCode int
	at      time.Time
}

// backoff is the delay before attempt n+1: doubling from lo, capped at hi,
// with equal jitter so that a burst of failures does not retry in step.
func backoff(attempts int, lo, hi time.Duration) time.Duration {
	d := lo
	for i := 1; i < attempts && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}
