package gc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	randv2 "math/rand/v2"
	"time"

	"github.com/waent/waent/store"
)

// Store is what a Collector needs of the store. A store.Store satisfies it.
type Store interface {
	PruneMessages(ctx context.Context, q store.PruneQuery) (int, error)
	GetMessage(ctx context.Context, id string) (store.Message, error)
	// The callback queue's head bounds how recent a received message may be
	// and still be collected; the outbox says which media are still needed.
	PendingCallbacks(ctx context.Context, afterSeq int64, limit int) ([]store.Callback, error)
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error)
	OutboxLen(ctx context.Context) (int, error)
	UnusedMedia(ctx context.Context, usedBefore time.Time, limit int) ([]store.Media, error)
	PruneConversations(ctx context.Context, expiredBefore time.Time, limit int) (int, error)
	PruneContacts(ctx context.Context, checkedBefore time.Time, limit int) (int, error)
	PruneTokens(ctx context.Context, expiredBefore time.Time, limit int) (int, error)
	PruneDecrypted(ctx context.Context, before time.Time, limit int) (int, error)
	store.LeaseStore
	store.Transactor
}

// Switches are the settings that steer collection, read at the start of
// every run.
type Switches struct {
	// Messages and Media enable the scheduled collections
	// (garbagecollector_enable; db_garbagecollector_enable also gates
	// Messages). Runs on request ignore them.
	Messages bool
	Media    bool
	// PassThrough removes finished messages soon after they finish
	// instead of keeping them for the retention periods.
	PassThrough bool
}

// Kind names a collection.
type Kind string

// Collections. Messages also prunes the expiring caches (conversations,
// contact checks, tokens, decrypt buffer).
const (
	Messages Kind = "message"
	Media    Kind = "media"
)

// ErrBusy is returned by Begin when a requested run of the same kind has
// not finished yet.
var ErrBusy = errors.New("gc: a run of this kind is already in progress")

// Config configures a Collector. Store is required; zero durations and
// sizes take the defaults given.
type Config struct {
	Store Store
	// Media keeps media bytes. Nil: only metadata is deleted, for
	// deployments whose bytes live elsewhere.
	Media store.MediaStore
	// Settings returns the switches in effect. Default: On-Premises
	// defaults (messages on, media off, pass_through on).
	Settings func() Switches
	Now      func() time.Time
	Logger   *slog.Logger

	// MinInterval and MaxInterval bound the random wait between scheduled
	// runs (defaults 3 and 6 hours); each wait is drawn uniformly.
	MinInterval, MaxInterval time.Duration
	// BatchSize bounds the rows one transaction deletes (default 1000).
	BatchSize int
	// Pause is slept between batches (default none: the store hands the
	// database to waiting writers between transactions anyway).
	Pause time.Duration

	// InboundRetention keeps received messages, read or not, this long
	// after their last change (default 30 days), so an integration can
	// still mark them read. Negative: kept until deleted.
	InboundRetention time.Duration
	// InboundLag is how much older a received message's timestamp may be
	// than its callback (the server holds messages for offline recipients
	// for 30 days, the default). Unread messages newer than the oldest
	// queued callback minus InboundLag are kept whatever their age, since
	// the integration may not have seen them yet.
	InboundLag time.Duration
	// OutboundRetention keeps delivered, read and failed outbound messages
	// this long after their last change (default 30 days). Negative: kept
	// until deleted. Pending and sent messages are never collected.
	OutboundRetention time.Duration
	// PassThroughDelay is how long after it was read (or failed) a
	// message survives with pass_through (default 1 minute).
	PassThroughDelay time.Duration
	// InboundWindow keeps received messages at least this long even with
	// pass_through (default 24 hours): the latest message from a user
	// opens the customer service window that makes the business's next
	// conversation with them user-initiated, so it must outlive it.
	InboundWindow time.Duration
	// DeliveredRetention is how long pass_through waits for a read receipt
	// before removing a delivered message (default 7 days): a receipt that
	// finds no message produces no callback.
	DeliveredRetention time.Duration
	// MediaUnused is how long media may go unused before it is removed
	// (default 30 days).
	MediaUnused time.Duration
	// ConversationRetention keeps expired conversations this long for
	// late status callbacks (default 30 days); ContactTTL is how long
	// contact checks are cached (default 7 days); DecryptRetention is how
	// long plaintexts stay in the decrypt buffer for redeliveries (default
	// 30 days).
	ConversationRetention time.Duration
	ContactTTL            time.Duration
	DecryptRetention      time.Duration

	// LeaseTTL is how long a run's lease lasts without renewal (default 2
	// minutes); a run renews it between batches. LeasePoll is how often a
	// requested run checks whether the run ahead of it has finished
	// (default 1 second).
	LeaseTTL  time.Duration
	LeasePoll time.Duration
}

const day = 24 * time.Hour

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("gc: Config.Store is required")
	}
	if c.Settings == nil {
		c.Settings = func() Switches { return Switches{Messages: true, PassThrough: true} }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.MinInterval, 3*time.Hour)
	def(&c.MaxInterval, 6*time.Hour)
	if c.MinInterval < 0 || c.MaxInterval < c.MinInterval {
		return fmt.Errorf("gc: interval [%v, %v] is not a valid range", c.MinInterval, c.MaxInterval)
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1000
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("gc: negative BatchSize %d", c.BatchSize)
	}
	def(&c.InboundRetention, 30*day)
	def(&c.InboundLag, 30*day)
	def(&c.OutboundRetention, 30*day)
	def(&c.PassThroughDelay, time.Minute)
	def(&c.InboundWindow, day)
	def(&c.DeliveredRetention, 7*day)
	def(&c.MediaUnused, 30*day)
	def(&c.ConversationRetention, 30*day)
	def(&c.ContactTTL, 7*day)
	def(&c.DecryptRetention, 30*day)
	def(&c.LeaseTTL, 2*time.Minute)
	def(&c.LeasePoll, time.Second)
	for _, d := range []time.Duration{c.InboundLag, c.PassThroughDelay, c.InboundWindow, c.DeliveredRetention, c.ConversationRetention, c.ContactTTL, c.DecryptRetention, c.LeaseTTL, c.LeasePoll, c.Pause} {
		if d < 0 {
			return fmt.Errorf("gc: negative duration %v", d)
		}
	}
	return nil
}

// Result counts what one run deleted.
type Result struct {
	Kind     Kind
	Messages int
	// Housekeeping of a Messages run.
	Conversations int
	Contacts      int
	Tokens        int
	DecryptBuffer int
	// Media files (metadata and bytes) of a Media run.
	Media int
}

// Collector collects garbage on a schedule and on request. Its methods are
// safe for concurrent use; runs of one kind exclude each other through a
// lease in the store, so Collectors on several instances (or several in
// one process) never collect the same kind at once.
type Collector struct {
	cfg Config
}

// New checks cfg and returns a Collector; nothing runs until Run.
func New(cfg Config) (*Collector, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg}, nil
}

// Delay draws the wait before the next scheduled run, uniformly between
// MinInterval and MaxInterval.
func (c *Collector) Delay() time.Duration {
	span := c.cfg.MaxInterval - c.cfg.MinInterval
	if span <= 0 {
		return c.cfg.MinInterval
	}
	return c.cfg.MinInterval + time.Duration(randv2.Int64N(int64(span)+1))
}

// Run collects at random intervals until ctx is done: messages when
// Switches.Messages (the caches always), media when Switches.Media. A run
// that finds another in progress is skipped until the next interval.
func (c *Collector) Run(ctx context.Context) {
	for {
		t := time.NewTimer(c.Delay())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		c.scheduled(ctx)
	}
}

func (c *Collector) scheduled(ctx context.Context) {
	sw := c.cfg.Settings()
	kinds := []Kind{Messages}
	if sw.Media {
		kinds = append(kinds, Media)
	}
	for _, k := range kinds {
		l, err := c.acquire(ctx, runLease(k))
		if errors.Is(err, ErrBusy) {
			continue
		}
		if err != nil {
			c.logFailure(ctx, k, err)
			continue
		}
		var res Result
		if k == Messages {
			res, err = c.collectMessages(ctx, l, sw, sw.Messages)
		} else {
			res, err = c.collectMedia(ctx, l)
		}
		l.release()
		c.logResult(ctx, res, err)
	}
}

// Collect runs a collection of kind now, whatever the enable switches say,
// and returns what it deleted. It waits (until ctx is done) for a run of
// the same kind in progress, here or on another instance, to end first.
// On error the Result still counts what was deleted before it.
func (c *Collector) Collect(ctx context.Context, kind Kind) (Result, error) {
	if kind != Messages && kind != Media {
		return Result{Kind: kind}, fmt.Errorf("gc: unknown kind %q", kind)
	}
	l, err := c.wait(ctx, runLease(kind), nil)
	if err != nil {
		return Result{Kind: kind}, err
	}
	defer l.release()
	var res Result
	if kind == Messages {
		res, err = c.collectMessages(ctx, l, c.cfg.Settings(), true)
	} else {
		res, err = c.collectMedia(ctx, l)
	}
	c.logResult(ctx, res, err)
	return res, err
}

// Request is a run asked for through the services API: at most one per
// kind is outstanding at a time, across instances.
type Request struct {
	c    *Collector
	kind Kind
	l    *lease
}

// Begin registers a requested run of kind without starting it; Run
// performs it. ErrBusy means one is outstanding already, and its result
// will be reported instead.
func (c *Collector) Begin(ctx context.Context, kind Kind) (*Request, error) {
	if kind != Messages && kind != Media {
		return nil, fmt.Errorf("gc: unknown kind %q", kind)
	}
	l, err := c.acquire(ctx, requestLease(kind))
	if err != nil {
		return nil, err
	}
	return &Request{c: c, kind: kind, l: l}, nil
}

// Run performs the requested collection (as Collect) and ends the request.
// It must be called exactly once.
func (r *Request) Run(ctx context.Context) (Result, error) {
	defer r.l.release()
	c := r.c
	run, err := c.wait(ctx, runLease(r.kind), r.l)
	if err != nil {
		return Result{Kind: r.kind}, err
	}
	defer run.release()
	held := leases{run, r.l}
	var res Result
	if r.kind == Messages {
		res, err = c.collectMessages(ctx, held, c.cfg.Settings(), true)
	} else {
		res, err = c.collectMedia(ctx, held)
	}
	c.logResult(ctx, res, err)
	return res, err
}

func runLease(k Kind) string     { return "gc." + string(k) }
func requestLease(k Kind) string { return "gc." + string(k) + ".request" }

// keeper is what a run keeps alive between its batches.
type keeper interface {
	renew(ctx context.Context) error
}

type leases []*lease

func (ls leases) renew(ctx context.Context) error {
	for _, l := range ls {
		if err := l.renew(ctx); err != nil {
			return err
		}
	}
	return nil
}

// lease is one held store lease.
type lease struct {
	c      *Collector
	name   string
	holder string
	token  int64
	at     time.Time // when it was last granted
}

// acquire takes the lease name, or returns ErrBusy. Every acquisition has
// a holder of its own, so two runs in one process exclude each other too.
func (c *Collector) acquire(ctx context.Context, name string) (*lease, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	holder := hex.EncodeToString(b[:])
	now := c.cfg.Now()
	got, err := c.cfg.Store.AcquireLease(ctx, name, holder, now, c.cfg.LeaseTTL)
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrBusy
	}
	if err != nil {
		return nil, fmt.Errorf("gc: lease %s: %w", name, err)
	}
	return &lease{c: c, name: name, holder: holder, token: got.Token, at: now}, nil
}

// wait acquires name, polling while someone else holds it; keep, if set,
// is renewed meanwhile.
func (c *Collector) wait(ctx context.Context, name string, keep *lease) (*lease, error) {
	for {
		l, err := c.acquire(ctx, name)
		if !errors.Is(err, ErrBusy) {
			return l, err
		}
		if keep != nil {
			if err := keep.renew(ctx); err != nil {
				return nil, err
			}
		}
		t := time.NewTimer(c.cfg.LeasePoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// renew extends the lease once half of it has passed; losing it (it
// expired and someone else took it) stops the run.
func (l *lease) renew(ctx context.Context) error {
	now := l.c.cfg.Now()
	if now.Sub(l.at) < l.c.cfg.LeaseTTL/2 {
		return nil
	}
	got, err := l.c.cfg.Store.AcquireLease(ctx, l.name, l.holder, now, l.c.cfg.LeaseTTL)
	if err != nil {
		return fmt.Errorf("gc: renew lease %s: %w", l.name, err)
	}
	if got.Token != l.token {
		return fmt.Errorf("gc: lease %s changed hands", l.name)
	}
	l.at = now
	return nil
}

// release frees the lease even when the run was cancelled, so the next
// run need not wait for it to expire.
func (l *lease) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.c.cfg.Store.ReleaseLease(ctx, l.name, l.holder, l.token); err != nil {
		l.c.cfg.Logger.Warn("gc: release lease", "lease", l.name, "err", err)
	}
}

// class is the direction and status of messages collected together.
type class struct {
	dir    store.Direction
	status store.Status
}

// messageCutoffs decides, for each direction and status that may ever be
// collected, the last-change time before which a message may go. Pending
// and sent outbound messages are absent: they are never collected.
func (c *Collector) messageCutoffs(ctx context.Context, now time.Time, sw Switches) (map[class]time.Time, error) {
	out := map[class]time.Time{}
	allow := func(dir store.Direction, before time.Time, statuses ...store.Status) {
		for _, s := range statuses {
			k := class{dir, s}
			if cur, ok := out[k]; !ok || before.After(cur) {
				out[k] = before
			}
		}
	}
	cfg := &c.cfg
	if cfg.InboundRetention >= 0 {
		before := now.Add(-cfg.InboundRetention)
		allow(store.Inbound, before, store.StatusRead, store.StatusDeleted)
		// An unread message whose callback may still be queued stays: the
		// integration has not seen it and may yet mark it read.
		head, err := cfg.Store.PendingCallbacks(ctx, 0, 1)
		if err != nil {
			return nil, fmt.Errorf("gc: callback queue: %w", err)
		}
		if len(head) > 0 {
			if lim := head[0].CreatedAt.Add(-cfg.InboundLag); lim.Before(before) {
				before = lim
			}
		}
		allow(store.Inbound, before, store.StatusReceived)
	}
	if cfg.OutboundRetention >= 0 {
		allow(store.Outbound, now.Add(-cfg.OutboundRetention), store.StatusDelivered, store.StatusRead, store.StatusFailed, store.StatusDeleted)
	}
	if sw.PassThrough {
		allow(store.Inbound, now.Add(-max(cfg.PassThroughDelay, cfg.InboundWindow)), store.StatusRead, store.StatusDeleted)
		allow(store.Outbound, now.Add(-cfg.PassThroughDelay), store.StatusRead, store.StatusFailed, store.StatusDeleted)
		allow(store.Outbound, now.Add(-cfg.DeliveredRetention), store.StatusDelivered)
	}
	return out, nil
}

// classOrder is the order classes are collected in: one status at a time,
// so each batch is a range of the (direction, status, updated_at) index
// rather than a sort of every match.
func classOrder() []class {
	return []class{
		{store.Outbound, store.StatusRead}, {store.Outbound, store.StatusFailed},
		{store.Outbound, store.StatusDeleted}, {store.Outbound, store.StatusDelivered},
		{store.Inbound, store.StatusRead}, {store.Inbound, store.StatusDeleted},
		{store.Inbound, store.StatusReceived},
	}
}

// collectMessages deletes collectable messages (when messages is set) and
// prunes the expiring caches.
func (c *Collector) collectMessages(ctx context.Context, keep keeper, sw Switches, messages bool) (Result, error) {
	res := Result{Kind: Messages}
	now := c.cfg.Now()
	if messages {
		cut, err := c.messageCutoffs(ctx, now, sw)
		if err != nil {
			return res, err
		}
		for _, k := range classOrder() {
			before, ok := cut[k]
			if !ok {
				continue
			}
			q := store.PruneQuery{Direction: k.dir, Statuses: []store.Status{k.status}, UpdatedBefore: before, Limit: c.cfg.BatchSize}
			for {
				if err := c.between(ctx, keep); err != nil {
					return res, err
				}
				n, err := c.cfg.Store.PruneMessages(ctx, q)
				res.Messages += n
				if err != nil {
					return res, fmt.Errorf("gc: prune %s %s messages: %w", k.dir, k.status, err)
				}
				if n < q.Limit {
					break
				}
			}
		}
	}
	// These tables hold a row per conversation, contact, login and
	// received message; each is pruned in bounded batches like messages.
	st := c.cfg.Store
	batch := c.cfg.BatchSize
	steps := []struct {
		what string
		n    *int
		f    func() (int, error)
	}{
		{"conversations", &res.Conversations, func() (int, error) {
			return st.PruneConversations(ctx, now.Add(-c.cfg.ConversationRetention), batch)
		}},
		{"contacts", &res.Contacts, func() (int, error) { return st.PruneContacts(ctx, now.Add(-c.cfg.ContactTTL), batch) }},
		{"tokens", &res.Tokens, func() (int, error) { return st.PruneTokens(ctx, now, batch) }},
		{"decrypt buffer", &res.DecryptBuffer, func() (int, error) {
			return st.PruneDecrypted(ctx, now.Add(-c.cfg.DecryptRetention), batch)
		}},
	}
	for _, s := range steps {
		for {
			if err := c.between(ctx, keep); err != nil {
				return res, err
			}
			n, err := s.f()
			*s.n += n
			if err != nil {
				return res, fmt.Errorf("gc: prune %s: %w", s.what, err)
			}
			if n < batch {
				break
			}
		}
	}
	return res, nil
}

// between is the gap between two batches: give way, stop if asked, keep
// the lease.
func (c *Collector) between(ctx context.Context, keep keeper) error {
	if c.cfg.Pause > 0 {
		t := time.NewTimer(c.cfg.Pause)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return keep.renew(ctx)
}

// collectMedia deletes media unused for MediaUnused, except what a queued
// outbound message references: metadata first, in one transaction per
// batch that re-checks each file is still unused, then the bytes.
func (c *Collector) collectMedia(ctx context.Context, keep keeper) (Result, error) {
	res := Result{Kind: Media}
	if c.cfg.MediaUnused < 0 {
		return res, nil
	}
	now := c.cfg.Now()
	cutoff := now.Add(-c.cfg.MediaUnused)
	var (
		inOutbox map[string]bool // built on the first candidate
		skip     = map[string]bool{}
		errs     []error
	)
	for {
		if err := c.between(ctx, keep); err != nil {
			return res, errors.Join(append(errs, err)...)
		}
		limit := c.cfg.BatchSize + len(skip)
		list, err := c.cfg.Store.UnusedMedia(ctx, cutoff, limit)
		if err != nil {
			return res, errors.Join(append(errs, fmt.Errorf("gc: unused media: %w", err))...)
		}
		var batch []string
		for _, m := range list {
			if skip[m.ID] {
				continue
			}
			if inOutbox == nil {
				if inOutbox, err = c.outboxMedia(ctx, now); err != nil {
					return res, errors.Join(append(errs, err)...)
				}
			}
			if inOutbox[m.ID] {
				skip[m.ID] = true
				continue
			}
			if len(batch) < c.cfg.BatchSize {
				batch = append(batch, m.ID)
			}
		}
		if len(batch) == 0 {
			if len(list) < limit {
				break
			}
			continue // every candidate was skipped; the next list is longer
		}
		var gone []string
		err = c.cfg.Store.InTx(ctx, func(tx store.Store) error {
			gone = gone[:0]
			for _, id := range batch {
				m, err := tx.GetMedia(ctx, id)
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if !m.LastUsedAt.Before(cutoff) {
					continue // used meanwhile
				}
				if err := tx.DeleteMedia(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				gone = append(gone, id)
			}
			return nil
		})
		if err != nil {
			return res, errors.Join(append(errs, fmt.Errorf("gc: delete media: %w", err))...)
		}
		for _, id := range gone {
			if c.cfg.Media != nil {
				if err := c.cfg.Media.Delete(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
					// The metadata is gone, so no one can reach the bytes;
					// they are reported, not retried.
					errs = append(errs, fmt.Errorf("gc: delete media file %s: %w", id, err))
					continue
				}
			}
			res.Media++
		}
		if len(list) < limit {
			break
		}
	}
	return res, errors.Join(errs...)
}

// outboxMedia collects every "id" string in the payloads of the messages
// still in the outbox. It over-approximates (a context.id is a message id),
// which only keeps more media.
func (c *Collector) outboxMedia(ctx context.Context, now time.Time) (map[string]bool, error) {
	ids := map[string]bool{}
	n, err := c.cfg.Store.OutboxLen(ctx)
	if err != nil || n == 0 {
		return ids, err
	}
	// Far enough ahead that every item is due, so DueOutbox lists them all.
	items, err := c.cfg.Store.DueOutbox(ctx, now.Add(100*365*day), n+c.cfg.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("gc: list outbox: %w", err)
	}
	for _, it := range items {
		m, err := c.cfg.Store.GetMessage(ctx, it.MessageID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("gc: outbox message %s: %w", it.MessageID, err)
		}
		var v any
		if json.Unmarshal(m.Payload, &v) == nil {
			collectIDs(v, ids)
		}
	}
	return ids, nil
}

func collectIDs(v any, ids map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "id" {
				ids[s] = true
				continue
			}
			collectIDs(e, ids)
		}
	case []any:
		for _, e := range x {
			collectIDs(e, ids)
		}
	}
}

func (c *Collector) logResult(ctx context.Context, res Result, err error) {
	if err != nil {
		c.logFailure(ctx, res.Kind, err)
		return
	}
	c.cfg.Logger.Info("gc: run complete", "kind", res.Kind, "messages", res.Messages, "media", res.Media,
		"conversations", res.Conversations, "contacts", res.Contacts, "tokens", res.Tokens, "decrypt_buffer", res.DecryptBuffer)
}

func (c *Collector) logFailure(ctx context.Context, k Kind, err error) {
	if ctx.Err() != nil {
		return // shutting down
	}
	c.cfg.Logger.Warn("gc: run failed", "kind", k, "err", err)
}
