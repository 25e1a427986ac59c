package content

import (
	"bytes"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Validate checks o as the On-Prem webapp did and returns nil or a *Error
// carrying the On-Prem code: 1008 for a missing parameter, 1009 for an
// invalid one, 1010 for one that does not belong, 1001 for a text over
// MaxTextLength, 1002 for a bad recipient_type, 2015/2016/2023/2036 for
// interactive sections, rows, products and headers, 501 for an unknown
// type. The first problem found is reported, as the webapp did.
//
// Parameters are named by their path from the request root
// ("interactive.action.sections[1].rows[0].title") so that a client can
// find them; the webapp named only the leaf.
//
// Validate does not check that the recipient exists or is a valid number,
// nor that a template exists or has the right number of parameters: those
// need state, and the callers do them.
func (o *Outgoing) Validate() error {
	if o == nil {
		return errMissing("to")
	}
	if e := o.validateEnvelope(); e != nil {
		return e
	}
	if e := o.validateContent(); e != nil {
		return e
	}
	return nil
}

func (o *Outgoing) validateEnvelope() *Error {
	switch o.RecipientType {
	case "", "individual", "group":
	default:
		return NewError(CodeInvalidRecipient,
			fmt.Sprintf("Parameter 'recipient_type' has invalid value '%s'", o.RecipientType))
	}
	if o.To == "" {
		return errMissing("to")
	}
	if ttl := bytes.TrimSpace(o.TTL); len(ttl) > 0 {
		// PHP's isset() treated null as absent; an empty string was
		// the one case the webapp rejected outright.
		if string(ttl) == `""` {
			return NewError(CodeInvalidParameter, "Empty TTL value not allowed")
		}
	}
	return nil
}

// messageTypes are the values of "type" that POST /v1/messages accepts.
var messageTypes = [...]string{
	"text", "image", "audio", "video", "document", "sticker", "location",
	"contacts", "interactive", "template", "hsm", "reaction",
}

// objects lists o's type objects by JSON name, in a fixed order so that
// the first stray one reported is deterministic.
func (o *Outgoing) objects() [len(messageTypes)]struct {
	name    string
	present bool
} {
	return [...]struct {
		name    string
		present bool
	}{
		{"text", o.Text != nil},
		{"image", o.Image != nil},
		{"audio", o.Audio != nil},
		{"video", o.Video != nil},
		{"document", o.Document != nil},
		{"sticker", o.Sticker != nil},
		{"location", o.Location != nil},
		{"contacts", o.Contacts != nil},
		{"interactive", o.Interactive != nil},
		{"template", o.Template != nil},
		{"hsm", o.HSM != nil},
		{"reaction", o.Reaction != nil},
	}
}

func knownType(t string) bool {
	for _, k := range messageTypes {
		if k == t {
			return true
		}
	}
	return false
}

// validateContent checks everything but the addressing: ToProto relies on
// it, and simulated users build messages without a "to".
func (o *Outgoing) validateContent() *Error {
	kind := o.Kind()
	if !knownType(kind) {
		return NewError(CodeUnsupportedType, fmt.Sprintf("Message type '%s' is not supported", kind))
	}
	for _, obj := range o.objects() {
		if obj.present && obj.name != kind {
			return errNotRequired(obj.name, kind)
		}
	}
	if o.Context != nil {
		switch kind {
		case "template", "hsm", "reaction":
			// A template travels as a HighlyStructuredMessage, which has
			// no ContextInfo, and a reaction names its message itself.
			return errNotRequired("context", kind)
		}
		if o.Context.MessageID == "" {
			return errMissing("context.message_id")
		}
	}
	switch kind {
	case "text":
		return validateText(o.Text)
	case "image":
		return validateMediaMessage(kind, o.Image)
	case "audio":
		return validateMediaMessage(kind, o.Audio)
	case "video":
		return validateMediaMessage(kind, o.Video)
	case "document":
		return validateMediaMessage(kind, o.Document)
	case "sticker":
		return validateMediaMessage(kind, o.Sticker)
	case "location":
		return validateLocation(o.Location)
	case "contacts":
		return validateContacts(o.Contacts)
	case "interactive":
		return validateInteractive(o.Interactive)
	case "template":
		return validateTemplate(o.Template)
	case "hsm":
		return validateHSM(o.HSM)
	case "reaction":
		return validateReaction(o.Reaction)
	}
	return nil
}

func runes(s string) int { return utf8.RuneCountInString(s) }

func validateText(t *Text) *Error {
	if t == nil {
		return errMandatoryFor("text", "text")
	}
	if t.Body == "" {
		return errMissing("text.body")
	}
	if n := runes(t.Body); n > MaxTextLength {
		return NewError(CodeMessageTooLong,
			fmt.Sprintf("Text body is %d characters long, the limit is %d", n, MaxTextLength))
	}
	return nil
}

func validateMediaMessage(kind string, m *Media) *Error {
	if m == nil {
		return errMandatoryFor(kind, kind)
	}
	return validateMedia(kind, kind, m)
}

// validateMedia checks a media object at path p; kind (image, audio, ...)
// decides whether caption and filename belong.
func validateMedia(p, kind string, m *Media) *Error {
	switch {
	case m.ID == "" && m.Link == "":
		return errAtLeastOne(p + ".id, " + p + ".link")
	case m.ID != "" && m.Link != "":
		return errExactlyOne(p + ".id, " + p + ".link")
	}
	if m.Link != "" && !httpURL(m.Link) {
		return errInvalid(p+".link", m.Link)
	}
	if m.Provider != nil {
		if m.Link == "" {
			// A provider says how to fetch a link; an uploaded id has
			// nothing to fetch.
			return errNotRequired(p+".provider", kind)
		}
		if m.Provider.Name == "" {
			return errMissing(p + ".provider.name")
		}
	}
	if m.Caption != "" && (kind == "audio" || kind == "sticker") {
		return errNotRequired(p+".caption", kind)
	}
	if m.Filename != "" && kind != "document" {
		return errNotRequired(p+".filename", kind)
	}
	return nil
}

// httpURL reports whether s is an absolute http(s) URL with a host.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func validateLocation(l *Location) *Error {
	if l == nil {
		return errMandatoryFor("location", "location")
	}
	if l.Latitude == nil {
		return errMissing("location.latitude")
	}
	if l.Longitude == nil {
		return errMissing("location.longitude")
	}
	if v := float64(*l.Latitude); math.Abs(v) > 90 {
		return errInvalid("location.latitude", formatFloat(v))
	}
	if v := float64(*l.Longitude); math.Abs(v) > 180 {
		return errInvalid("location.longitude", formatFloat(v))
	}
	return nil
}

func validDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

func validateContacts(cs []ContactCard) *Error {
	if len(cs) == 0 {
		return errMandatoryFor("contacts", "contacts")
	}
	for i, c := range cs {
		p := fmt.Sprintf("contacts[%d]", i)
		if c.Name == nil || c.Name.FormattedName == "" {
			return errMissing(p + ".name.formatted_name")
		}
		if c.Birthday != "" && !validDate(c.Birthday) {
			return errInvalid(p+".birthday", c.Birthday)
		}
	}
	return nil
}

func validateInteractive(iv *Interactive) *Error {
	if iv == nil {
		return errMandatoryFor("interactive", "interactive")
	}
	t := iv.Type
	switch t {
	case "button", "list", "product", "product_list":
	case "":
		return errMissing("interactive.type")
	default:
		return errInvalid("interactive.type", t)
	}
	if iv.Body == nil || iv.Body.Text == "" {
		if t != "product" {
			return errMandatoryFor("interactive.body.text", t)
		}
	} else if runes(iv.Body.Text) > MaxInteractiveBody {
		return errTooLong("interactive.body.text", MaxInteractiveBody)
	}
	if iv.Footer != nil {
		if iv.Footer.Text == "" {
			return errMissing("interactive.footer.text")
		}
		if runes(iv.Footer.Text) > MaxInteractiveFooter {
			return errTooLong("interactive.footer.text", MaxInteractiveFooter)
		}
	}
	switch {
	case t == "product" && iv.Header != nil:
		return errNotRequired("interactive.header", t)
	case t == "product_list" && iv.Header == nil:
		return errMandatoryFor("interactive.header", t)
	case iv.Header != nil:
		if e := validateHeader(t, iv.Header); e != nil {
			return e
		}
	}
	a := iv.Action
	if a == nil {
		return errMandatoryFor("interactive.action", t)
	}
	switch t {
	case "button":
		return validateButtons(a)
	case "list":
		return validateList(a)
	case "product":
		return validateProduct(a)
	default:
		return validateProductList(a)
	}
}

func headerError(format string, args ...any) *Error {
	return NewError(CodeInvalidHeader, fmt.Sprintf(format, args...))
}

// validateHeader reports every structural problem of a header as 2036; a
// problem inside a media object keeps the code validateMedia gives it.
func validateHeader(t string, h *InteractiveHeader) *Error {
	const p = "interactive.header"
	set := [...]struct {
		name string
		ok   bool
	}{{"text", h.Text != ""}, {"image", h.Image != nil}, {"video", h.Video != nil}, {"document", h.Document != nil}}
	switch h.Type {
	case "":
		return headerError("Parameter '%s.type' is missing", p)
	case "text", "image", "video", "document":
	default:
		return headerError("Parameter '%s.type' has invalid value '%s'", p, h.Type)
	}
	if h.Type != "text" && t != "button" {
		return headerError("Header type '%s' is not allowed for interactive type '%s'", h.Type, t)
	}
	for _, s := range set {
		if s.ok && s.name != h.Type {
			return headerError("Parameter '%s.%s' is not allowed with header type '%s'", p, s.name, h.Type)
		}
	}
	switch h.Type {
	case "text":
		if h.Text == "" {
			return headerError("Parameter '%s.text' is mandatory for header type 'text'", p)
		}
		if runes(h.Text) > MaxInteractiveHeader {
			return headerError("Parameter '%s.text' is longer than %d characters", p, MaxInteractiveHeader)
		}
		return nil
	}
	m := h.media()
	if m == nil {
		return headerError("Parameter '%s.%s' is mandatory for header type '%s'", p, h.Type, h.Type)
	}
	return validateMedia(p+"."+h.Type, h.Type, m)
}

// media returns the header's media object for its type, or nil.
func (h *InteractiveHeader) media() *Media {
	switch h.Type {
	case "image":
		return h.Image
	case "video":
		return h.Video
	case "document":
		return h.Document
	}
	return nil
}

// notFor rejects the action fields that another interactive type uses.
func notFor(t string, a *Action, button, buttons, catalog, retailer, sections bool) *Error {
	const p = "interactive.action."
	switch {
	case button && a.Button != "":
		return errNotRequired(p+"button", t)
	case buttons && a.Buttons != nil:
		return errNotRequired(p+"buttons", t)
	case catalog && a.CatalogID != "":
		return errNotRequired(p+"catalog_id", t)
	case retailer && a.ProductRetailerID != "":
		return errNotRequired(p+"product_retailer_id", t)
	case sections && a.Sections != nil:
		return errNotRequired(p+"sections", t)
	}
	return nil
}

func validateButtons(a *Action) *Error {
	if e := notFor("button", a, true, false, true, true, true); e != nil {
		return e
	}
	const p = "interactive.action.buttons"
	switch n := len(a.Buttons); {
	case n == 0:
		return errMissing(p)
	case n > MaxReplyButtons:
		return NewError(CodeInvalidParameter,
			fmt.Sprintf("Parameter '%s' holds %d buttons, the limit is %d", p, n, MaxReplyButtons))
	}
	ids := make(map[string]bool, len(a.Buttons))
	titles := make(map[string]bool, len(a.Buttons))
	for i, b := range a.Buttons {
		bp := fmt.Sprintf("%s[%d]", p, i)
		switch b.Type {
		case "reply":
		case "":
			return errMissing(bp + ".type")
		default:
			return errInvalid(bp+".type", b.Type)
		}
		r := b.Reply
		switch {
		case r == nil:
			return errMissing(bp + ".reply")
		case r.ID == "":
			return errMissing(bp + ".reply.id")
		case runes(r.ID) > MaxButtonID:
			return errTooLong(bp+".reply.id", MaxButtonID)
		case r.Title == "":
			return errMissing(bp + ".reply.title")
		case runes(r.Title) > MaxButtonTitle:
			return errTooLong(bp+".reply.title", MaxButtonTitle)
		case ids[r.ID]:
			return NewError(CodeInvalidParameter, fmt.Sprintf("Button id '%s' is not unique", r.ID))
		case titles[r.Title]:
			return NewError(CodeInvalidParameter, fmt.Sprintf("Button title '%s' is not unique", r.Title))
		}
		ids[r.ID], titles[r.Title] = true, true
	}
	return nil
}

func sectionCount(p string, n int) *Error {
	if n == 0 || n > MaxSections {
		return NewError(CodeInvalidSections,
			fmt.Sprintf("Parameter '%s' must hold 1 to %d sections, not %d", p, MaxSections, n))
	}
	return nil
}

// sectionTitle checks a section's title, which is required once there is
// more than one section (the phone needs it to tell them apart).
func sectionTitle(p string, s ActionSection, many bool) *Error {
	if s.Title == "" {
		if many {
			return errMissing(p + ".title")
		}
		return nil
	}
	if runes(s.Title) > MaxSectionTitle {
		return errTooLong(p+".title", MaxSectionTitle)
	}
	return nil
}

func validateList(a *Action) *Error {
	if e := notFor("list", a, false, true, true, true, false); e != nil {
		return e
	}
	const p = "interactive.action"
	switch {
	case a.Button == "":
		return errMissing(p + ".button")
	case runes(a.Button) > MaxListButton:
		return errTooLong(p+".button", MaxListButton)
	}
	if e := sectionCount(p+".sections", len(a.Sections)); e != nil {
		return e
	}
	total := 0
	ids := make(map[string]bool)
	for i, s := range a.Sections {
		sp := fmt.Sprintf("%s.sections[%d]", p, i)
		if s.ProductItems != nil {
			return errNotRequired(sp+".product_items", "list")
		}
		if e := sectionTitle(sp, s, len(a.Sections) > 1); e != nil {
			return e
		}
		if len(s.Rows) == 0 {
			return NewError(CodeInvalidRows, fmt.Sprintf("Parameter '%s.rows' must hold at least 1 row", sp))
		}
		total += len(s.Rows)
		for j, r := range s.Rows {
			rp := fmt.Sprintf("%s.rows[%d]", sp, j)
			switch {
			case r.ID == "":
				return errMissing(rp + ".id")
			case runes(r.ID) > MaxRowID:
				return errTooLong(rp+".id", MaxRowID)
			case r.Title == "":
				return errMissing(rp + ".title")
			case runes(r.Title) > MaxRowTitle:
				return errTooLong(rp+".title", MaxRowTitle)
			case runes(r.Description) > MaxRowDescription:
				return errTooLong(rp+".description", MaxRowDescription)
			case ids[r.ID]:
				return NewError(CodeInvalidParameter, fmt.Sprintf("Row id '%s' is not unique", r.ID))
			}
			ids[r.ID] = true
		}
	}
	if total > MaxRows {
		return NewError(CodeInvalidRows,
			fmt.Sprintf("Parameter '%s.sections' holds %d rows, the limit is %d", p, total, MaxRows))
	}
	return nil
}

func validateProduct(a *Action) *Error {
	if e := notFor("product", a, true, true, false, false, true); e != nil {
		return e
	}
	switch {
	case a.CatalogID == "":
		return errMissing("interactive.action.catalog_id")
	case a.ProductRetailerID == "":
		return errMissing("interactive.action.product_retailer_id")
	}
	return nil
}

func validateProductList(a *Action) *Error {
	if e := notFor("product_list", a, true, true, false, true, false); e != nil {
		return e
	}
	const p = "interactive.action"
	if a.CatalogID == "" {
		return errMissing(p + ".catalog_id")
	}
	if e := sectionCount(p+".sections", len(a.Sections)); e != nil {
		return e
	}
	total := 0
	for i, s := range a.Sections {
		sp := fmt.Sprintf("%s.sections[%d]", p, i)
		if s.Rows != nil {
			return errNotRequired(sp+".rows", "product_list")
		}
		if e := sectionTitle(sp, s, len(a.Sections) > 1); e != nil {
			return e
		}
		if len(s.ProductItems) == 0 {
			return NewError(CodeInvalidProducts,
				fmt.Sprintf("Parameter '%s.product_items' must hold at least 1 product", sp))
		}
		total += len(s.ProductItems)
		for j, it := range s.ProductItems {
			if it.ProductRetailerID == "" {
				return errMissing(fmt.Sprintf("%s.product_items[%d].product_retailer_id", sp, j))
			}
		}
	}
	if total > MaxProducts {
		return NewError(CodeInvalidProducts,
			fmt.Sprintf("Parameter '%s.sections' holds %d products, the limit is %d", p, total, MaxProducts))
	}
	return nil
}

// langCode matches "en", "en_US", "fil", "zh_HK", and the BCP 47 dash form.
var langCode = regexp.MustCompile(`^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,4})?$`)

func validateLanguage(p string, l *Language) *Error {
	if l == nil {
		return errMissing(p)
	}
	switch l.Policy {
	case "", "deterministic", "fallback":
	default:
		return errInvalid(p+".policy", l.Policy)
	}
	if l.Code == "" {
		return errMissing(p + ".code")
	}
	if !langCode.MatchString(l.Code) {
		return errInvalid(p+".code", l.Code)
	}
	return nil
}

func validateTemplate(t *Template) *Error {
	if t == nil {
		return errMandatoryFor("template", "template")
	}
	switch {
	case t.Namespace == "":
		return errMissing("template.namespace")
	case t.Name == "":
		return errMissing("template.name")
	}
	if e := validateLanguage("template.language", t.Language); e != nil {
		return e
	}
	seen := make(map[string]bool)
	for i, c := range t.Components {
		p := fmt.Sprintf("template.components[%d]", i)
		key := c.Type
		switch c.Type {
		case "header", "body":
			if c.SubType != "" {
				return errNotRequired(p+".sub_type", c.Type)
			}
			if c.Index != "" {
				return errNotRequired(p+".index", c.Type)
			}
		case "button":
			switch c.SubType {
			case "quick_reply", "url":
			case "":
				return errMissing(p + ".sub_type")
			default:
				return errInvalid(p+".sub_type", c.SubType)
			}
			if c.Index == "" {
				return errMissing(p + ".index")
			}
			if n, err := strconv.Atoi(c.Index); err != nil || n < 0 || n > MaxTemplateButtonIndex {
				return errInvalid(p+".index", c.Index)
			}
			key = "button " + c.Index
		case "":
			return errMissing(p + ".type")
		default:
			return errInvalid(p+".type", c.Type)
		}
		if seen[key] {
			return NewError(CodeInvalidParameter, fmt.Sprintf("Parameter 'template.components' repeats the %s component", key))
		}
		seen[key] = true
		for j, prm := range c.Parameters {
			if e := validateParameter(fmt.Sprintf("%s.parameters[%d]", p, j), prm); e != nil {
				return e
			}
		}
	}
	return nil
}

func validateParameter(p string, prm Parameter) *Error {
	fields := [...]struct {
		name string
		set  bool
	}{
		{"text", prm.Text != ""}, {"currency", prm.Currency != nil}, {"date_time", prm.DateTime != nil},
		{"image", prm.Image != nil}, {"document", prm.Document != nil}, {"video", prm.Video != nil},
		{"payload", prm.Payload != ""},
	}
	switch prm.Type {
	case "":
		return errMissing(p + ".type")
	case "text", "currency", "date_time", "image", "document", "video", "payload":
	default:
		return errInvalid(p+".type", prm.Type)
	}
	for _, f := range fields {
		if f.set && f.name != prm.Type {
			return errNotRequired(p+"."+f.name, prm.Type)
		}
	}
	switch prm.Type {
	case "text":
		if prm.Text == "" {
			return errMissing(p + ".text")
		}
	case "payload":
		if prm.Payload == "" {
			return errMissing(p + ".payload")
		}
	case "currency":
		c := prm.Currency
		switch {
		case c == nil:
			return errMissing(p + ".currency")
		case c.FallbackValue == "":
			return errMissing(p + ".currency.fallback_value")
		case c.ISO() == "":
			return errMissing(p + ".currency.code")
		}
	case "date_time":
		d := prm.DateTime
		switch {
		case d == nil:
			return errMissing(p + ".date_time")
		case d.FallbackValue == "":
			return errMissing(p + ".date_time.fallback_value")
		}
		return validateDateTime(p+".date_time", d, false)
	default:
		m := prm.media()
		if m == nil {
			return errMissing(p + "." + prm.Type)
		}
		return validateMedia(p+"."+prm.Type, prm.Type, m)
	}
	return nil
}

// media returns a media parameter's object, or nil.
func (prm *Parameter) media() *Media {
	switch prm.Type {
	case "image":
		return prm.Image
	case "document":
		return prm.Document
	case "video":
		return prm.Video
	}
	return nil
}

// validateDateTime checks that d uses at most one of its four forms (one
// when required) and that the component values are in range.
func validateDateTime(p string, d *DateTime, required bool) *Error {
	forms := 0
	for _, set := range [...]bool{!d.DateTimeComponent.empty(), d.Timestamp != nil, d.Component != nil, d.UnixEpoch != nil} {
		if set {
			forms++
		}
	}
	switch {
	case forms > 1:
		return errExactlyOne(p + ".component, " + p + ".unix_epoch")
	case forms == 0 && required:
		return errAtLeastOne(p + ".component, " + p + ".unix_epoch")
	}
	if d.Component != nil {
		return validateComponent(p+".component", d.Component)
	}
	return validateComponent(p, &d.DateTimeComponent)
}

func validateComponent(p string, c *DateTimeComponent) *Error {
	ranges := [...]struct {
		name     string
		v        *FlexInt
		min, max int64
	}{
		{"day_of_week", c.DayOfWeek, 1, 7}, {"day_of_month", c.DayOfMonth, 1, 31},
		{"year", c.Year, 0, math.MaxUint32}, {"month", c.Month, 1, 12},
		{"hour", c.Hour, 0, 23}, {"minute", c.Minute, 0, 59},
	}
	for _, r := range ranges {
		if r.v != nil && (int64(*r.v) < r.min || int64(*r.v) > r.max) {
			return errInvalid(p+"."+r.name, strconv.FormatInt(int64(*r.v), 10))
		}
	}
	switch c.Calendar {
	case "", "GREGORIAN", "SOLAR_HIJRI":
	default:
		return errInvalid(p+".calendar", c.Calendar)
	}
	return nil
}

func validateHSM(h *HSM) *Error {
	if h == nil {
		return errMandatoryFor("hsm", "hsm")
	}
	switch {
	case h.Namespace == "":
		return errMissing("hsm.namespace")
	case h.ElementName == "":
		return errMissing("hsm.element_name")
	}
	legacy := h.FallbackLg != "" || h.FallbackLc != ""
	switch {
	case h.Language != nil && legacy:
		return errExactlyOne("hsm.language, hsm.fallback_lg")
	case h.Language == nil && !legacy:
		return errAtLeastOne("hsm.language, hsm.fallback_lg")
	case legacy && h.FallbackLg == "":
		return errMissing("hsm.fallback_lg")
	case h.Language != nil:
		if e := validateLanguage("hsm.language", h.Language); e != nil {
			return e
		}
	}
	for i, lp := range h.LocalizableParams {
		p := fmt.Sprintf("hsm.localizable_params[%d]", i)
		switch {
		case lp.Default == "":
			return errMissing(p + ".default")
		case lp.Currency != nil && lp.DateTime != nil:
			return errExactlyOne(p + ".currency, " + p + ".date_time")
		case lp.Currency != nil:
			if lp.Currency.ISO() == "" {
				return errMissing(p + ".currency.currency_code")
			}
		case lp.DateTime != nil:
			if e := validateDateTime(p+".date_time", lp.DateTime, true); e != nil {
				return e
			}
		}
	}
	return nil
}

func validateReaction(r *Reaction) *Error {
	if r == nil {
		return errMandatoryFor("reaction", "reaction")
	}
	if r.MessageID == "" {
		return errMissing("reaction.message_id")
	}
	// An empty emoji removes an earlier reaction.
	if strings.TrimSpace(r.Emoji) != r.Emoji || runes(r.Emoji) > maxEmojiRunes {
		return errInvalid("reaction.emoji", r.Emoji)
	}
	return nil
}
