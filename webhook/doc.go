// Package webhook delivers callbacks from the persistent queue
// (store.CallbackStore) to a Sink: an HTTPS POST to webhooks.url, or a Go
// func for applications that consume events in-process.
//
// A Dispatcher reads the queue in Seq order and merges consecutive
// callbacks of one kind into one On-Premises envelope, because receivers
// pay per request far more than per event. It keeps at most
// webhooks.max_concurrent_requests POSTs in flight. A callback is removed
// from the store only after a 200, so delivery is at least once: a crash
// between the POST and the ack sends it again, and receivers deduplicate
// by message or status id (or by the webhook-id header when signing).
//
// After a failure the queue is blocked at that batch: nothing later is
// started until it goes through, retried after callback_backoff_delay_ms
// times the number of failures, capped at max_callback_backoff_delay_ms,
// as On-Premises does. POSTs already in flight when the failure happens
// still complete, so with more than one request in flight receivers can
// see batches out of order; MaxConcurrent 1 gives strict order.
//
// On-Premises documents no signature. When secrets are configured,
// HTTPSink signs per Standard Webhooks (webhook-id, webhook-timestamp,
// webhook-signature), one signature per secret so keys can rotate without
// rejected requests.
package webhook
