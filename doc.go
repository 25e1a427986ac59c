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
// The Client arrives with the messaging-core work; today the module
// provides the storage layer (package store and its implementations).
package waent
