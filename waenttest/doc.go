// Package waenttest is a simulated WhatsApp network that runs in-process,
// the way net/http/httptest runs an HTTP server: a chat server speaking
// the real wire protocol (Noise, binary nodes) on loopback with
// store-and-forward, the prekey and usync services, registration, and
// scriptable simulated users with real Signal.
//
// # Clients
//
// A real client (package conn, or the whole of waent) registers through
// RegistrationURL, dials ChatAddr with RootKey and logs in. The server
// holds every stanza for an account until the account acks it, pushes
// what is pending on each login, and acks each <message> it routes. Test
// knobs break the path on purpose: DropConnection, RefusePort,
// SetFrameDelay, Restart, SendStreamError.
//
// # Users
//
// NewUser puts a simulated phone on the network. A User has one device
// that lives in-process, without a TCP connection: the server hands its
// stanzas to the user's inbox, and a goroutine per user (owned by the
// Network, stopped by Close) processes them, while the user's own stanzas
// go straight into the server's routing. Both directions go through the
// binary encoding and through the same pending queue, acks and receipts
// as a TCP client's, so store-and-forward (SetOnline), blocking (Block)
// and receipts behave the same for both.
//
// A user's Signal is real (package crypto over its own memstore): it
// uploads its keys on creation, fetches a bundle and sends a pkmsg on
// first contact, decrypts what it receives, and answers like a phone:
//   - a decrypted message is recorded (Received, deduplicated by sender
//     and id; repeats are counted in Duplicates), acked, and, unless
//     UserOptions.ManualDeliveryReceipts, answered with a delivery
//     receipt;
//   - a message it cannot decrypt is counted (DecryptFailures), acked and
//     answered with a retry receipt (protocol.md §3), at most five per
//     message, with the device's keys from the second one on;
//   - a retry receipt for its own message makes it encrypt the message
//     again with enc count=N, rebuilding the session from the receipt's
//     keys when there are some;
//   - a low-prekey notification from the server makes it upload more;
//     an identity notification from a peer drops its session with the
//     peer.
//
// Reinstall gives a user a new identity, registration id and prekeys and
// drops its sessions; the server tells every peer it exchanged messages
// with by <notification from=USER@s.whatsapp.net type="encrypt" id t>
// <identity/></notification>, the real stanza.
//
// ChangeNumber moves a user to a new number with a fresh account. Every
// peer gets
//
//	<notification from=OLD@s.whatsapp.net type="change_number" id t>
//	  <user jid=NEW@s.whatsapp.net/>
//	</notification>
//
// This stanza is this simulation's choice, not a documented one: we know
// of no public source for what the real server sends when a contact
// changes number, so the shape follows the other notifications (the
// subject in from, the detail as a child carrying a JID). The old number
// leaves the directory, and stanzas still pending for it are dropped.
package waenttest
