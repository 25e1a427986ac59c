package waenttest

import (
	"bufio"
	"container/list"
	"net"
	"sync"

	"github.com/waent/waent/conn/wabin"
)

// nodeQueue is an unbounded FIFO of stanzas with a wake-up signal. The
// server pushes while holding its mutex, so push must never block: a
// bounded channel would either stall the whole server behind one slow
// reader or force it to drop stanzas.
type nodeQueue struct {
	mu    sync.Mutex
	items []wabin.Node
	ready chan struct{} // capacity 1: "there may be items"
}

func newNodeQueue() *nodeQueue { return &nodeQueue{ready: make(chan struct{}, 1)} }

// push appends nodes and returns the queue's length afterwards.
func (q *nodeQueue) push(nodes ...wabin.Node) int {
	q.mu.Lock()
	q.items = append(q.items, nodes...)
	n := len(q.items)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default: // a signal is already pending; the consumer drains everything
	}
	return n
}

// drain moves every queued node to the end of buf and returns it. Swapping
// slices keeps the lock hold time independent of the batch size.
func (q *nodeQueue) drain(buf []wabin.Node) []wabin.Node {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(buf) == 0 {
		buf, q.items = q.items, buf[:0]
		return buf
	}
	buf = append(buf, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	return buf
}

// clear drops what is queued, as a lost connection loses what was in
// flight; the server's pending list still holds whatever needs an ack.
func (q *nodeQueue) clear() {
	q.mu.Lock()
	clear(q.items)
	q.items = q.items[:0]
	q.mu.Unlock()
}

// pendingQueue holds an account's unacknowledged stanzas in delivery
// order. Acks remove by key in O(1): at thousands of messages per second
// a linear scan of the pending slice per ack made the server quadratic.
type pendingQueue struct {
	order list.List                // of pendingStanza
	byKey map[string]*list.Element // ack key → element of order
}

type pendingStanza struct {
	key  string // "<class>:<id>[:<type>]", matched against the client's ack
	node wabin.Node
}

// add queues n under key. A stanza with a key already pending replaces
// the old one and moves to the back: it is the same stanza sent again (a
// message re-sent after a retry receipt), and one ack settles both.
func (p *pendingQueue) add(key string, n wabin.Node) {
	if p.byKey == nil {
		p.byKey = map[string]*list.Element{}
	}
	if e, ok := p.byKey[key]; ok {
		p.order.Remove(e)
	}
	p.byKey[key] = p.order.PushBack(pendingStanza{key: key, node: n})
}

// ack removes the stanza with key, if pending.
func (p *pendingQueue) ack(key string) {
	if e, ok := p.byKey[key]; ok {
		p.order.Remove(e)
		delete(p.byKey, key)
	}
}

func (p *pendingQueue) len() int { return p.order.Len() }

// nodes returns the pending stanzas in order.
func (p *pendingQueue) nodes() []wabin.Node {
	out := make([]wabin.Node, 0, p.order.Len())
	for e := p.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(pendingStanza).node)
	}
	return out
}

// batchConn buffers the writes of a session's socket once batching is on,
// so a writer that drains many queued stanzas sends them in one syscall
// when it flushes. noise.Socket.WriteFrame writes each frame with its own
// conn.Write and has no multi-frame API, so the batching has to live
// under it. Only the session's writer goroutine writes or flushes once
// batching is on; the handshake and a login failure write unbuffered.
type batchConn struct {
	net.Conn
	w *bufio.Writer // nil: unbuffered
}

func (c *batchConn) Write(p []byte) (int, error) {
	if c.w != nil {
		return c.w.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *batchConn) flush() error {
	if c.w == nil {
		return nil
	}
	return c.w.Flush()
}
