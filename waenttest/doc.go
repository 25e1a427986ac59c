// Package waenttest is a simulated WhatsApp network that runs in-process,
// the way net/http/httptest runs an HTTP server: a chat server speaking
// the real wire protocol on loopback, registration, a media CDN, a
// template catalogue and scriptable simulated users with real Signal.
package waenttest
