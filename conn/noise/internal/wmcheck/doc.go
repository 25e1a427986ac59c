// Package wmcheck cross-checks package noise against whatsmeow's Noise
// primitives (go.mau.fi/whatsmeow/socket), the closest thing to a
// reference implementation of WhatsApp's handshake variant. It is a
// separate module so that the main module never requires whatsmeow
// (MPL-2.0) or its dependencies; run it with
//
//	cd conn/noise/internal/wmcheck && go test ./...
//
// The flynn/noise interop tests in package noise show that everything but
// the first-message quirk is standard Noise; these show that the quirk is
// implemented the way WhatsApp's own clients do it, in both roles.
package wmcheck
