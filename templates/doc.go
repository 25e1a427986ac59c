// Package templates keeps the business's message-template catalogue and
// validates template and hsm sends against it before they are accepted,
// as the On-Premises coreapp did (onprem-api.md §3.4, §5; onprem-faq.md
// "Templates").
//
// The catalogue lives on the chat server. A Catalogue holds the copy in
// use, caches it in the Store and answers Validate from memory, so a send
// costs no query. Whoever owns the chat connection (waent.Client) pulls
// snapshots from the server at start-up, after every reconnection, when
// the server says the catalogue changed, and periodically, and hands
// them to Apply. A cache older than MaxAge (7 days, as On-Premises) is not
// trusted: until a pull succeeds, template sends fail with 2002 "Template
// Fetch Failed" rather than being checked against a stale catalogue.
//
// Only namespace, name, language and parameters travel on the wire; the
// recipient's phone renders the message from its own copy
// (templates/catalog), so a send that passes here can still fail on the
// phone ("structure unavailable"), which the business learns as a failed
// status.
package templates
