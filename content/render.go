package content

import (
	"strconv"
	"strings"

	"github.com/waent/waent/waproto/waE2E"
)

// Render is the short text a phone would show for m, for simulated users
// and logs. Text is shown as is; everything else is a bracketed tag
// followed by what the bubble shows, e.g. "[image] caption",
// "[document invoice.pdf]", "[location 52.52,13.405] Name, Address".
// Interactive messages show one line per part, buttons as "[Title]".
// Templates are not rendered (that needs the template): they show
// "[template namespace/name lang] " and their parameters joined by " | ".
// A message with nothing to show renders as "".
func Render(m *waE2E.Message) string {
	return render(m, 0)
}

func render(m *waE2E.Message, depth int) string {
	m, ok := unwrap(m)
	if !ok || depth > maxWrapDepth {
		return "[unsupported message]"
	}
	if m == nil {
		return ""
	}
	switch {
	case m.Conversation != nil:
		return m.GetConversation()
	case m.ExtendedTextMessage != nil:
		return m.ExtendedTextMessage.GetText()
	case m.ImageMessage != nil:
		return tagged("[image]", m.ImageMessage.GetCaption())
	case m.VideoMessage != nil:
		return tagged("[video]", m.VideoMessage.GetCaption())
	case m.AudioMessage != nil:
		if m.AudioMessage.GetPTT() {
			return "[voice]"
		}
		return "[audio]"
	case m.DocumentMessage != nil:
		d := m.DocumentMessage
		return tagged(tag("document", d.GetFileName()), d.GetCaption())
	case m.StickerMessage != nil:
		return "[sticker]"
	case m.LocationMessage != nil:
		l := m.LocationMessage
		pos := formatFloat(l.GetDegreesLatitude()) + "," + formatFloat(l.GetDegreesLongitude())
		return tagged(tag("location", pos), joinNonEmpty(", ", l.GetName(), l.GetAddress()))
	case m.ContactMessage != nil:
		return tagged("[contact]", m.ContactMessage.GetDisplayName())
	case m.ContactsArrayMessage != nil:
		names := make([]string, 0, len(m.ContactsArrayMessage.Contacts))
		for _, c := range m.ContactsArrayMessage.Contacts {
			names = append(names, c.GetDisplayName())
		}
		return tagged("[contacts]", strings.Join(names, ", "))
	case m.TemplateButtonReplyMessage != nil:
		return m.TemplateButtonReplyMessage.GetSelectedDisplayText()
	case m.ButtonsResponseMessage != nil:
		return m.ButtonsResponseMessage.GetSelectedDisplayText()
	case m.ListResponseMessage != nil:
		return m.ListResponseMessage.GetTitle()
	case m.ReactionMessage != nil:
		if e := m.ReactionMessage.GetText(); e != "" {
			return "[reaction " + e + "]"
		}
		return "[reaction removed]"
	case m.HighlyStructuredMessage != nil:
		return renderHSM(m.HighlyStructuredMessage)
	case m.TemplateMessage != nil:
		t := m.TemplateMessage.GetHydratedTemplate()
		if t == nil {
			t = m.TemplateMessage.GetHydratedFourRowTemplate()
		}
		return joinNonEmpty("\n", t.GetHydratedTitleText(), t.GetHydratedContentText(), t.GetHydratedFooterText())
	case m.ButtonsMessage != nil:
		b := m.ButtonsMessage
		var head string
		switch {
		case b.Text != nil:
			head = b.GetText()
		case b.ImageMessage != nil:
			head = "[image]"
		case b.VideoMessage != nil:
			head = "[video]"
		case b.DocumentMessage != nil:
			head = tag("document", b.DocumentMessage.GetFileName())
		case b.LocationMessage != nil:
			head = "[location]"
		}
		titles := make([]string, 0, len(b.Buttons))
		for _, btn := range b.Buttons {
			titles = append(titles, "["+btn.GetButtonText().GetDisplayText()+"]")
		}
		return joinNonEmpty("\n", head, b.GetContentText(), b.GetFooterText(), strings.Join(titles, " "))
	case m.ListMessage != nil:
		l := m.ListMessage
		action := "[" + l.GetButtonText() + "]"
		if l.GetListType() == waE2E.ListMessage_PRODUCT_LIST {
			n := 0
			for _, s := range l.GetProductListInfo().GetProductSections() {
				n += len(s.Products)
			}
			action = "[" + strconv.Itoa(n) + " products]"
		}
		return joinNonEmpty("\n", l.GetTitle(), l.GetDescription(), l.GetFooterText(), action)
	case m.ProductMessage != nil:
		p := m.ProductMessage
		return joinNonEmpty("\n", tag("product", p.GetProduct().GetRetailerID()), p.GetBody(), p.GetFooter())
	case m.InteractiveMessage != nil:
		x := m.InteractiveMessage
		return joinNonEmpty("\n", x.GetHeader().GetTitle(), x.GetBody().GetText(), x.GetFooter().GetText())
	case m.InteractiveResponseMessage != nil:
		return m.InteractiveResponseMessage.GetBody().GetText()
	case m.ProtocolMessage != nil:
		p := m.ProtocolMessage
		switch {
		case p.Type == nil:
			return ""
		case p.GetType() == waE2E.ProtocolMessage_REVOKE:
			return "[deleted]"
		case p.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT:
			return tagged("[edited]", render(p.GetEditedMessage(), depth+1))
		}
		return ""
	case len(m.ProtoReflect().GetUnknown()) > 0:
		return "[unsupported message]"
	}
	return ""
}

func renderHSM(h *waE2E.HighlyStructuredMessage) string {
	lang := h.GetDeterministicLg()
	lc := h.GetDeterministicLc()
	if lang == "" {
		lang, lc = h.GetFallbackLg(), h.GetFallbackLc()
	}
	if lc != "" {
		lang += "_" + lc
	}
	params := make([]string, 0, len(h.LocalizableParams))
	for _, p := range h.LocalizableParams {
		params = append(params, p.GetDefault())
	}
	return tagged(tag("template", joinNonEmpty(" ", h.GetNamespace()+"/"+h.GetElementName(), lang)),
		strings.Join(params, " | "))
}

// tag is "[name detail]", or "[name]" without a detail.
func tag(name, detail string) string {
	if detail == "" {
		return "[" + name + "]"
	}
	return "[" + name + " " + detail + "]"
}

// tagged appends text to a tag, if there is text.
func tagged(t, text string) string {
	if text == "" {
		return t
	}
	return t + " " + text
}

func joinNonEmpty(sep string, parts ...string) string {
	return strings.Join(nonEmpty(parts...), sep)
}
