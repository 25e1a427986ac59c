// Package gc garbage-collects the store: messages nothing needs any more,
// media unused for 30 days, and the small caches that expire (conversations,
// contact checks, API tokens, the decrypt buffer).
//
// A Collector runs on its own at random intervals (every 3 to 6 hours by
// default, uniformly jittered, as On-Premises did so that several
// instances on one database do not collect at the same moment) and on
// request (PUT /v1/services/message/gc and /v1/services/media/gc through
// the root package).
//
// What is never deleted:
//
//   - an outbound message that is still in the outbox, or whose status is
//     pending or sent: its delivery report may still arrive;
//   - a received message that is not yet read, for InboundRetention (30
//     days) and, while the webhook is behind, until its callback can have
//     left the queue, so that the integration can still mark it read once
//     it learns of it;
//   - media referenced by a message that is still in the outbox, or used
//     within MediaUnused (30 days).
//
// Callbacks embed their whole payload, so deleting a message never breaks a
// callback that is still queued; the queue only delays the collection of
// unread received messages (see Config.InboundLag).
//
// Every batch is its own short transaction of at most BatchSize rows, and
// runs of one kind are serialised through a store lease, across every
// instance that shares the database.
package gc
