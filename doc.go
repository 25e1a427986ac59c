// Package waent hosts the WhatsApp Business On-Premises API "coreapp" in a
// Go process: the chat connection with Signal end-to-end encryption, the
// durable outbox and inbound pipeline, webhooks, and the state behind the
// standard /v1 REST API (served by package httpapi).
//
// The code is layered; imports point down only (layers_test.go enforces
// it):
//
//	cmd/waent, examples/                  programs
//	httpapi                               /v1 REST surface, no business logic
//	waent (this package)                  Client: wires the parts, public Go API
//	outbox, templates, gc, webhook        services, one loop and one table family each
//	waenttest                             simulated WhatsApp network, for tests and the sandbox
//	conn, crypto                          wire protocol and Signal
//	store, store/sqlstore, store/memstore the Store seam and its implementations
//
// # The Client
//
// A Client is one business number's coreapp over a store.Store: New, then
// Start; Register and Verify bind a number; Send, MarkRead, CheckContacts,
// Identity and AcknowledgeIdentity are the messaging part of /v1. Errors
// are *Error with On-Premises codes and HTTP statuses.
//
// Durability is the organising rule. Send returns a message id only after
// one transaction stored the message and its outbox row (package outbox
// group-commits concurrent sends). An inbound message is decrypted,
// stored and queued for the webhook in one transaction, together with the
// Signal ratchet step and the plaintext kept for exactly-once decryption;
// only then does the delivery receipt tell the server to forget it. A
// retry receipt is acked only once the re-send is queued durably. So a
// crash at any point (kill -9 included) loses nothing, and what is
// repeated after it (a re-sent message, a redelivered stanza) is
// recognised by its id.
//
// Until the connection has been up and the offline backlog is stored
// (at most Config.ReadyTimeout, six minutes as On-Premises), Send fails
// with 1011 "Service not ready".
package waent
