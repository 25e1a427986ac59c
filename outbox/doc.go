// Package outbox is the durable send queue: accepted messages are stored
// with their outbox row in one transaction, then workers encrypt and send
// them, first in, first out per recipient, until the server acks.
package outbox
