// Package conn is the coreapp's connection to the chat servers.
//
// A Dialer reaches the servers over raw TCP (port 5222, falling back to
// 443), directly or through the proxies the environment names, as the
// On-Premises coreapp did. Conn runs the WhatsApp Noise handshake
// (conn/noise) over it, logs in as the business's primary device and then
// exchanges binary-XML stanzas (conn/wabin): iq requests matched to their
// replies by id, acks matched to sent messages, and a handler per stanza
// tag for everything else, run in arrival order. Conn keeps the
// connection alive with pings, reconnects with capped exponential backoff
// and full jitter, obeys the server's stream errors, and reports its
// state for /v1/health.
//
// The layers above (crypto, outbox) decide what to send and when to ack;
// conn never acknowledges an inbound message by itself, so nothing is
// acked before it has been stored.
package conn
