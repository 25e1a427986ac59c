package waent

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/content"
	"github.com/waent/waent/crypto"
	"github.com/waent/waent/outbox"
	"github.com/waent/waent/store"
	"github.com/waent/waent/waproto/waE2E"
)

// inboundMsg is a received <message> on its way through the inbound group
// commit. commitInbound fills the result fields; they are read after the
// commit, on the same goroutine.
type inboundMsg struct {
	marker bool // the offline backlog ends here
	node   wabin.Node
	from   string
	id     string
	at     time.Time
	notify string

	// results
	revokes   string // the id of the sender's message this one deletes
	decrypted bool   // receipt and ack
	retry     bool   // decryption failed: retry receipt
	nack      int    // unusable stanza: ack with this error

	// Media (mediarecv.go): download is the media id this message queued
	// for download; a marker's mediaDone lists ids whose download ended,
	// to drop from the pending list.
	download  string
	mediaDone []string
}

// handleMessage hands a <message> to the inbound group commit. It returns
// at once; the receipt goes out only once the message is committed.
func (c *Client) handleMessage(ctx context.Context, parts *chatParts, n wabin.Node) {
	from, ok := n.AttrJID("from")
	m := &inboundMsg{node: n, id: n.AttrString("id"), notify: n.AttrString("notify"), at: c.now()}
	if t, err := strconv.ParseInt(n.AttrString("t"), 10, 64); err == nil && t > 0 {
		m.at = time.Unix(t, 0)
	}
	if !ok || from.Server != wabin.DefaultUserServer || from.User == "" || len(from.User) > store.MaxIDLen {
		// Groups, broadcasts and malformed stanzas are not for this
		// client; acking them with 489 stops redelivery.
		c.sendAck(parts, n, 489)
		return
	}
	if m.id == "" || len(m.id) > store.MaxIDLen {
		// An id the store cannot keep would fail every batch it joined.
		c.sendAck(parts, n, 487)
		return
	}
	m.from = from.User
	if err := parts.inbound.SubmitAsync(c.ctx, m, func(err error) { c.afterInbound(parts, m, err) }); err != nil {
		return // closing: the server redelivers what was not acked
	}
}

// commitInbound decrypts a batch of messages and stores them with their
// callbacks in one transaction. Signal's exactly-once decrypt buffer is
// written in the same transaction, so a crash at any point either keeps
// everything (and the redelivered copy is recognised) or nothing.
func (c *Client) commitInbound(ctx context.Context, parts *chatParts, msgs []*inboundMsg) error {
	err := c.commitInboundBatch(ctx, parts, msgs)
	if err == nil && slices.ContainsFunc(msgs, func(m *inboundMsg) bool { return m.marker && m.mediaDone == nil }) {
		// An offline backlog is committed, after a (re)connection or a
		// restart: retry the media downloads still pending (mediarecv.go).
		c.resumeMediaDownloads(parts)
	}
	if err == nil || len(msgs) == 1 || !errors.Is(err, store.ErrInvalid) {
		return err
	}
	// One message the store rejects must not hold back the others: commit
	// them one by one; the rejected one is nacked (not retried forever).
	var first error
	for _, m := range msgs {
		if err := c.commitInboundBatch(ctx, parts, []*inboundMsg{m}); err != nil {
			if errors.Is(err, store.ErrInvalid) {
				c.log.Warn("inbound message rejected by the store", "id", m.id, "from", m.from, "err", err)
				m.decrypted, m.retry, m.nack = false, false, 500
				continue
			}
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (c *Client) commitInboundBatch(ctx context.Context, parts *chatParts, msgs []*inboundMsg) error {
	settings := c.Settings()
	// Sessions change here and in the outbox; see outbox.Config.SignalLock.
	c.signalMu.Lock()
	defer c.signalMu.Unlock()
	return c.st.InTx(ctx, func(tx store.Store) error {
		b := parts.sig.Begin(tx)
		var recs []store.Message
		var cbs [][]store.Callback         // per record
		var extra []store.Callback         // callbacks not tied to a new record
		var downloads, downloaded []string // media ids (mediarecv.go)
		for _, m := range msgs {
			m.decrypted, m.retry, m.nack, m.revokes, m.download = false, false, 0, "", ""
			if m.marker {
				downloaded = append(downloaded, m.mediaDone...)
				continue
			}
			rec, cb, more, err := c.decodeInbound(ctx, b, tx, m, settings)
			if err != nil {
				return err
			}
			extra = append(extra, more...)
			if rec != nil {
				recs = append(recs, *rec)
				cbs = append(cbs, cb)
			}
			if m.download != "" {
				downloads = append(downloads, m.download)
			}
		}
		if err := updatePendingDownloads(ctx, tx, downloads, downloaded, c.now()); err != nil {
			return err
		}
		if len(recs) > 0 {
			added, err := tx.AddMessages(ctx, recs)
			if err != nil {
				return err
			}
			for i, ok := range added {
				if ok { // a redelivered message was reported the first time
					extra = append(extra, cbs[i]...)
				}
			}
		}
		for _, m := range msgs {
			if m.revokes == "" {
				continue
			}
			cb, err := c.deletedCallback(ctx, tx, m.revokes, m)
			if err != nil {
				return err
			}
			extra = append(extra, cb...)
		}
		if len(extra) > 0 {
			if err := tx.EnqueueCallbacks(ctx, extra); err != nil {
				return err
			}
		}
		return b.Flush(ctx)
	})
}

// decodeInbound decrypts one message. It returns the record to store and
// its callback, callbacks to enqueue regardless (system messages,
// deleted statuses), or an error that must roll the batch back (a store
// failure).
func (c *Client) decodeInbound(ctx context.Context, b *crypto.Batch, tx store.Store, m *inboundMsg, settings Settings) (*store.Message, []store.Callback, []store.Callback, error) {
	addr := store.Address{Name: m.from}
	var plain []byte
	var extra []store.Callback
	for _, enc := range m.node.ChildrenByTag("enc") {
		typ := enc.AttrString("type")
		if typ != crypto.TypePreKey && typ != crypto.TypeMsg {
			continue
		}
		d, err := b.Decrypt(ctx, addr, crypto.Ciphertext{Type: typ, Data: enc.Bytes()})
		if c.log.Enabled(ctx, slog.LevelDebug) {
			c.log.Debug("decrypt", "id", m.id, "from", m.from, "enc", typ, "count", enc.AttrString("count"), "replay", d.Replay, "err", err)
		}
		switch {
		case err == nil:
		case errors.Is(err, crypto.ErrDuplicate):
			// The ratchet has moved past it and the buffer no longer
			// holds it: it was processed long ago.
			m.decrypted = true
			return nil, nil, nil, nil
		case errors.Is(err, crypto.ErrDecrypt), errors.Is(err, crypto.ErrNoSession):
			c.decryptFailures.note(c, m.from, err)
			m.retry = true
			return nil, nil, nil, nil
		default:
			return nil, nil, nil, err
		}
		if d.IdentityChange != nil {
			more, err := c.identityChanged(ctx, tx, *d.IdentityChange, settings)
			if err != nil {
				return nil, nil, nil, err
			}
			extra = append(extra, more...)
		}
		plain = d.Plaintext
		break
	}
	if plain == nil {
		if !m.retry {
			m.nack = 488 // no <enc> we understand
		}
		return nil, nil, extra, nil
	}
	m.decrypted = true
	var pm waE2E.Message
	if err := proto.Unmarshal(plain, &pm); err != nil {
		m.decrypted, m.nack = false, 491
		return nil, nil, extra, nil
	}
	if id, ok := content.Revoked(&pm); ok {
		// The user deleted a message they sent: On-Premises reports a
		// "deleted" status for it. Applied after the batch's messages are
		// stored, since the revoked one may be among them.
		m.revokes = id
		return nil, nil, extra, nil
	}
	entry, err := content.FromProto(&pm)
	if errors.Is(err, content.ErrNoContent) {
		return nil, nil, extra, nil
	}
	if err != nil {
		entry = &content.Inbound{Type: "unknown", Errors: []content.Error{*content.NewError(501, "")}}
	}
	entry.From, entry.ID, entry.Timestamp = m.from, m.id, strconv.FormatInt(m.at.Unix(), 10)
	// Media gets its id and row here, in the transaction (mediarecv.go).
	download, err := c.recordInboundMedia(ctx, tx, &pm, entry, m, settings)
	if err != nil {
		return nil, nil, nil, err
	}
	if download {
		m.download = inMediaOf(entry).ID
	}
	payload, err := json.Marshal(entry)
	if err != nil {
		return nil, nil, nil, err
	}
	rec := &store.Message{ID: m.id, Direction: store.Inbound, Peer: m.from, Type: entry.Type, Payload: payload,
		Status: store.StatusReceived, CreatedAt: m.at, UpdatedAt: m.at}
	cb, err := inboundCallback(m, entry, c.now())
	if err != nil {
		return nil, nil, nil, err
	}
	return rec, []store.Callback{cb}, extra, nil
}

// afterInbound runs after the commit of m's batch: only now does the server
// learn that the message arrived.
func (c *Client) afterInbound(parts *chatParts, m *inboundMsg, err error) {
	if m.marker || err != nil {
		if err != nil && !m.marker {
			c.log.Error("store inbound message", "id", m.id, "err", err)
		}
		return
	}
	c.kickWebhooks()
	if m.download != "" {
		c.startMediaDownload(parts, m.download) // mediarecv.go
	}
	switch {
	case m.decrypted:
		c.send(parts, wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": m.id, "to": wabin.NewJID(m.from, wabin.DefaultUserServer)}})
	case m.retry:
		c.sendRetryReceipt(parts, m)
	default:
		c.sendAck(parts, m.node, m.nack)
	}
}

// sendRetryReceipt asks the sender to encrypt the message again; after
// five attempts the message is given up (acked with an error).
func (c *Client) sendRetryReceipt(parts *chatParts, m *inboundMsg) {
	count := 1
	if enc, ok := m.node.Child("enc"); ok {
		if n, err := strconv.Atoi(enc.AttrString("count")); err == nil {
			count = n + 1
		}
	}
	if count > 5 {
		c.sendAck(parts, m.node, 500)
		return
	}
	var reg [4]byte
	binary.BigEndian.PutUint32(reg[:], c.account().RegistrationID)
	c.send(parts, wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{
		"id": m.id, "to": wabin.NewJID(m.from, wabin.DefaultUserServer), "type": "retry",
	}, Content: []wabin.Node{
		{Tag: "retry", Attrs: wabin.Attrs{"count": strconv.Itoa(count), "id": m.id, "t": strconv.FormatInt(m.at.Unix(), 10), "v": "1"}},
		{Tag: "registration", Content: reg[:]},
	}})
}

func (c *Client) sendAck(parts *chatParts, n wabin.Node, code int) {
	ack := wabin.Node{Tag: "ack", Attrs: wabin.Attrs{"class": n.Tag, "id": n.AttrString("id")}}
	if from, ok := n.AttrJID("from"); ok {
		ack.Attrs["to"] = from
	}
	if t := n.AttrString("type"); t != "" && n.Tag != "message" {
		ack.Attrs["type"] = t
	}
	if code != 0 {
		ack.Attrs["error"] = strconv.Itoa(code)
	}
	c.send(parts, ack)
}

func (c *Client) send(parts *chatParts, n wabin.Node) {
	if err := parts.conn.Send(c.ctx, n); err != nil {
		// Not connected: the server keeps the stanza pending and
		// redelivers it, and the store recognises the copy.
		c.log.Debug("write stanza", "tag", n.Tag, "err", err)
	}
}

func (c *Client) account() store.Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acct
}

// maxReceiptIDs bounds the ids one receipt may name: a phone lists the
// messages read at once, never thousands.
const maxReceiptIDs = 1024

// handleReceipt moves outbound statuses on delivery and read receipts and
// answers retry receipts. The receipt is acked once the status is stored.
func (c *Client) handleReceipt(ctx context.Context, parts *chatParts, n wabin.Node) {
	from, ok := n.AttrJID("from")
	typ := n.AttrString("type")
	if !ok {
		c.sendAck(parts, n, 0)
		return
	}
	var status store.Status
	switch typ {
	case "":
		status = store.StatusDelivered
	case "read", "played":
		status = store.StatusRead
	case "retry":
		// Acked only once the re-send is durable.
		parts.ob.HandleRetry(n, func() { c.sendAck(parts, n, 0) })
		return
	case "error":
		// The recipient could not show the message (a template its phone
		// cannot render: "structure unavailable"): it fails.
		status = store.StatusFailed
	default:
		c.sendAck(parts, n, 0)
		return
	}
	at := c.now()
	if t, err := strconv.ParseInt(n.AttrString("t"), 10, 64); err == nil && t > 0 {
		at = time.Unix(t, 0)
	}
	ids := []string{n.AttrString("id")}
	if list, ok := n.Child("list"); ok {
		for _, it := range list.ChildrenByTag("item") {
			if id := it.AttrString("id"); id != "" {
				ids = append(ids, id)
			}
		}
	}
	var errCode int
	var errText string
	if status == store.StatusFailed {
		errCode, errText = receiptError(n)
	}
	changes := make([]outbox.StatusChange, 0, len(ids))
	for _, id := range ids {
		if id != "" && len(id) <= store.MaxIDLen && len(changes) < maxReceiptIDs {
			ch := outbox.StatusChange{MessageID: id, Peer: from.User, Status: status, At: at, FromPeer: true}
			if status == store.StatusFailed {
				ch.ErrorCode, ch.ErrorTitle, ch.ErrorDetail = errCode, content.Title(errCode), errText
			}
			changes = append(changes, ch)
		}
	}
	if len(changes) == 0 {
		c.sendAck(parts, n, 0)
		return
	}
	var left atomic.Int32
	left.Store(int32(len(changes)))
	failed := atomic.Bool{}
	done := func(err error) {
		if err != nil {
			failed.Store(true)
		}
		if left.Add(-1) == 0 && !failed.Load() {
			c.sendAck(parts, n, 0) // stored: the server may forget it
		}
	}
	if err := parts.ob.ApplyStatusesThen(c.ctx, done, changes...); err != nil {
		c.log.Debug("receipt not recorded", "err", err)
	}
}

// receiptError reads the <error code text> of an error receipt; a phone
// that names no known code gets 2003 (the translation is missing there).
func receiptError(n wabin.Node) (int, string) {
	code, text := 2003, "structure unavailable"
	if e, ok := n.Child("error"); ok {
		if c, err := strconv.Atoi(e.AttrString("code")); err == nil && content.Title(c) != "" {
			code = c
		}
		if t := e.AttrString("text"); t != "" {
			text = t
			if len(text) > 256 {
				text = text[:256]
			}
		}
	}
	return code, text
}

// handleNotification acts on server notifications and acks each.
func (c *Client) handleNotification(ctx context.Context, parts *chatParts, n wabin.Node) {
	// Acked once acted upon; when a store write fails the ack is held
	// back, and the server delivers the notification again later.
	failed := false
	defer func() {
		if !failed {
			c.sendAck(parts, n, 0)
		}
	}()
	from, _ := n.AttrJID("from")
	switch n.AttrString("type") {
	case "templates":
		if from.User == "" { // the server: the catalogue changed
			c.askTemplates(parts)
		}
	case "encrypt":
		if from.User == "" { // from the server: our prekeys run low
			select {
			case parts.keys <- struct{}{}:
			default:
			}
			return
		}
		if _, ok := n.Child("identity"); ok {
			// The peer reinstalled: its old sessions are useless. The new
			// identity is recorded (and reported) with the next message
			// either way.
			c.signalMu.Lock()
			err := c.st.InTx(ctx, func(tx store.Store) error {
				_, err := tx.DeleteSessions(ctx, from.User)
				return err
			})
			c.signalMu.Unlock()
			if err != nil {
				c.log.Error("drop sessions after identity change", "peer", from.User, "err", err)
				failed = true
			}
			parts.ob.ForgetSession(from.User)
		}
	case "change_number":
		u, ok := n.Child("user")
		if !ok {
			return
		}
		to, ok := u.AttrJID("jid")
		if !ok || !c.Settings().NotifyUserChangeNumber {
			return
		}
		cb, err := systemCallback(from.User, n.AttrString("id"), c.now(), content.System{
			Type: "user_changed_number", NewWAID: to.User,
			Body: "User " + from.User + " changed from " + from.User + " to " + to.User,
		})
		if err == nil {
			err = c.st.EnqueueCallbacks(ctx, []store.Callback{cb})
		}
		if err != nil {
			c.log.Error("record number change", "err", err)
			failed = true
		}
	}
}

// MarkRead marks a received message as read (PUT /v1/messages/{id}): the
// sender sees blue ticks.
func (c *Client) MarkRead(ctx context.Context, id string) error {
	parts, err := c.parts()
	if err != nil {
		return err
	}
	m, err := c.st.GetMessage(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Direction != store.Inbound) {
		return newError(CodeResourceNotFound, "message "+id+" not found", nil)
	}
	if err != nil {
		return newError(CodeDatabase, "", err)
	}
	err = parts.conn.Send(ctx, wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{
		"id": id, "to": wabin.NewJID(m.Peer, wabin.DefaultUserServer), "type": "read", "t": strconv.FormatInt(c.now().Unix(), 10),
	}})
	if err != nil {
		return newError(CodeServiceNotReady, "not connected", err)
	}
	return parts.ob.ApplyStatuses(ctx, true, outbox.StatusChange{MessageID: id, Peer: m.Peer, Status: store.StatusRead, At: c.now(), Inbound: true})
}

// decryptLog counts decryption failures and logs at most one line per
// interval, so a storm of bad messages (which a peer controls) costs
// neither log volume nor memory.
type decryptLog struct {
	count atomic.Int64
	last  atomic.Int64 // unix nanos of the last log line
}

func (d *decryptLog) note(c *Client, from string, err error) {
	n := d.count.Add(1)
	now := c.now().UnixNano()
	last := d.last.Load()
	if now-last < int64(10*time.Second) || !d.last.CompareAndSwap(last, now) {
		return
	}
	c.log.Warn("cannot decrypt messages; asking senders to retry", "failures_total", n, "latest_from", from, "err", err)
}

// DecryptFailures is the number of inbound messages that could not be
// decrypted since Start.
func (c *Client) DecryptFailures() int64 { return c.decryptFailures.count.Load() }
