// Package content translates between the message objects of the WhatsApp
// Business On-Premises API and the end-to-end encrypted chat message
// (waE2E.Message) that actually travels to the phone.
//
// Two directions, two shapes, because On-Prem itself uses different JSON for
// them: Outgoing is the body of POST /v1/messages (onprem-api.md §3.4) and
// ToProto turns it into a waE2E.Message; FromProto turns a received
// waE2E.Message into Inbound, one entry of a webhook's "messages" array
// (§6). Render gives the short text a phone would show, for simulated users
// and the sandbox.
//
// DecodeOutgoing and Validate answer a bad request with the *Error and
// On-Prem code the old webapp gave, so the REST layer only has to copy it
// into the response. Contacts travel as vCards (VCard, ParseVCard).
//
// The JSON field names and order follow On-Prem's own examples so that
// requests and webhooks are byte-compatible with a real deployment. The
// package does no I/O: media is uploaded by the caller and handed in as a
// MediaRef, and media IDs of inbound media are filled in by the caller too.
package content
