package content

// Limits enforced by Validate (onprem-api.md §3.4, §7). Lengths count
// Unicode code points, not bytes, as the documented "characters" do. The
// interactive numbers are shared with the Cloud API; On-Prem never
// published its own (§10 item 7).
const (
	MaxTextLength = 4096

	MaxInteractiveBody   = 1024
	MaxInteractiveHeader = 60
	MaxInteractiveFooter = 60

	MaxReplyButtons   = 3
	MaxButtonTitle    = 20
	MaxButtonID       = 256
	MaxListButton     = 20
	MaxSections       = 10
	MaxSectionTitle   = 24
	MaxRows           = 10 // in total over all sections
	MaxRowTitle       = 24
	MaxRowDescription = 72
	// MaxRowID is the Cloud API's limit; no On-Prem figure is known.
	MaxRowID = 200

	MaxProducts = 30 // in total over all product_list sections

	// MaxTemplateButtonIndex bounds a template button component's index.
	// The spec lists "0".."2" as unconfirmed; later templates allow up to
	// ten buttons, so 0..9 is accepted and the template itself decides.
	MaxTemplateButtonIndex = 9

	// FrequentlyForwardedScore is the forwarding score from which a phone
	// labels a message "forwarded many times" and the webhook sets
	// context.frequently_forwarded.
	FrequentlyForwardedScore = 5

	// maxEmojiRunes bounds a reaction: no single emoji is longer (the
	// longest ZWJ sequences are about ten code points). Ours, not On-Prem's.
	maxEmojiRunes = 16
)
