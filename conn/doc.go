// Package conn is the coreapp's connection to the chat servers: dialing
// (5222 with a 443 fallback, proxies from the environment), the WhatsApp
// Noise handshake, framing, the binary node codec, iq correlation,
// keepalive and reconnection. It depends only on package store.
package conn
