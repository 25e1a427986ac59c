package content

import (
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/waent/waent/waproto/waE2E"
	"google.golang.org/protobuf/proto"
)

// MediaRef is an uploaded, encrypted media blob (protocol.md §5), supplied
// by the media layer: it has fetched a "link" or looked up an "id",
// encrypted the file and uploaded it.
type MediaRef struct {
	URL, DirectPath, MimeType           string
	MediaKey, FileSHA256, FileEncSHA256 []byte
	FileLength                          uint64
	MediaKeyTimestamp                   int64
	Width, Height                       uint32
}

// ToProto builds the wire message for o. It checks o's content as
// Validate does (but not "to" or "recipient_type", which it does not use)
// and returns the *Error found. media is required, else ErrNeedMedia, for
// image, audio, video, document and sticker messages and for interactive
// messages with a media header.
//
// The mapping, where On-Prem left a choice:
//   - text is a plain conversation unless it previews a URL or replies,
//     which need an extendedTextMessage. The preview carries only the
//     matched URL: fetching its title and thumbnail is I/O, left to the
//     caller.
//   - a reply sets contextInfo.stanzaID only; the caller adds the quoted
//     message's participant and content (see ContextInfoOf), which the
//     phone needs to draw the quote.
//   - a document with a caption is wrapped in documentWithCaptionMessage,
//     as current phones send it; older phones show only the file name.
//   - one contact is a contactMessage, several a contactsArrayMessage.
//   - interactive "button" is a buttonsMessage, "list" a listMessage,
//     "product_list" a listMessage of type PRODUCT_LIST, "product" a
//     productMessage. These are what phones still render without a native
//     flow; catalog_id has no field in them and is not sent (the phone
//     resolves products by retailer id within the business's catalog).
//   - template and hsm are a highlyStructuredMessage carrying namespace,
//     element name, language and parameters, never rendered text (see
//     templateParams for how components are flattened).
//   - a reaction's key carries only the message id; the caller sets
//     remoteJID, fromMe and participant, which it alone knows, and
//     senderTimestampMS.
func ToProto(o *Outgoing, media *MediaRef) (*waE2E.Message, error) {
	if o == nil {
		return nil, NewError(CodeInvalidRequest, "No message")
	}
	if e := o.validateContent(); e != nil {
		return nil, e
	}
	ctx := o.contextInfo()
	kind := o.Kind()
	switch kind {
	case "image", "audio", "video", "document", "sticker":
		if media == nil {
			return nil, ErrNeedMedia
		}
	case "interactive":
		if h := o.Interactive.Header; h != nil && h.Type != "text" && media == nil {
			return nil, ErrNeedMedia
		}
	}
	switch kind {
	case "text":
		return textProto(o, ctx), nil
	case "image":
		return &waE2E.Message{ImageMessage: media.image(o.Image.Caption, ctx)}, nil
	case "video":
		return &waE2E.Message{VideoMessage: media.video(o.Video.Caption, ctx)}, nil
	case "audio":
		return &waE2E.Message{AudioMessage: media.audio(ctx)}, nil
	case "sticker":
		return &waE2E.Message{StickerMessage: media.sticker(ctx)}, nil
	case "document":
		d := media.document(o.Document.Filename, o.Document.Caption, ctx)
		if o.Document.Caption == "" {
			return &waE2E.Message{DocumentMessage: d}, nil
		}
		return &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{
			Message: &waE2E.Message{DocumentMessage: d},
		}}, nil
	case "location":
		l := o.Location
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude:  proto.Float64(float64(*l.Latitude)),
			DegreesLongitude: proto.Float64(float64(*l.Longitude)),
			Name:             opt(l.Name),
			Address:          opt(l.Address),
			URL:              opt(l.URL),
			ContextInfo:      ctx,
		}}, nil
	case "contacts":
		return contactsProto(o.Contacts, ctx), nil
	case "interactive":
		return interactiveProto(o.Interactive, media, ctx), nil
	case "template":
		return &waE2E.Message{HighlyStructuredMessage: templateProto(o.Template)}, nil
	case "hsm":
		return &waE2E.Message{HighlyStructuredMessage: hsmProto(o.HSM)}, nil
	default: // "reaction": validateContent admits nothing else
		return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
			Key: &waE2E.MessageKey{ID: proto.String(o.Reaction.MessageID)},
			// Set even when empty: an empty text is what removes a
			// reaction, and an absent one is malformed.
			Text: proto.String(o.Reaction.Emoji),
		}}, nil
	}
}

// opt returns nil for "" so that empty optional fields stay off the wire.
func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (o *Outgoing) contextInfo() *waE2E.ContextInfo {
	if o.Context == nil || o.Context.MessageID == "" {
		return nil
	}
	return &waE2E.ContextInfo{StanzaID: proto.String(o.Context.MessageID)}
}

// previewURL reads preview_url from either place a client may put it.
func (o *Outgoing) previewURL() bool {
	return (o.PreviewURL != nil && *o.PreviewURL) || (o.Text != nil && o.Text.PreviewURL != nil && *o.Text.PreviewURL)
}

func textProto(o *Outgoing, ctx *waE2E.ContextInfo) *waE2E.Message {
	body := o.Text.Body
	preview := o.previewURL()
	if !preview && ctx == nil {
		return &waE2E.Message{Conversation: proto.String(body)}
	}
	ext := &waE2E.ExtendedTextMessage{Text: proto.String(body), ContextInfo: ctx}
	if preview {
		if u := firstPreviewURL(body); u != "" {
			ext.MatchedText = proto.String(u)
			ext.PreviewType = waE2E.ExtendedTextMessage_NONE.Enum()
		}
	}
	return &waE2E.Message{ExtendedTextMessage: ext}
}

// firstPreviewURL returns the first word of s that On-Prem would preview:
// an http(s) URL whose host is a name, not an IP address (§3.4).
func firstPreviewURL(s string) string {
	for _, w := range strings.Fields(s) {
		w = strings.TrimRight(w, ".,;:!?)]}'\"")
		if !strings.HasPrefix(w, "http://") && !strings.HasPrefix(w, "https://") {
			continue
		}
		u, err := url.Parse(w)
		if err != nil || u.Hostname() == "" || net.ParseIP(u.Hostname()) != nil {
			continue
		}
		return w
	}
	return ""
}

func (r *MediaRef) image(caption string, ctx *waE2E.ContextInfo) *waE2E.ImageMessage {
	return &waE2E.ImageMessage{
		URL: opt(r.URL), Mimetype: opt(r.MimeType), Caption: opt(caption),
		FileSHA256: r.FileSHA256, FileLength: proto.Uint64(r.FileLength),
		Height: dim(r.Height), Width: dim(r.Width),
		MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256,
		DirectPath: opt(r.DirectPath), MediaKeyTimestamp: stamp(r.MediaKeyTimestamp),
		ContextInfo: ctx,
	}
}

func (r *MediaRef) video(caption string, ctx *waE2E.ContextInfo) *waE2E.VideoMessage {
	return &waE2E.VideoMessage{
		URL: opt(r.URL), Mimetype: opt(r.MimeType), Caption: opt(caption),
		FileSHA256: r.FileSHA256, FileLength: proto.Uint64(r.FileLength),
		Height: dim(r.Height), Width: dim(r.Width),
		MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256,
		DirectPath: opt(r.DirectPath), MediaKeyTimestamp: stamp(r.MediaKeyTimestamp),
		ContextInfo: ctx,
	}
}

func (r *MediaRef) audio(ctx *waE2E.ContextInfo) *waE2E.AudioMessage {
	return &waE2E.AudioMessage{
		URL: opt(r.URL), Mimetype: opt(r.MimeType),
		FileSHA256: r.FileSHA256, FileLength: proto.Uint64(r.FileLength),
		MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256,
		DirectPath: opt(r.DirectPath), MediaKeyTimestamp: stamp(r.MediaKeyTimestamp),
		ContextInfo: ctx,
	}
}

func (r *MediaRef) sticker(ctx *waE2E.ContextInfo) *waE2E.StickerMessage {
	return &waE2E.StickerMessage{
		URL: opt(r.URL), Mimetype: opt(r.MimeType),
		FileSHA256: r.FileSHA256, FileLength: proto.Uint64(r.FileLength),
		Height: dim(r.Height), Width: dim(r.Width),
		MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256,
		DirectPath: opt(r.DirectPath), MediaKeyTimestamp: stamp(r.MediaKeyTimestamp),
		ContextInfo: ctx,
	}
}

func (r *MediaRef) document(filename, caption string, ctx *waE2E.ContextInfo) *waE2E.DocumentMessage {
	return &waE2E.DocumentMessage{
		URL: opt(r.URL), Mimetype: opt(r.MimeType),
		// Phones show the title in the bubble and save under the file name.
		Title: opt(filename), FileName: opt(filename), Caption: opt(caption),
		FileSHA256: r.FileSHA256, FileLength: proto.Uint64(r.FileLength),
		MediaKey: r.MediaKey, FileEncSHA256: r.FileEncSHA256,
		DirectPath: opt(r.DirectPath), MediaKeyTimestamp: stamp(r.MediaKeyTimestamp),
		ContextInfo: ctx,
	}
}

func dim(v uint32) *uint32 {
	if v == 0 {
		return nil
	}
	return &v
}

func stamp(v int64) *int64 {
	if v == 0 {
		return nil
	}
	return &v
}

func contactsProto(cards []ContactCard, ctx *waE2E.ContextInfo) *waE2E.Message {
	msgs := make([]*waE2E.ContactMessage, len(cards))
	for i := range cards {
		msgs[i] = &waE2E.ContactMessage{
			DisplayName: proto.String(cards[i].Name.FormattedName),
			Vcard:       proto.String(VCard(&cards[i])),
		}
	}
	if len(msgs) == 1 {
		msgs[0].ContextInfo = ctx
		return &waE2E.Message{ContactMessage: msgs[0]}
	}
	return &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{
		DisplayName: proto.String(strconv.Itoa(len(msgs)) + " contacts"),
		Contacts:    msgs,
		ContextInfo: ctx,
	}}
}

func interactiveProto(iv *Interactive, media *MediaRef, ctx *waE2E.ContextInfo) *waE2E.Message {
	var body, footer, header string
	if iv.Body != nil {
		body = iv.Body.Text
	}
	if iv.Footer != nil {
		footer = iv.Footer.Text
	}
	if iv.Header != nil {
		header = iv.Header.Text
	}
	a := iv.Action
	switch iv.Type {
	case "button":
		b := &waE2E.ButtonsMessage{
			ContentText: opt(body), FooterText: opt(footer), ContextInfo: ctx,
			HeaderType: waE2E.ButtonsMessage_EMPTY.Enum(),
		}
		if h := iv.Header; h != nil {
			switch h.Type {
			case "text":
				b.Text, b.HeaderType = opt(h.Text), waE2E.ButtonsMessage_TEXT.Enum()
			case "image":
				b.ImageMessage, b.HeaderType = media.image("", nil), waE2E.ButtonsMessage_IMAGE.Enum()
			case "video":
				b.VideoMessage, b.HeaderType = media.video("", nil), waE2E.ButtonsMessage_VIDEO.Enum()
			case "document":
				b.DocumentMessage = media.document(h.Document.Filename, "", nil)
				b.HeaderType = waE2E.ButtonsMessage_DOCUMENT.Enum()
			}
		}
		for _, btn := range a.Buttons {
			b.Buttons = append(b.Buttons, &waE2E.ButtonsMessage_Button{
				ButtonID:   proto.String(btn.Reply.ID),
				ButtonText: &waE2E.ButtonsMessage_Button_ButtonText{DisplayText: proto.String(btn.Reply.Title)},
				Type:       waE2E.ButtonsMessage_Button_RESPONSE.Enum(),
			})
		}
		return &waE2E.Message{ButtonsMessage: b}
	case "list":
		l := &waE2E.ListMessage{
			Title: opt(header), Description: opt(body), FooterText: opt(footer),
			ButtonText: opt(a.Button), ListType: waE2E.ListMessage_SINGLE_SELECT.Enum(),
			ContextInfo: ctx,
		}
		for _, s := range a.Sections {
			sec := &waE2E.ListMessage_Section{Title: opt(s.Title)}
			for _, r := range s.Rows {
				sec.Rows = append(sec.Rows, &waE2E.ListMessage_Row{
					RowID: proto.String(r.ID), Title: proto.String(r.Title), Description: opt(r.Description),
				})
			}
			l.Sections = append(l.Sections, sec)
		}
		return &waE2E.Message{ListMessage: l}
	case "product_list":
		info := &waE2E.ListMessage_ProductListInfo{}
		for _, s := range a.Sections {
			sec := &waE2E.ListMessage_ProductSection{Title: opt(s.Title)}
			for _, it := range s.ProductItems {
				sec.Products = append(sec.Products, &waE2E.ListMessage_Product{ProductID: proto.String(it.ProductRetailerID)})
			}
			info.ProductSections = append(info.ProductSections, sec)
		}
		return &waE2E.Message{ListMessage: &waE2E.ListMessage{
			Title: opt(header), Description: opt(body), FooterText: opt(footer),
			ListType: waE2E.ListMessage_PRODUCT_LIST.Enum(), ProductListInfo: info,
			ContextInfo: ctx,
		}}
	default: // "product"
		return &waE2E.Message{ProductMessage: &waE2E.ProductMessage{
			Product: &waE2E.ProductMessage_ProductSnapshot{RetailerID: proto.String(a.ProductRetailerID)},
			Body:    opt(body), Footer: opt(footer), ContextInfo: ctx,
		}}
	}
}

// splitLanguage turns "en_US" (or "en-US") into "en" and "US".
func splitLanguage(code string) (lg, lc string) {
	if i := strings.IndexAny(code, "_-"); i >= 0 {
		return code[:i], code[i+1:]
	}
	return code, ""
}

func setLanguage(h *waE2E.HighlyStructuredMessage, l *Language) {
	lg, lc := splitLanguage(l.Code)
	if l.Policy == "fallback" {
		h.FallbackLg, h.FallbackLc = opt(lg), opt(lc)
		return
	}
	h.DeterministicLg, h.DeterministicLc = opt(lg), opt(lc)
}

// templateProto flattens a template's parameters into localizableParams:
// the header's, then the body's, then each button's by index, whatever the
// order of the request's components. The template itself says how many
// placeholders each part has, so a renderer holding it can split the list
// again; a receiver without it sees the parameters in reading order. Media
// parameters travel as their id or link in "default": the wire form
// carries no media there, and resolving them belongs to rendering.
func templateProto(t *Template) *waE2E.HighlyStructuredMessage {
	h := &waE2E.HighlyStructuredMessage{Namespace: opt(t.Namespace), ElementName: opt(t.Name)}
	setLanguage(h, t.Language)
	for _, c := range templateComponents(t.Components) {
		for _, p := range c.Parameters {
			h.LocalizableParams = append(h.LocalizableParams, templateParam(p))
		}
	}
	return h
}

// templateComponents orders components as header, body, buttons by index.
func templateComponents(cs []Component) []Component {
	rank := func(c Component) int {
		switch c.Type {
		case "header":
			return -2
		case "body":
			return -1
		}
		n, _ := strconv.Atoi(c.Index)
		return n
	}
	out := slices.Clone(cs)
	slices.SortStableFunc(out, func(a, b Component) int { return rank(a) - rank(b) })
	return out
}

func templateParam(p Parameter) *waE2E.HighlyStructuredMessage_HSMLocalizableParameter {
	lp := &waE2E.HighlyStructuredMessage_HSMLocalizableParameter{}
	switch p.Type {
	case "text":
		lp.Default = proto.String(p.Text)
	case "payload":
		lp.Default = proto.String(p.Payload)
	case "currency":
		lp.Default = proto.String(p.Currency.FallbackValue)
		lp.Currency = currencyProto(p.Currency)
	case "date_time":
		lp.Default = proto.String(p.DateTime.FallbackValue)
		lp.DateTime = dateTimeProto(p.DateTime)
	default:
		m := p.media()
		lp.Default = proto.String(m.ID + m.Link) // exactly one is set
	}
	return lp
}

func currencyProto(c *Currency) *waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMCurrency {
	return &waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMCurrency{
		CurrencyCode: proto.String(c.ISO()), Amount1000: proto.Int64(c.Amount1000),
	}
}

// dateTimeProto returns nil for a date given only as fallback text: the
// phone then shows the default.
func dateTimeProto(d *DateTime) *waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime {
	type dt = waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime
	switch {
	case d.UnixEpoch != nil:
		return &dt{UnixEpoch: &waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeUnixEpoch{
			Timestamp: proto.Int64(d.UnixEpoch.Timestamp)}}
	case d.Timestamp != nil:
		return &dt{UnixEpoch: &waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeUnixEpoch{
			Timestamp: proto.Int64(*d.Timestamp)}}
	case d.Component != nil:
		return &dt{Component: componentProto(d.Component)}
	case !d.DateTimeComponent.empty():
		return &dt{Component: componentProto(&d.DateTimeComponent)}
	}
	return nil
}

func componentProto(c *DateTimeComponent) *waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent {
	u32 := func(v *FlexInt) *uint32 {
		if v == nil {
			return nil
		}
		return proto.Uint32(uint32(*v))
	}
	out := &waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent{
		Year: u32(c.Year), Month: u32(c.Month), DayOfMonth: u32(c.DayOfMonth),
		Hour: u32(c.Hour), Minute: u32(c.Minute),
	}
	if c.DayOfWeek != nil {
		out.DayOfWeek = waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent_DayOfWeekType(*c.DayOfWeek).Enum()
	}
	switch c.Calendar {
	case "GREGORIAN":
		out.Calendar = waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent_GREGORIAN.Enum()
	case "SOLAR_HIJRI":
		out.Calendar = waE2E.HighlyStructuredMessage_HSMLocalizableParameter_HSMDateTime_HSMDateTimeComponent_SOLAR_HIJRI.Enum()
	}
	return out
}

func hsmProto(s *HSM) *waE2E.HighlyStructuredMessage {
	h := &waE2E.HighlyStructuredMessage{Namespace: opt(s.Namespace), ElementName: opt(s.ElementName)}
	if s.Language != nil {
		setLanguage(h, s.Language)
	} else {
		h.FallbackLg, h.FallbackLc = opt(s.FallbackLg), opt(s.FallbackLc)
	}
	for _, p := range s.LocalizableParams {
		lp := &waE2E.HighlyStructuredMessage_HSMLocalizableParameter{Default: proto.String(p.Default)}
		if p.Currency != nil {
			lp.Currency = currencyProto(p.Currency)
		}
		if p.DateTime != nil {
			lp.DateTime = dateTimeProto(p.DateTime)
		}
		h.LocalizableParams = append(h.LocalizableParams, lp)
	}
	return h
}
