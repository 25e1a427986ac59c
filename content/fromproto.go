package content

import (
	"encoding/hex"
	"math"
	"strings"

	"github.com/waent/waent/waproto/waE2E"
)

// maxWrapDepth bounds the unwrapping of wrapper messages. Phones nest at
// most three (device-sent, ephemeral, view-once); more is hostile input.
const maxWrapDepth = 8

// UnsupportedError is the error On-Prem puts on an inbound message of type
// "unknown". Its exact wording is the legacy shape later kept by the Cloud
// API for the same case [U].
func UnsupportedError() Error {
	return Error{Code: CodeUnsupportedType, Title: "Unsupported message type", Details: "Message type is not currently supported"}
}

// FromProto turns a received message into a webhook "messages" entry: Type,
// the type object, Context and Errors. The caller fills From, ID,
// Timestamp, GroupID and media IDs.
//
// Wrappers (ephemeral, view-once, document-with-caption, device-sent) are
// unwrapped. A voice note (audio with PTT) is type "voice"; a template
// quick-reply answer is "button"; an answer to interactive buttons or a
// list is "interactive". Content On-Prem could not show (polls, live
// location, edits, interactive messages sent by a user, and fields this
// package does not declare) is type "unknown" with UnsupportedError, as
// On-Prem reported it. A message with nothing to show (a sender key
// distribution alone, a revoke or other protocol message, an empty
// message) returns ErrNoContent; Revoked tells revokes apart.
func FromProto(m *waE2E.Message) (*Inbound, error) {
	m, ok := unwrap(m)
	if !ok {
		return unknown(), nil
	}
	if m == nil {
		return nil, ErrNoContent
	}
	in := &Inbound{Context: inContext(ContextInfoOf(m))}
	switch {
	case m.Conversation != nil:
		in.Type, in.Text = "text", &InText{Body: m.GetConversation()}
	case m.ExtendedTextMessage != nil:
		in.Type, in.Text = "text", &InText{Body: m.ExtendedTextMessage.GetText()}
	case m.ImageMessage != nil:
		x := m.ImageMessage
		in.Type, in.Image = "image", inMedia(x.GetMimetype(), x.GetFileSHA256(), x.GetCaption(), "")
	case m.VideoMessage != nil:
		x := m.VideoMessage
		in.Type, in.Video = "video", inMedia(x.GetMimetype(), x.GetFileSHA256(), x.GetCaption(), "")
	case m.AudioMessage != nil:
		x := m.AudioMessage
		md := inMedia(x.GetMimetype(), x.GetFileSHA256(), "", "")
		if x.GetPTT() {
			in.Type, in.Voice = "voice", md
		} else {
			in.Type, in.Audio = "audio", md
		}
	case m.DocumentMessage != nil:
		x := m.DocumentMessage
		in.Type, in.Document = "document", inMedia(x.GetMimetype(), x.GetFileSHA256(), x.GetCaption(), x.GetFileName())
	case m.StickerMessage != nil:
		x := m.StickerMessage
		in.Type, in.Sticker = "sticker", inMedia(x.GetMimetype(), x.GetFileSHA256(), "", "")
	case m.LocationMessage != nil:
		x := m.LocationMessage
		if !finite(x.GetDegreesLatitude()) || !finite(x.GetDegreesLongitude()) {
			// JSON cannot carry them, and no phone sends them.
			return unknown(), nil
		}
		in.Type, in.Location = "location", &Location{
			Latitude: Coord(x.GetDegreesLatitude()), Longitude: Coord(x.GetDegreesLongitude()),
			Name: x.GetName(), Address: x.GetAddress(), URL: x.GetURL(),
		}
	case m.ContactMessage != nil:
		in.Type, in.Contacts = "contacts", []ContactCard{cardOf(m.ContactMessage)}
	case m.ContactsArrayMessage != nil:
		if len(m.ContactsArrayMessage.Contacts) == 0 {
			return unknown(), nil
		}
		in.Type = "contacts"
		for _, c := range m.ContactsArrayMessage.Contacts {
			in.Contacts = append(in.Contacts, cardOf(c))
		}
	case m.TemplateButtonReplyMessage != nil:
		x := m.TemplateButtonReplyMessage
		in.Type, in.Button = "button", &Button{Payload: x.GetSelectedID(), Text: x.GetSelectedDisplayText()}
	case m.ButtonsResponseMessage != nil:
		x := m.ButtonsResponseMessage
		in.Type, in.Interactive = "interactive", &InInteractive{Type: "button_reply",
			ButtonReply: &ButtonReply{ID: x.GetSelectedButtonID(), Title: x.GetSelectedDisplayText()}}
	case m.ListResponseMessage != nil:
		x := m.ListResponseMessage
		in.Type, in.Interactive = "interactive", &InInteractive{Type: "list_reply",
			ListReply: &ListReply{ID: x.GetSingleSelectReply().GetSelectedRowID(), Title: x.GetTitle(), Description: x.GetDescription()}}
	case m.ReactionMessage != nil:
		x := m.ReactionMessage
		in.Type, in.Reaction = "reaction", &Reaction{MessageID: x.GetKey().GetID(), Emoji: x.GetText()}
	case hasOtherContent(m):
		return unknown(), nil
	case m.ProtocolMessage != nil:
		if m.ProtocolMessage.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT {
			return unknown(), nil
		}
		return nil, ErrNoContent
	case len(m.ProtoReflect().GetUnknown()) > 0:
		// Content this package does not declare (polls, live location...).
		return unknown(), nil
	default:
		return nil, ErrNoContent
	}
	return in, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func unknown() *Inbound {
	return &Inbound{Type: "unknown", Errors: []Error{UnsupportedError()}}
}

// hasOtherContent reports declared content types that a user's message
// can carry but the webhook has no type for.
func hasOtherContent(m *waE2E.Message) bool {
	return m.HighlyStructuredMessage != nil || m.TemplateMessage != nil || m.ButtonsMessage != nil ||
		m.ListMessage != nil || m.InteractiveMessage != nil || m.InteractiveResponseMessage != nil ||
		m.ProductMessage != nil
}

// unwrap strips wrapper messages. ok is false when they nest deeper than
// maxWrapDepth; m is nil when a wrapper is empty.
func unwrap(m *waE2E.Message) (_ *waE2E.Message, ok bool) {
	for range maxWrapDepth {
		switch {
		case m == nil:
			return nil, true
		case m.EphemeralMessage != nil:
			m = m.EphemeralMessage.GetMessage()
		case m.ViewOnceMessage != nil:
			m = m.ViewOnceMessage.GetMessage()
		case m.ViewOnceMessageV2 != nil:
			m = m.ViewOnceMessageV2.GetMessage()
		case m.DocumentWithCaptionMessage != nil:
			m = m.DocumentWithCaptionMessage.GetMessage()
		case m.DeviceSentMessage != nil:
			m = m.DeviceSentMessage.GetMessage()
		default:
			return m, true
		}
	}
	return nil, false
}

// Unwrap strips the wrapper messages (ephemeral, view-once, device-sent,
// document-with-caption) around a message's content, as FromProto does.
// ok is false when they nest too deep.
func Unwrap(m *waE2E.Message) (_ *waE2E.Message, ok bool) { return unwrap(m) }

// Revoked reports whether m (possibly wrapped) revokes an earlier message,
// and that message's id. On-Prem turns it into a "deleted" status.
func Revoked(m *waE2E.Message) (id string, ok bool) {
	m, _ = unwrap(m)
	p := m.GetProtocolMessage()
	// The type must be present: REVOKE is the enum's zero value, so an
	// absent type would read as a revoke.
	if p == nil || p.Type == nil || p.GetType() != waE2E.ProtocolMessage_REVOKE || p.GetKey().GetID() == "" {
		return "", false
	}
	return p.GetKey().GetID(), true
}

// ContextInfoOf returns the ContextInfo of m's content, or nil. ToProto
// sets only stanzaID on a reply; a caller that knows the quoted message
// adds its participant (and quotedMessage) here.
func ContextInfoOf(m *waE2E.Message) *waE2E.ContextInfo {
	switch {
	case m == nil:
		return nil
	case m.ExtendedTextMessage != nil:
		return m.ExtendedTextMessage.ContextInfo
	case m.ImageMessage != nil:
		return m.ImageMessage.ContextInfo
	case m.VideoMessage != nil:
		return m.VideoMessage.ContextInfo
	case m.AudioMessage != nil:
		return m.AudioMessage.ContextInfo
	case m.DocumentMessage != nil:
		return m.DocumentMessage.ContextInfo
	case m.StickerMessage != nil:
		return m.StickerMessage.ContextInfo
	case m.LocationMessage != nil:
		return m.LocationMessage.ContextInfo
	case m.ContactMessage != nil:
		return m.ContactMessage.ContextInfo
	case m.ContactsArrayMessage != nil:
		return m.ContactsArrayMessage.ContextInfo
	case m.TemplateButtonReplyMessage != nil:
		return m.TemplateButtonReplyMessage.ContextInfo
	case m.ButtonsResponseMessage != nil:
		return m.ButtonsResponseMessage.ContextInfo
	case m.ListResponseMessage != nil:
		return m.ListResponseMessage.ContextInfo
	case m.ButtonsMessage != nil:
		return m.ButtonsMessage.ContextInfo
	case m.ListMessage != nil:
		return m.ListMessage.ContextInfo
	case m.ProductMessage != nil:
		return m.ProductMessage.ContextInfo
	case m.InteractiveMessage != nil:
		return m.InteractiveMessage.ContextInfo
	case m.InteractiveResponseMessage != nil:
		return m.InteractiveResponseMessage.ContextInfo
	case m.TemplateMessage != nil:
		return m.TemplateMessage.ContextInfo
	case m.DocumentWithCaptionMessage != nil:
		return ContextInfoOf(m.DocumentWithCaptionMessage.GetMessage())
	}
	return nil
}

// inContext maps reply, mention and forwarding information; nil when
// there is none.
func inContext(ci *waE2E.ContextInfo) *InContext {
	if ci == nil {
		return nil
	}
	c := &InContext{
		ID:                  ci.GetStanzaID(),
		From:                userOf(ci.GetParticipant()),
		Forwarded:           ci.GetIsForwarded(),
		FrequentlyForwarded: ci.GetForwardingScore() >= FrequentlyForwardedScore,
	}
	if r := ci.GetRemoteJID(); strings.HasSuffix(r, "@g.us") {
		c.GroupID = userOf(r)
	}
	for _, j := range ci.MentionedJID {
		if u := userOf(j); u != "" {
			c.Mentions = append(c.Mentions, u)
		}
	}
	if c.ID == "" && c.From == "" && c.GroupID == "" && c.Mentions == nil && !c.Forwarded && !c.FrequentlyForwarded {
		return nil
	}
	return c
}

// userOf returns the user part of a JID ("16315551234" of
// "16315551234:3@s.whatsapp.net"), which is the wa_id for phone JIDs.
func userOf(jid string) string {
	u, _, _ := strings.Cut(jid, "@")
	u, _, _ = strings.Cut(u, ":")
	return u
}

func inMedia(mime string, sha []byte, caption, filename string) *InMedia {
	return &InMedia{MimeType: mime, SHA256: hex.EncodeToString(sha), Caption: caption, Filename: filename}
}

// cardOf parses a contact's vCard, falling back to its display name for
// the required formatted name.
func cardOf(cm *waE2E.ContactMessage) ContactCard {
	c, err := ParseVCard(cm.GetVcard())
	if err != nil {
		c = &ContactCard{}
	}
	if (c.Name == nil || c.Name.FormattedName == "") && cm.GetDisplayName() != "" {
		name(c).FormattedName = cm.GetDisplayName()
	}
	return *c
}
