package gc_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/waent/waent/gc"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
)

// t0 is the collectors' clock in these tests.
var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// eachStore runs f against memstore and every SQL backend (PostgreSQL and
// MySQL skip without their servers).
func eachStore(t *testing.T, f func(t *testing.T, st store.Store)) {
	t.Run("memstore", func(t *testing.T) { f(t, memstore.New()) })
	for _, b := range sqltest.Backends {
		t.Run(string(b), func(t *testing.T) { f(t, sqltest.Open(t, b)) })
	}
}

func newCollector(t *testing.T, cfg gc.Config) *gc.Collector {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LeasePoll == 0 {
		cfg.LeasePoll = 5 * time.Millisecond
	}
	c, err := gc.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func switches(sw gc.Switches) func() gc.Switches { return func() gc.Switches { return sw } }

// seeded describes one message of the fixture.
type seeded struct {
	id      string
	dir     store.Direction
	status  store.Status
	age     time.Duration // since its last change
	outbox  bool          // still queued
	payload string
}

// fixture is a message of every direction, status and age that matters.
func fixture() []seeded {
	return []seeded{
		{id: "out-pending-old", dir: store.Outbound, status: store.StatusPending, age: 40 * day, outbox: true},
		{id: "out-pending-lost", dir: store.Outbound, status: store.StatusPending, age: 40 * day},
		{id: "out-sent-old", dir: store.Outbound, status: store.StatusSent, age: 40 * day},
		{id: "out-delivered-old", dir: store.Outbound, status: store.StatusDelivered, age: 40 * day},
		{id: "out-read-old", dir: store.Outbound, status: store.StatusRead, age: 40 * day},
		{id: "out-failed-old", dir: store.Outbound, status: store.StatusFailed, age: 40 * day},
		{id: "out-read-old-queued", dir: store.Outbound, status: store.StatusRead, age: 40 * day, outbox: true},
		{id: "out-delivered-10d", dir: store.Outbound, status: store.StatusDelivered, age: 10 * day},
		{id: "out-delivered-2d", dir: store.Outbound, status: store.StatusDelivered, age: 2 * day},
		{id: "out-read-10d", dir: store.Outbound, status: store.StatusRead, age: 10 * day},
		{id: "out-failed-10d", dir: store.Outbound, status: store.StatusFailed, age: 10 * day},
		{id: "out-read-now", dir: store.Outbound, status: store.StatusRead, age: 10 * time.Second},
		{id: "out-sent-now", dir: store.Outbound, status: store.StatusSent, age: 10 * time.Second},
		{id: "in-received-old", dir: store.Inbound, status: store.StatusReceived, age: 40 * day},
		{id: "in-read-old", dir: store.Inbound, status: store.StatusRead, age: 40 * day},
		{id: "in-deleted-old", dir: store.Inbound, status: store.StatusDeleted, age: 40 * day},
		{id: "in-received-33d", dir: store.Inbound, status: store.StatusReceived, age: 33 * day},
		{id: "in-received-10d", dir: store.Inbound, status: store.StatusReceived, age: 10 * day},
		{id: "in-read-10d", dir: store.Inbound, status: store.StatusRead, age: 10 * day},
		{id: "in-read-now", dir: store.Inbound, status: store.StatusRead, age: 10 * time.Second},
		{id: "in-read-2h", dir: store.Inbound, status: store.StatusRead, age: 2 * time.Hour},
		{id: "out-read-2h", dir: store.Outbound, status: store.StatusRead, age: 2 * time.Hour},
	}
}

func seed(t testing.TB, st store.Store, msgs []seeded) {
	t.Helper()
	ctx := context.Background()
	var rows []store.Message
	var queued []store.OutboxItem
	for _, m := range msgs {
		at := t0.Add(-m.age)
		p := m.payload
		if p == "" {
			p = `{"type":"text","text":{"body":"hi"}}`
		}
		rows = append(rows, store.Message{ID: m.id, Direction: m.dir, Peer: "447700900001", Type: "text",
			Payload: []byte(p), Status: m.status, CreatedAt: at.Add(-time.Minute), UpdatedAt: at})
		if m.outbox {
			queued = append(queued, store.OutboxItem{MessageID: m.id, Recipient: "447700900001", NextAttemptAt: at, CreatedAt: at})
		}
	}
	if _, err := st.AddMessages(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if len(queued) > 0 {
		if err := st.EnqueueOutbox(ctx, queued); err != nil {
			t.Fatal(err)
		}
	}
}

// remaining returns the ids of msgs still stored, sorted.
func remaining(t *testing.T, st store.Store, msgs []seeded) []string {
	t.Helper()
	var left []string
	for _, m := range msgs {
		_, err := st.GetMessage(context.Background(), m.id)
		switch {
		case err == nil:
			left = append(left, m.id)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatal(err)
		}
	}
	sort.Strings(left)
	return left
}

func without(msgs []seeded, gone ...string) []string {
	drop := map[string]bool{}
	for _, g := range gone {
		drop[g] = true
	}
	var out []string
	for _, m := range msgs {
		if !drop[m.id] {
			out = append(out, m.id)
		}
	}
	sort.Strings(out)
	return out
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func TestMessageGCKeepsWhatIsNeeded(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		msgs := fixture()
		seed(t, st, msgs)
		c := newCollector(t, gc.Config{Store: st, Settings: switches(gc.Switches{Messages: true})})
		res, err := c.Collect(context.Background(), gc.Messages)
		if err != nil {
			t.Fatal(err)
		}
		// Without pass_through only what is past its 30-day retention goes;
		// pending, sent and queued outbound messages stay at any age.
		gone := []string{"out-delivered-old", "out-read-old", "out-failed-old", "in-received-old", "in-received-33d", "in-read-old", "in-deleted-old"}
		if got, want := remaining(t, st, msgs), without(msgs, gone...); !equal(got, want) {
			t.Errorf("left %v\nwant %v", got, want)
		}
		if res.Messages != len(gone) {
			t.Errorf("Result.Messages = %d, want %d", res.Messages, len(gone))
		}
		if n, err := st.OutboxLen(context.Background()); err != nil || n != 2 {
			t.Errorf("outbox has %d items (%v), want 2", n, err)
		}
		// A second run finds nothing more.
		if res, err := c.Collect(context.Background(), gc.Messages); err != nil || res.Messages != 0 {
			t.Errorf("second run deleted %d (%v), want 0", res.Messages, err)
		}
	})
}

func TestMessageGCPassThrough(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		msgs := fixture()
		seed(t, st, msgs)
		c := newCollector(t, gc.Config{Store: st, Settings: switches(gc.Switches{Messages: true, PassThrough: true})})
		res, err := c.Collect(context.Background(), gc.Messages)
		if err != nil {
			t.Fatal(err)
		}
		// Read and failed go once settled (a minute), read inbound after
		// the 24-hour service window it opened; delivered after a week
		// without a read receipt; unread inbound keeps its 30 days.
		gone := []string{
			"out-delivered-old", "out-read-old", "out-failed-old", "in-received-old", "in-received-33d", "in-read-old", "in-deleted-old",
			"out-delivered-10d", "out-read-10d", "out-failed-10d", "in-read-10d", "out-read-2h",
		}
		if got, want := remaining(t, st, msgs), without(msgs, gone...); !equal(got, want) {
			t.Errorf("left %v\nwant %v", got, want)
		}
		if res.Messages != len(gone) {
			t.Errorf("Result.Messages = %d, want %d", res.Messages, len(gone))
		}
	})
}

func TestMessageGCRetentionKnobs(t *testing.T) {
	st := memstore.New()
	msgs := fixture()
	seed(t, st, msgs)
	// Negative retentions keep finished messages until deleted, as
	// pass_through false did in On-Premises.
	c := newCollector(t, gc.Config{Store: st, InboundRetention: -1, OutboundRetention: -1, Settings: switches(gc.Switches{Messages: true})})
	if res, err := c.Collect(context.Background(), gc.Messages); err != nil || res.Messages != 0 {
		t.Fatalf("deleted %d (%v), want nothing", res.Messages, err)
	}
	c = newCollector(t, gc.Config{Store: st, InboundRetention: 5 * day, OutboundRetention: -1, Settings: switches(gc.Switches{Messages: true})})
	if _, err := c.Collect(context.Background(), gc.Messages); err != nil {
		t.Fatal(err)
	}
	gone := []string{"in-received-old", "in-read-old", "in-deleted-old", "in-received-33d", "in-received-10d", "in-read-10d"}
	if got, want := remaining(t, st, msgs), without(msgs, gone...); !equal(got, want) {
		t.Errorf("left %v\nwant %v", got, want)
	}
}

// An unread message whose callback may still be waiting for the webhook
// is kept past its retention: the integration may not have seen it.
func TestUnreadInboundWaitsForCallbackQueue(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		msgs := fixture()
		seed(t, st, msgs)
		head := t0.Add(-5 * day) // the webhook has been down for 5 days
		if err := st.EnqueueCallbacks(ctx, []store.Callback{{Kind: "inbound_message", Payload: []byte(`{}`), NextAttemptAt: head, CreatedAt: head}}); err != nil {
			t.Fatal(err)
		}
		c := newCollector(t, gc.Config{Store: st, Settings: switches(gc.Switches{Messages: true})})
		if _, err := c.Collect(ctx, gc.Messages); err != nil {
			t.Fatal(err)
		}
		// Received 40 days ago: before head−30d, so its callback left long
		// ago. Read messages do not wait: they were seen.
		gone := []string{"out-delivered-old", "out-read-old", "out-failed-old", "in-received-old", "in-read-old", "in-deleted-old"}
		if got, want := remaining(t, st, msgs), without(msgs, gone...); !equal(got, want) {
			t.Errorf("left %v\nwant %v", got, want)
		}
		// A queue head from 15 days ago holds back the 40-day-old one too.
		st2 := memstore.New()
		seed(t, st2, msgs)
		head = t0.Add(-15 * day)
		if err := st2.EnqueueCallbacks(ctx, []store.Callback{{Kind: "inbound_message", Payload: []byte(`{}`), NextAttemptAt: head, CreatedAt: head}}); err != nil {
			t.Fatal(err)
		}
		c = newCollector(t, gc.Config{Store: st2, Settings: switches(gc.Switches{Messages: true})})
		if _, err := c.Collect(ctx, gc.Messages); err != nil {
			t.Fatal(err)
		}
		if _, err := st2.GetMessage(ctx, "in-received-old"); err != nil {
			t.Errorf("unread message deleted while its callback may be queued: %v", err)
		}
	})
}

func TestHousekeeping(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		old, fresh := t0.Add(-40*day), t0.Add(-time.Hour)
		for i, at := range []time.Time{old, fresh} {
			c := store.Conversation{ID: fmt.Sprint("conv", i), Peer: fmt.Sprint("peer", i), Origin: "user_initiated", OpenerID: fmt.Sprint("m", i), OpenedAt: at, ExpiresAt: at.Add(day)}
			if _, _, err := st.OpenConversation(ctx, c); err != nil {
				t.Fatal(err)
			}
			if err := st.PutDecrypted(ctx, bytes.Repeat([]byte{byte(i + 1)}, store.HashLen), []byte("pt"), at); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.PutContacts(ctx, []store.Contact{
			{Input: "+1 old", WAID: "1", Status: store.ContactValid, CheckedAt: t0.Add(-8 * day)},
			{Input: "+1 new", WAID: "2", Status: store.ContactValid, CheckedAt: t0.Add(-6 * day)},
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateUser(ctx, store.User{Username: "u", PasswordHash: "h", Role: store.RoleUser, CreatedAt: old, UpdatedAt: old}); err != nil {
			t.Fatal(err)
		}
		for i, exp := range []time.Time{t0.Add(-time.Minute), t0.Add(time.Hour)} {
			if err := st.CreateToken(ctx, store.Token{Hash: bytes.Repeat([]byte{byte(i + 7)}, store.HashLen), Username: "u", CreatedAt: old, ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		// Message collection switched off: the caches are pruned anyway.
		c := newCollector(t, gc.Config{Store: st, Settings: switches(gc.Switches{})})
		res, err := c.Collect(ctx, gc.Messages)
		if err != nil {
			t.Fatal(err)
		}
		want := gc.Result{Kind: gc.Messages, Conversations: 1, Contacts: 1, Tokens: 1, DecryptBuffer: 1}
		if res != want {
			t.Errorf("result %+v, want %+v", res, want)
		}
		if got, err := st.GetContacts(ctx, []string{"+1 old", "+1 new"}); err != nil || len(got) != 1 || got[0].Input != "+1 new" {
			t.Errorf("contacts left %+v (%v)", got, err)
		}
		if _, err := st.GetToken(ctx, bytes.Repeat([]byte{8}, store.HashLen)); err != nil {
			t.Errorf("live token: %v", err)
		}
		if _, err := st.GetDecrypted(ctx, bytes.Repeat([]byte{2}, store.HashLen)); err != nil {
			t.Errorf("recent decrypt buffer entry: %v", err)
		}
		if _, err := st.GetDecrypted(ctx, bytes.Repeat([]byte{1}, store.HashLen)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("old decrypt buffer entry: %v, want not found", err)
		}
	})
}

// blobs is a MediaStore in memory.
type blobs struct {
	mu    sync.Mutex
	files map[string][]byte
	fail  map[string]bool // ids whose Delete fails
}

func newBlobs() *blobs { return &blobs{files: map[string][]byte{}, fail: map[string]bool{}} }

func (b *blobs) Put(ctx context.Context, id string, r io.Reader) (int64, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.files[id]; ok {
		return 0, store.ErrConflict
	}
	b.files[id] = data
	return int64(len(data)), nil
}

func (b *blobs) Open(ctx context.Context, id string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.files[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *blobs) Delete(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fail[id] {
		return errors.New("disk on fire")
	}
	if _, ok := b.files[id]; !ok {
		return store.ErrNotFound
	}
	delete(b.files, id)
	return nil
}

func (b *blobs) has(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.files[id]
	return ok
}

// seedMedia stores metadata (and bytes, if withBytes) last used age ago.
func seedMedia(t testing.TB, st store.Store, b *blobs, id string, age time.Duration, withBytes bool) {
	t.Helper()
	ctx := context.Background()
	at := t0.Add(-age)
	if err := st.CreateMedia(ctx, store.Media{ID: id, Origin: store.MediaUploaded, MimeType: "image/jpeg", Size: 3, CreatedAt: at, LastUsedAt: at}); err != nil {
		t.Fatal(err)
	}
	if withBytes {
		if _, err := b.Put(ctx, id, bytes.NewReader([]byte("jpg"))); err != nil {
			t.Fatal(err)
		}
	}
}

func mediaLeft(t *testing.T, st store.Store, b *blobs, ids ...string) (meta, files []string) {
	t.Helper()
	for _, id := range ids {
		if _, err := st.GetMedia(context.Background(), id); err == nil {
			meta = append(meta, id)
		} else if !errors.Is(err, store.ErrNotFound) {
			t.Fatal(err)
		}
		if b.has(id) {
			files = append(files, id)
		}
	}
	return meta, files
}

func TestMediaGC(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		b := newBlobs()
		seedMedia(t, st, b, "old", 31*day, true)
		seedMedia(t, st, b, "old-no-bytes", 45*day, false)
		seedMedia(t, st, b, "recent", 29*day, true)
		seedMedia(t, st, b, "old-queued", 40*day, true)
		seedMedia(t, st, b, "old-sent", 40*day, true)
		// A queued message still needs its image; one already sent does not.
		seed(t, st, []seeded{
			{id: "q1", dir: store.Outbound, status: store.StatusPending, age: 40 * day, outbox: true, payload: `{"type":"image","image":{"id":"old-queued","caption":"x"}}`},
			{id: "s1", dir: store.Outbound, status: store.StatusSent, age: 40 * day, payload: `{"type":"image","image":{"id":"old-sent"}}`},
		})
		c := newCollector(t, gc.Config{Store: st, Media: b, Settings: switches(gc.Switches{})})
		res, err := c.Collect(ctx, gc.Media)
		if err != nil {
			t.Fatal(err)
		}
		if res.Media != 3 {
			t.Errorf("deleted %d media, want 3", res.Media)
		}
		all := []string{"old", "old-no-bytes", "recent", "old-queued", "old-sent"}
		meta, files := mediaLeft(t, st, b, all...)
		if want := []string{"recent", "old-queued"}; !equal(meta, want) || !equal(files, want) {
			t.Errorf("left metadata %v and files %v, want %v", meta, files, want)
		}
	})
}

func TestMediaGCReportsFileFailures(t *testing.T) {
	st := memstore.New()
	b := newBlobs()
	seedMedia(t, st, b, "a", 40*day, true)
	seedMedia(t, st, b, "b", 40*day, true)
	b.fail["a"] = true
	c := newCollector(t, gc.Config{Store: st, Media: b})
	res, err := c.Collect(context.Background(), gc.Media)
	if err == nil || res.Media != 1 {
		t.Fatalf("got %d deleted and err %v, want 1 and an error", res.Media, err)
	}
	if b.has("b") {
		t.Error("b's bytes survived")
	}
}

// counting records what each batch of a collection touched.
type counting struct {
	store.Store
	mu          sync.Mutex
	pruneLimits []int
	pruned      []int
	txDeletes   []int
	// The decrypt buffer, a row per received message, is pruned in
	// batches too.
	decryptLimits, decryptPruned []int
}

func (c *counting) PruneMessages(ctx context.Context, q store.PruneQuery) (int, error) {
	n, err := c.Store.PruneMessages(ctx, q)
	c.mu.Lock()
	c.pruneLimits = append(c.pruneLimits, q.Limit)
	c.pruned = append(c.pruned, n)
	c.mu.Unlock()
	return n, err
}

func (c *counting) PruneDecrypted(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := c.Store.PruneDecrypted(ctx, before, limit)
	c.mu.Lock()
	c.decryptLimits = append(c.decryptLimits, limit)
	c.decryptPruned = append(c.decryptPruned, n)
	c.mu.Unlock()
	return n, err
}

func (c *counting) InTx(ctx context.Context, fn func(tx store.Store) error) error {
	var n int
	err := c.Store.InTx(ctx, func(tx store.Store) error {
		ct := &txCounting{Store: tx}
		err := fn(ct)
		n = ct.deletes
		return err
	})
	c.mu.Lock()
	c.txDeletes = append(c.txDeletes, n)
	c.mu.Unlock()
	return err
}

type txCounting struct {
	store.Store
	deletes int
}

func (t *txCounting) DeleteMedia(ctx context.Context, id string) error {
	t.deletes++
	return t.Store.DeleteMedia(ctx, id)
}

func TestBoundedBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var msgs []seeded
		for i := range 11 {
			msgs = append(msgs, seeded{id: fmt.Sprint("r", i), dir: store.Outbound, status: store.StatusRead, age: 40 * day})
		}
		seed(t, st, msgs)
		for i := range 7 {
			var h [32]byte
			h[0] = byte(i + 1)
			if err := st.PutDecrypted(ctx, h[:], []byte("x"), t0.Add(-40*day)); err != nil {
				t.Fatal(err)
			}
		}
		b := newBlobs()
		for i := range 8 {
			seedMedia(t, st, b, fmt.Sprint("m", i), 40*day, true)
		}
		cs := &counting{Store: st}
		c := newCollector(t, gc.Config{Store: cs, Media: b, BatchSize: 3})
		res, err := c.Collect(ctx, gc.Messages)
		if err != nil || res.Messages != 11 {
			t.Fatalf("deleted %d (%v), want 11", res.Messages, err)
		}
		for i, n := range cs.pruned {
			if cs.pruneLimits[i] != 3 || n > 3 {
				t.Errorf("batch %d: limit %d deleted %d, want at most 3", i, cs.pruneLimits[i], n)
			}
		}
		if len(cs.pruned) < 4 {
			t.Errorf("11 messages in %d batches of at most 3", len(cs.pruned))
		}
		if res.DecryptBuffer != 7 || len(cs.decryptPruned) < 3 {
			t.Errorf("decrypt buffer: %d pruned in %v, want 7 in batches of at most 3", res.DecryptBuffer, cs.decryptPruned)
		}
		for i, n := range cs.decryptPruned {
			if cs.decryptLimits[i] != 3 || n > 3 {
				t.Errorf("decrypt batch %d: limit %d deleted %d", i, cs.decryptLimits[i], n)
			}
		}
		res, err = c.Collect(ctx, gc.Media)
		if err != nil || res.Media != 8 {
			t.Fatalf("deleted %d media (%v), want 8", res.Media, err)
		}
		for i, n := range cs.txDeletes {
			if n > 3 {
				t.Errorf("media transaction %d deleted %d, want at most 3", i, n)
			}
		}
		if len(cs.txDeletes) < 3 {
			t.Errorf("8 media in %d transactions of at most 3", len(cs.txDeletes))
		}
	})
}

func TestScheduledRunsFollowSwitches(t *testing.T) {
	for _, sw := range []gc.Switches{{}, {Messages: true, Media: true}} {
		t.Run(fmt.Sprintf("messages=%v,media=%v", sw.Messages, sw.Media), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st := memstore.New()
			msgs := []seeded{{id: "old", dir: store.Outbound, status: store.StatusRead, age: 40 * day}}
			seed(t, st, msgs)
			b := newBlobs()
			seedMedia(t, st, b, "m", 40*day, true)
			if err := st.PutContacts(ctx, []store.Contact{{Input: "x", WAID: "1", Status: store.ContactValid, CheckedAt: t0.Add(-8 * day)}}); err != nil {
				t.Fatal(err)
			}
			c := newCollector(t, gc.Config{Store: st, Media: b, Settings: switches(sw), MinInterval: time.Millisecond, MaxInterval: 3 * time.Millisecond})
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.Run(ctx)
			}()
			// The contact cache is pruned on every scheduled run.
			deadline := time.Now().Add(10 * time.Second)
			for {
				got, err := st.GetContacts(ctx, []string{"x"})
				if err != nil {
					t.Fatal(err)
				}
				if len(got) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no scheduled run happened")
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // several more runs
			cancel()
			<-done
			_, errMsg := st.GetMessage(context.Background(), "old")
			_, errMedia := st.GetMedia(context.Background(), "m")
			if gotGone := errors.Is(errMsg, store.ErrNotFound); gotGone != sw.Messages {
				t.Errorf("message deleted = %v, want %v", gotGone, sw.Messages)
			}
			if gotGone := errors.Is(errMedia, store.ErrNotFound); gotGone != sw.Media {
				t.Errorf("media deleted = %v, want %v", gotGone, sw.Media)
			}
		})
	}
}

func TestDelayIsJittered(t *testing.T) {
	c := newCollector(t, gc.Config{Store: memstore.New()})
	lo, hi := 3*time.Hour, 6*time.Hour
	seen := map[time.Duration]bool{}
	var min, max time.Duration = hi, lo
	for range 1000 {
		d := c.Delay()
		if d < lo || d > hi {
			t.Fatalf("delay %v outside [%v, %v]", d, lo, hi)
		}
		seen[d] = true
		min, max = minDur(min, d), maxDur(max, d)
	}
	if len(seen) < 900 {
		t.Errorf("only %d distinct delays in 1000", len(seen))
	}
	// Uniform over 3 hours: 1000 draws come within minutes of both ends.
	if min > lo+15*time.Minute || max < hi-15*time.Minute {
		t.Errorf("delays span [%v, %v], want close to [%v, %v]", min, max, lo, hi)
	}
	fixed := newCollector(t, gc.Config{Store: memstore.New(), MinInterval: time.Hour, MaxInterval: time.Hour})
	if d := fixed.Delay(); d != time.Hour {
		t.Errorf("fixed interval: delay %v", d)
	}
}

func minDur(a, b time.Duration) time.Duration { return min(a, b) }
func maxDur(a, b time.Duration) time.Duration { return max(a, b) }

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]gc.Config{
		"no store":       {},
		"inverted range": {Store: memstore.New(), MinInterval: 2 * time.Hour, MaxInterval: time.Hour},
		"negative batch": {Store: memstore.New(), BatchSize: -1},
		"negative pause": {Store: memstore.New(), Pause: -time.Second},
	} {
		if _, err := gc.New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	c := newCollector(t, gc.Config{Store: memstore.New()})
	if _, err := c.Collect(context.Background(), "logs"); err == nil {
		t.Error("Collect accepted an unknown kind")
	}
}

// Runs of one kind exclude each other; a second request while the first
// is outstanding is refused with ErrBusy, and accepted again after.
func TestOneRunAtATime(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	c := newCollector(t, gc.Config{Store: st})
	req, err := c.Begin(ctx, gc.Messages)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Begin(ctx, gc.Messages); !errors.Is(err, gc.ErrBusy) {
		t.Fatalf("second Begin: %v, want ErrBusy", err)
	}
	other := newCollector(t, gc.Config{Store: st}) // another instance
	if _, err := other.Begin(ctx, gc.Messages); !errors.Is(err, gc.ErrBusy) {
		t.Fatalf("Begin on another collector: %v, want ErrBusy", err)
	}
	media, err := c.Begin(ctx, gc.Media) // another kind is independent
	if err != nil {
		t.Fatal(err)
	}
	if _, err := media.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Run(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := c.Begin(ctx, gc.Messages)
	if err != nil {
		t.Fatalf("Begin after the run ended: %v", err)
	}
	if _, err := again.Run(ctx); err != nil {
		t.Fatal(err)
	}

	// Concurrent runs wait for each other rather than overlap.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			_, err := c.Collect(ctx, gc.Messages)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// A run waiting behind another gives up when its context ends.
func TestCollectWaitHonoursContext(t *testing.T) {
	st := memstore.New()
	c := newCollector(t, gc.Config{Store: st})
	if _, err := st.AcquireLease(context.Background(), "gc.message", "someone", t0, time.Hour); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := c.Collect(ctx, gc.Messages); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Collect: %v, want deadline exceeded", err)
	}
}
