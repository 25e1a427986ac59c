package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/store"
)

// item is one queued message in the dispatcher's memory.
type item struct {
	id, peer string
	wire     *Wire
	attempts int
	// notBefore holds the item back after a failed attempt.
	notBefore time.Time
	// sentAt is set while the item awaits the server's ack.
	sentAt time.Time
	// retry is the count of the recipient's retry receipt this re-send
	// answers (0 for a normal send); it goes out as <enc count=…>.
	retry int
	// bundle, when set, builds a new session before this item is
	// encrypted; fetchBundle asks the server for one first.
	bundle      *crypto.Bundle
	fetchBundle bool
	// again: a retry receipt arrived while this item was in flight; it is
	// sent again when that copy is acked.
	again bool
}

func (it *item) inFlight() bool { return !it.sentAt.IsZero() }

// recipient is one recipient's FIFO: items stay in it, in order, until
// acked, so a re-send after a lost connection keeps its place.
type recipient struct {
	name     string
	items    []*item
	inFlight int
}

// dispatcher owns all in-memory send state; only its goroutine touches it.
type dispatcher struct {
	o   *Outbox
	cfg *Config

	byPeer map[string]*recipient
	known  map[string]*item
	// rr is the recipients in round-robin order for fairness; a recipient
	// is dropped from it when its queue empties.
	rr []string
	// overflow: the store may hold items memory does not; feeds are
	// ignored (they are in the store) until a load catches up.
	overflow  bool
	connected bool
	// sessions caches which peers have a Signal session, so the common
	// case needs no read before the encrypt transaction.
	sessions map[string]bool
	tick     *time.Ticker
}

func newDispatcher(o *Outbox) *dispatcher {
	return &dispatcher{
		o: o, cfg: &o.cfg,
		byPeer:   map[string]*recipient{},
		known:    map[string]*item{},
		overflow: true, // what the store holds from before is loaded first
		sessions: map[string]bool{},
	}
}

func (d *dispatcher) run(ctx context.Context) {
	d.tick = time.NewTicker(time.Second)
	defer d.tick.Stop()
	for {
		// Take every pending event without blocking, then send what is
		// sendable; block only when there is nothing to do.
		d.drainEvents(ctx)
		if ctx.Err() != nil {
			return
		}
		if d.connected && d.overflow && len(d.known) < max(1, d.cfg.MemoryLimit/2) {
			d.load(ctx)
		}
		if d.connected {
			if batch := d.pick(); len(batch) > 0 {
				d.send(ctx, batch)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.o.feed.ready:
			d.add(d.o.feed.take())
		case e := <-d.o.events:
			e(ctx, d)
		case <-d.tick.C:
			d.expire()
		}
	}
}

// drainEvents handles every event that is ready, without blocking. The
// ticker is served here too: under steady load the loop never blocks, and
// an ack that never comes must still expire.
func (d *dispatcher) drainEvents(ctx context.Context) {
	for {
		select {
		case <-d.o.feed.ready:
			d.add(d.o.feed.take())
		case e := <-d.o.events:
			e(ctx, d)
		case <-d.tick.C:
			d.expire()
		default:
			return
		}
	}
}

func (d *dispatcher) setConnected(up bool) {
	d.connected = up
	if up {
		return
	}
	// Whatever was written may or may not have reached the server; it is
	// all sent again, under the same ids, once connected.
	for _, r := range d.byPeer {
		for _, it := range r.items {
			it.sentAt = time.Time{}
			it.again = false // it goes out again anyway
		}
		r.inFlight = 0
	}
}

// add takes freshly committed items; over means later ones were left in
// the store.
func (d *dispatcher) add(its []*item, over bool) {
	if d.overflow {
		return // the next load brings them, in order
	}
	if over {
		// Keep what came before the gap and load the rest in order.
		defer func() { d.overflow = true }()
	}
	for _, it := range its {
		if len(d.known) >= d.cfg.MemoryLimit {
			d.overflow = true
			return
		}
		d.push(it)
	}
}

func (d *dispatcher) push(it *item) {
	if _, dup := d.known[it.id]; dup {
		return
	}
	r := d.byPeer[it.peer]
	if r == nil {
		r = &recipient{name: it.peer}
		d.byPeer[it.peer] = r
		d.rr = append(d.rr, it.peer)
	}
	r.items = append(r.items, it)
	d.known[it.id] = it
}

// load brings items from the store that memory does not hold, oldest
// first; once a load returns fewer than asked, memory has everything.
func (d *dispatcher) load(ctx context.Context) {
	// Rows of messages this dispatcher already let go of (acked, failed)
	// may still await their removal in the status committer; wait for it,
	// or they would be loaded and sent a second time.
	if err := d.o.statusBarrier(ctx); err != nil {
		d.o.log.Error("load outbox: wait for status commits", "err", err)
		return
	}
	room := d.cfg.MemoryLimit - len(d.known)
	limit := len(d.known) + room
	far := d.cfg.Now().Add(100 * 365 * 24 * time.Hour)
	rows, err := d.cfg.Store.DueOutbox(ctx, far, limit)
	if err != nil {
		d.o.log.Error("load outbox", "err", err)
		return
	}
	for _, row := range rows {
		if _, ok := d.known[row.MessageID]; ok {
			continue
		}
		d.push(&item{id: row.MessageID, peer: row.Recipient, attempts: row.Attempts})
	}
	if len(rows) < limit {
		d.overflow = false
	}
}

// pick chooses up to BatchSize sendable items, round-robin over
// recipients, each recipient's in FIFO order and within its window.
func (d *dispatcher) pick() []*item {
	now := d.cfg.Now()
	var batch []*item
	for progress := true; progress && len(batch) < d.cfg.BatchSize; {
		progress = false
		for _, name := range d.rr {
			r := d.byPeer[name]
			if r.inFlight >= d.cfg.Window {
				continue
			}
			for _, it := range r.items {
				if it.inFlight() {
					continue
				}
				// The first item not in flight decides: if it waits, the
				// ones behind it wait too.
				if it.notBefore.After(now) {
					break
				}
				it.sentAt = now // reserved; confirmed or undone by send
				r.inFlight++
				batch = append(batch, it)
				progress = true
				break
			}
			if len(batch) >= d.cfg.BatchSize {
				break
			}
		}
	}
	return batch
}

// send encrypts a batch in one transaction and writes it. Sessions are
// committed before anything goes on the wire: re-using a ratchet step after
// a crash would make the phone drop the message.
func (d *dispatcher) send(ctx context.Context, batch []*item) {
	d.ensureWire(ctx, batch)
	batch = d.ensureSessions(ctx, batch)
	if len(batch) == 0 {
		return
	}
	if nodes, ok := d.sendOptimistic(ctx, batch); ok {
		d.write(ctx, batch, nodes)
		return
	}
	var nodes []wabin.Node
	var failed []StatusChange
	var failedItems, later []*item
	var laterWhy []error
	held := map[string]bool{}
	d.cfg.SignalLock.Lock()
	defer d.cfg.SignalLock.Unlock()
	err := d.cfg.Store.InTx(ctx, func(tx store.Store) error {
		nodes, failed, failedItems, later, laterWhy = nodes[:0], failed[:0], failedItems[:0], later[:0], laterWhy[:0]
		clear(held)
		b := d.cfg.Signal.Begin(tx)
		fail480 := func(it *item) {
			failed = append(failed, d.failure(it, 480, "User potentially changed", "the recipient's identity changed and must be acknowledged"))
			failedItems = append(failedItems, it)
		}
		for _, it := range batch {
			addr := store.Address{Name: it.peer}
			if bn, ok := it.pendingBundle(); ok {
				ch, err := b.ProcessBundle(ctx, addr, bn)
				if errors.Is(err, crypto.ErrInvalidBundle) {
					// This peer's problem only: fetch again later.
					it.fetchBundle = true
					later, laterWhy = append(later, it), append(laterWhy, err)
					continue
				}
				if err != nil {
					return fmt.Errorf("session with %s: %w", it.peer, err)
				}
				if ch != nil && d.cfg.Hooks.OnIdentityChange != nil {
					fail, err := d.cfg.Hooks.OnIdentityChange(ctx, tx, *ch)
					if err != nil {
						return err
					}
					if fail {
						held[it.peer] = true
					}
				}
			}
			// Every message to a peer whose identity change awaits the
			// business's acknowledgement is held back, not only the one
			// that found the change.
			h, err := d.isHeld(ctx, tx, held, it.peer)
			if err != nil {
				return err
			}
			if h {
				fail480(it)
				continue
			}
			ct, err := b.Encrypt(ctx, addr, it.wire.Plaintext)
			if errors.Is(err, crypto.ErrNoSession) {
				// The session went away under us (an identity change
				// notification): build a new one on the next attempt.
				it.fetchBundle = true
				later, laterWhy = append(later, it), append(laterWhy, err)
				continue
			}
			if err != nil {
				return fmt.Errorf("encrypt for %s: %w", it.peer, err)
			}
			nodes = append(nodes, messageNode(it, ct))
		}
		return b.Flush(ctx)
	})
	for _, it := range batch {
		it.bundle = nil
	}
	if err != nil {
		d.o.log.Error("encrypt batch", "n", len(batch), "err", err)
		for _, it := range batch {
			d.sessions[it.peer] = false // re-check: the session may be the problem
			d.backOff(it, err.Error())
		}
		return
	}
	for i, it := range later {
		d.sessions[it.peer] = false
		d.backOff(it, laterWhy[i].Error())
	}
	d.finish(ctx, failedItems, failed)
	d.write(ctx, batch, nodes)
}

// write puts the encrypted messages on the wire, in order, and starts
// their ack clocks.
func (d *dispatcher) write(ctx context.Context, batch []*item, nodes []wabin.Node) {
	debug := d.o.log.Enabled(ctx, slog.LevelDebug)
	for i := range nodes {
		if debug {
			enc, _ := nodes[i].Child("enc")
			d.o.log.Debug("send", "id", nodes[i].AttrString("id"), "to", nodes[i].AttrString("to"), "enc", enc.AttrString("type"), "count", enc.AttrString("count"))
		}
		if err := d.cfg.Transport.Send(ctx, nodes[i]); err != nil {
			// Not connected any more: everything not yet acked is re-sent
			// when the connection is back.
			d.o.log.Debug("write message", "err", err)
			d.setConnected(false)
			return
		}
	}
	now := d.cfg.Now()
	for _, it := range batch {
		if it.inFlight() {
			it.sentAt = now
		}
	}
}

// ensureWire rebuilds the wire form of items loaded from the store.
func (d *dispatcher) ensureWire(ctx context.Context, batch []*item) {
	var failed []StatusChange
	var failedItems []*item
	for _, it := range batch {
		if it.wire != nil {
			continue
		}
		m, err := d.cfg.Store.GetMessage(ctx, it.id)
		if errors.Is(err, store.ErrNotFound) {
			// Deleted under us (garbage collection of a dead message):
			// nothing left to send, and its outbox row goes too.
			d.drop(it)
			if err := d.o.ApplyStatuses(context.Background(), false, StatusChange{MessageID: it.id, Peer: it.peer, Final: true}); err != nil {
				d.o.log.Error("remove outbox row of a deleted message", "id", it.id, "err", err)
			}
			continue
		}
		if err != nil {
			d.backOff(it, err.Error())
			continue
		}
		w, err := d.cfg.Hooks.Wire(m)
		if err != nil {
			failed = append(failed, d.failure(it, 1000, "Generic error", "cannot rebuild the message: "+err.Error()))
			failedItems = append(failedItems, it)
			continue
		}
		it.wire = &w
	}
	d.finish(ctx, failedItems, failed)
}

// ensureSessions fetches prekey bundles, in one request, for the
// recipients in batch without a session. It returns the items that can go
// ahead.
func (d *dispatcher) ensureSessions(ctx context.Context, batch []*item) []*item {
	var need []string
	seen, needSet := map[string]bool{}, map[string]bool{}
	rd := d.cfg.Signal.Begin(d.cfg.Store)
	for _, it := range batch {
		if it.wire == nil || !it.inFlight() || seen[it.peer] || it.bundle != nil {
			continue
		}
		if it.fetchBundle {
			seen[it.peer], needSet[it.peer] = true, true
			need = append(need, it.peer)
			continue
		}
		if d.sessions[it.peer] {
			continue
		}
		seen[it.peer] = true
		ok, err := rd.HasSession(ctx, store.Address{Name: it.peer})
		if err != nil {
			d.o.log.Error("check session", "peer", it.peer, "err", err)
			continue
		}
		if ok {
			d.sessions[it.peer] = true
			continue
		}
		needSet[it.peer] = true
		need = append(need, it.peer)
	}
	if len(need) == 0 {
		return d.live(batch)
	}
	bundles, missing, err := fetchBundles(ctx, d.cfg.Transport, need)
	if err != nil {
		for _, it := range batch {
			if needSet[it.peer] {
				d.backOff(it, err.Error())
			}
		}
		return d.live(batch)
	}
	var failed []StatusChange
	var failedItems []*item
	assigned := map[string]bool{}
	for _, it := range batch {
		if !it.inFlight() || !needSet[it.peer] {
			continue
		}
		it.fetchBundle = false
		if code, ok := missing[it.peer]; ok {
			if code == 404 {
				failed = append(failed, d.failure(it, 1013, "User is not valid", "the recipient is not a WhatsApp user"))
				failedItems = append(failedItems, it)
			} else {
				d.backOff(it, "prekey fetch error "+strconv.Itoa(code))
			}
			continue
		}
		// Only the first message to the peer builds the session; the rest
		// of the batch encrypts on it.
		if !assigned[it.peer] {
			bn := bundles[it.peer]
			it.bundle = &bn
			assigned[it.peer] = true
			d.sessions[it.peer] = true
		}
	}
	d.finish(ctx, failedItems, failed)
	return d.live(batch)
}

// live keeps the items of batch still reserved for this send.
func (d *dispatcher) live(batch []*item) []*item {
	out := batch[:0]
	for _, it := range batch {
		if it.inFlight() && d.known[it.id] == it {
			out = append(out, it)
		}
	}
	return out
}

func (it *item) pendingBundle() (crypto.Bundle, bool) {
	if it.bundle == nil {
		return crypto.Bundle{}, false
	}
	return *it.bundle, true
}

func messageNode(it *item, ct crypto.Ciphertext) wabin.Node {
	enc := wabin.Node{Tag: "enc", Attrs: wabin.Attrs{"v": "2", "type": ct.Type}, Content: ct.Data}
	if it.wire.MediaType != "" {
		enc.Attrs["mediatype"] = it.wire.MediaType
	}
	if it.retry > 0 {
		enc.Attrs["count"] = strconv.Itoa(it.retry)
	}
	typ := it.wire.StanzaType
	if typ == "" {
		typ = "text"
	}
	return wabin.Node{Tag: "message", Attrs: wabin.Attrs{
		"id": it.id, "to": wabin.NewJID(it.peer, wabin.DefaultUserServer), "type": typ,
	}, Content: []wabin.Node{enc}}
}

func (d *dispatcher) failure(it *item, code int, title, detail string) StatusChange {
	return StatusChange{MessageID: it.id, Peer: it.peer, Status: store.StatusFailed, At: d.cfg.Now(),
		Final: true, ErrorCode: code, ErrorTitle: title, ErrorDetail: detail}
}

// finish records final failures and forgets the items.
func (d *dispatcher) finish(ctx context.Context, its []*item, changes []StatusChange) {
	if len(changes) == 0 {
		return
	}
	for _, it := range its {
		d.drop(it)
	}
	if err := d.o.ApplyStatuses(context.Background(), false, changes...); err != nil {
		d.o.log.Error("record failed messages", "err", err)
	}
}

func (d *dispatcher) backOff(it *item, why string) {
	if d.known[it.id] != it {
		return
	}
	it.attempts++
	it.notBefore = d.cfg.Now().Add(backoff(it.attempts, d.cfg.RetryMin, d.cfg.RetryMax))
	if it.inFlight() {
		it.sentAt = time.Time{}
		d.byPeer[it.peer].inFlight--
	}
	d.o.log.Debug("send attempt failed", "id", it.id, "attempts", it.attempts, "err", why)
}

// drop forgets an item (acked or failed for good).
func (d *dispatcher) drop(it *item) {
	if d.known[it.id] != it {
		return
	}
	delete(d.known, it.id)
	r := d.byPeer[it.peer]
	for i, x := range r.items {
		if x == it {
			r.items = append(r.items[:i], r.items[i+1:]...)
			break
		}
	}
	if it.inFlight() {
		r.inFlight--
	}
	if len(r.items) == 0 {
		delete(d.byPeer, it.peer)
		for i, n := range d.rr {
			if n == it.peer {
				d.rr = append(d.rr[:i], d.rr[i+1:]...)
				break
			}
		}
	}
}

func (d *dispatcher) ack(ctx context.Context, r ackResult) {
	it := d.known[r.id]
	if it == nil {
		return // a second ack, or one for a message not ours
	}
	switch {
	case r.errCode == 0 && it.again:
		// A retry receipt came for the copy now acked: send it again.
		it.again = false
		if it.inFlight() {
			it.sentAt = time.Time{}
			d.byPeer[it.peer].inFlight--
		}
	case r.errCode == 0:
		d.drop(it) // HandleAck recorded the status and removed the row
	case r.errCode == 404:
		d.finish(ctx, []*item{it}, []StatusChange{d.failure(it, 1013, "User is not valid", "the recipient is not a WhatsApp user")})
	default:
		d.backOff(it, "server ack error "+strconv.Itoa(r.errCode))
	}
}

// expire re-sends messages whose ack did not come in time.
func (d *dispatcher) expire() {
	deadline := d.cfg.Now().Add(-d.cfg.AckTimeout)
	for _, r := range d.byPeer {
		for _, it := range r.items {
			if it.inFlight() && it.sentAt.Before(deadline) {
				d.backOff(it, "no ack from the server")
			}
		}
	}
}

// retry answers a retry receipt: the message is encrypted and sent again
// with the receipt's count. done (which acks the receipt) runs once the
// re-send is durable: at once when the message is still in the outbox,
// else after it went back in.
func (d *dispatcher) retry(ctx context.Context, n wabin.Node, done func()) {
	if done == nil {
		done = func() {}
	}
	id := n.AttrString("id")
	from, ok := n.AttrJID("from")
	if !ok || id == "" {
		done()
		return
	}
	count := 1
	if rn, ok := n.Child("retry"); ok {
		if c, err := strconv.Atoi(rn.AttrString("count")); err == nil && c > 0 {
			count = c
		}
	}
	const maxRetries = 5
	if count > maxRetries {
		done()
		return
	}
	m, err := d.cfg.Store.GetMessage(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (m.Direction != store.Outbound || m.Peer != from.User)) {
		d.o.log.Debug("retry receipt for an unknown message", "id", id, "from", from.User)
		done()
		return
	}
	if err != nil {
		// Not acked: the server delivers the receipt again.
		d.o.log.Error("retry receipt: load message", "id", id, "err", err)
		return
	}
	w, err := d.cfg.Hooks.Wire(m)
	if err != nil {
		d.o.log.Error("rebuild message for retry", "id", id, "err", err)
		done()
		return
	}
	// The message goes (back) into the outbox through the status
	// committer, after any removal that committer still holds for it, and
	// the receipt is acked only once that is durable: a crash in between
	// makes the server deliver the receipt again.
	err = d.o.ApplyStatusesThen(context.Background(), func(err error) {
		if err == nil {
			done()
		} else {
			d.o.log.Error("retry receipt: queue re-send", "id", id, "err", err)
		}
	}, StatusChange{MessageID: id, Peer: m.Peer, requeue: true})
	if err != nil {
		return
	}
	it := d.known[id]
	switch {
	case it == nil:
		it = &item{id: id, peer: m.Peer}
		d.push(it)
		// A re-send goes first: the peer is waiting for it.
		r := d.byPeer[m.Peer]
		copy(r.items[1:], r.items[:len(r.items)-1])
		r.items[0] = it
	case it.inFlight():
		// The copy in flight is the one the phone could not read: send
		// again once it is acked.
		it.again = true
	}
	it.wire, it.retry = &w, count
	it.notBefore = time.Time{}
	// A first retry is answered on the current session: the phone may
	// only have missed a ratchet step. From the second on the session is
	// rebuilt, from the keys the phone sent or from a fresh bundle. A new
	// session archives the old one instead of deleting it, so what the
	// phone already encrypted on the old one still decrypts here.
	if count >= 2 {
		if bn, err := ParseBundle(n); err == nil {
			it.bundle = &bn
		} else {
			it.fetchBundle = true
		}
	}
}

// isHeld asks Hooks.Held about peer once per batch (memo holds the
// answers).
func (d *dispatcher) isHeld(ctx context.Context, st store.Store, memo map[string]bool, peer string) (bool, error) {
	if h, ok := memo[peer]; ok || d.cfg.Hooks.Held == nil {
		return h, nil
	}
	h, err := d.cfg.Hooks.Held(ctx, st, peer)
	if err != nil {
		return false, err
	}
	memo[peer] = h
	return h, nil
}
