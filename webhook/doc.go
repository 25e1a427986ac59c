// Package webhook delivers callbacks: the persistent, ordered callback
// queue and the sinks (HTTPS POST to webhooks.url, or a Go func).
package webhook
