package content

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Outgoing is the request body of POST /v1/messages. Exactly one of the
// type objects is set, the one named by Type ("text" when Type is empty).
type Outgoing struct {
	RecipientType string `json:"recipient_type,omitempty"`
	To            string `json:"to,omitempty"`
	Type          string `json:"type,omitempty"`
	// PreviewURL sits at the top level on On-Prem; Text.PreviewURL (the
	// Cloud API's place) is accepted too.
	PreviewURL     *bool `json:"preview_url,omitempty"`
	RenderMentions *bool `json:"render_mentions,omitempty"`
	// TTL is kept raw: its format is not confirmed (§3.4), and only
	// templates use it.
	TTL     json.RawMessage `json:"ttl,omitempty"`
	Context *Context        `json:"context,omitempty"`

	Text        *Text         `json:"text,omitempty"`
	Image       *Media        `json:"image,omitempty"`
	Audio       *Media        `json:"audio,omitempty"`
	Video       *Media        `json:"video,omitempty"`
	Document    *Media        `json:"document,omitempty"`
	Sticker     *Media        `json:"sticker,omitempty"`
	Location    *Location     `json:"location,omitempty"`
	Contacts    []ContactCard `json:"contacts,omitempty"`
	Interactive *Interactive  `json:"interactive,omitempty"`
	Template    *Template     `json:"template,omitempty"`
	HSM         *HSM          `json:"hsm,omitempty"`
	Reaction    *Reaction     `json:"reaction,omitempty"`
}

// Kind returns the message type, applying On-Prem's default of "text".
func (o *Outgoing) Kind() string {
	if o.Type == "" {
		return "text"
	}
	return o.Type
}

// Context makes a message a reply to an earlier one.
type Context struct {
	MessageID string `json:"message_id,omitempty"`
}

// Text is a plain text message.
type Text struct {
	Body       string `json:"body"`
	PreviewURL *bool  `json:"preview_url,omitempty"`
}

// Media is an image, audio, video, document or sticker object, and also a
// media template parameter or interactive header. ID (an uploaded media id)
// and Link (an http(s) URL) are mutually exclusive.
type Media struct {
	ID       string    `json:"id,omitempty"`
	Link     string    `json:"link,omitempty"`
	Caption  string    `json:"caption,omitempty"`
	Filename string    `json:"filename,omitempty"`
	Provider *Provider `json:"provider,omitempty"`
}

// Provider names a configured media provider for a Link (§3.7).
type Provider struct {
	Name string `json:"name"`
}

// Location is a pin, both sent and received (the webhook adds URL).
// Coordinates are pointers so that a missing one is told apart from 0.
type Location struct {
	Latitude  *Coordinate `json:"latitude,omitempty"`
	Longitude *Coordinate `json:"longitude,omitempty"`
	Name      string      `json:"name,omitempty"`
	Address   string      `json:"address,omitempty"`
	URL       string      `json:"url,omitempty"`
}

// Coordinate is a latitude or longitude in degrees. It decodes from a JSON
// number or from a string holding one: the docs show numbers, but the
// Postman-derived schema types them as strings, so clients send both.
type Coordinate float64

// Coord returns a pointer to c, for building a Location literal.
func Coord(c float64) *Coordinate { v := Coordinate(c); return &v }

// UnmarshalJSON accepts 1.5 and "1.5" but not NaN or infinities, which JSON
// cannot carry back out.
func (c *Coordinate) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return NewError(CodeInvalidParameter, "Invalid coordinate value "+clip(b))
	}
	*c = Coordinate(f)
	return nil
}

// MarshalJSON writes a JSON number, formatted like encoding/json does.
func (c Coordinate) MarshalJSON() ([]byte, error) { return json.Marshal(float64(c)) }

// ContactCard is one entry of a "contacts" message (§3.4, the webhook uses
// the same shape).
type ContactCard struct {
	Addresses []Address `json:"addresses,omitempty"`
	Birthday  string    `json:"birthday,omitempty"`
	Emails    []Email   `json:"emails,omitempty"`
	Name      *Name     `json:"name,omitempty"`
	Org       *Org      `json:"org,omitempty"`
	Phones    []Phone   `json:"phones,omitempty"`
	URLs      []URL     `json:"urls,omitempty"`
}

// Address is a postal address; Type is HOME or WORK.
type Address struct {
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	State       string `json:"state,omitempty"`
	Zip         string `json:"zip,omitempty"`
	Country     string `json:"country,omitempty"`
	CountryCode string `json:"country_code,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Email is an e-mail address with its type.
type Email struct {
	Email string `json:"email,omitempty"`
	Type  string `json:"type,omitempty"`
}

// Name is a contact's name; FormattedName is required.
type Name struct {
	FormattedName string `json:"formatted_name,omitempty"`
	FirstName     string `json:"first_name,omitempty"`
	LastName      string `json:"last_name,omitempty"`
	MiddleName    string `json:"middle_name,omitempty"`
	Suffix        string `json:"suffix,omitempty"`
	Prefix        string `json:"prefix,omitempty"`
}

// Org is a contact's organisation.
type Org struct {
	Company    string `json:"company,omitempty"`
	Department string `json:"department,omitempty"`
	Title      string `json:"title,omitempty"`
}

// Phone is a phone number; WAID marks it as a WhatsApp account.
type Phone struct {
	Phone string `json:"phone,omitempty"`
	Type  string `json:"type,omitempty"`
	WAID  string `json:"wa_id,omitempty"`
}

// URL is a web address with its type.
type URL struct {
	URL  string `json:"url,omitempty"`
	Type string `json:"type,omitempty"`
}

// Interactive is a button, list, product or product_list message.
type Interactive struct {
	Type   string             `json:"type,omitempty"`
	Header *InteractiveHeader `json:"header,omitempty"`
	Body   *InteractiveText   `json:"body,omitempty"`
	Footer *InteractiveText   `json:"footer,omitempty"`
	Action *Action            `json:"action,omitempty"`
}

// InteractiveHeader is a text or media header; Type names which.
type InteractiveHeader struct {
	Type     string `json:"type,omitempty"`
	Text     string `json:"text,omitempty"`
	Image    *Media `json:"image,omitempty"`
	Video    *Media `json:"video,omitempty"`
	Document *Media `json:"document,omitempty"`
}

// InteractiveText is the body or footer of an interactive message.
type InteractiveText struct {
	Text string `json:"text"`
}

// Action is what the user can do with an interactive message: reply
// buttons (button), a menu (list: Button is its label), or products.
type Action struct {
	Button            string          `json:"button,omitempty"`
	Buttons           []ActionButton  `json:"buttons,omitempty"`
	CatalogID         string          `json:"catalog_id,omitempty"`
	ProductRetailerID string          `json:"product_retailer_id,omitempty"`
	Sections          []ActionSection `json:"sections,omitempty"`
}

// ActionButton is one reply button; Type is "reply".
type ActionButton struct {
	Type  string       `json:"type,omitempty"`
	Reply *ButtonReply `json:"reply,omitempty"`
}

// ButtonReply identifies a reply button, both in a request and in the
// webhook's interactive.button_reply.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ActionSection is a list section (Rows) or product_list section
// (ProductItems).
type ActionSection struct {
	Title        string        `json:"title,omitempty"`
	Rows         []Row         `json:"rows,omitempty"`
	ProductItems []ProductItem `json:"product_items,omitempty"`
}

// Row is one choice of a list.
type Row struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// ProductItem names a catalog product.
type ProductItem struct {
	ProductRetailerID string `json:"product_retailer_id"`
}

// Template is a message template by name (type "template").
type Template struct {
	Namespace  string      `json:"namespace,omitempty"`
	Name       string      `json:"name,omitempty"`
	Language   *Language   `json:"language,omitempty"`
	Components []Component `json:"components,omitempty"`
}

// Language selects a template translation; Code is "en" or "en_US", Policy
// "deterministic" or the deprecated "fallback".
type Language struct {
	Policy string `json:"policy,omitempty"`
	Code   string `json:"code,omitempty"`
}

// Component carries the parameters of a template's header, body or button.
type Component struct {
	Type       string      `json:"type,omitempty"`
	SubType    string      `json:"sub_type,omitempty"`
	Index      string      `json:"index,omitempty"`
	Parameters []Parameter `json:"parameters,omitempty"`
}

// Parameter is one template parameter; Type names the field that is set.
type Parameter struct {
	Type     string    `json:"type,omitempty"`
	Text     string    `json:"text,omitempty"`
	Currency *Currency `json:"currency,omitempty"`
	DateTime *DateTime `json:"date_time,omitempty"`
	Image    *Media    `json:"image,omitempty"`
	Document *Media    `json:"document,omitempty"`
	Video    *Media    `json:"video,omitempty"`
	Payload  string    `json:"payload,omitempty"`
}

// Currency is an amount in thousandths. Templates spell the currency "code"
// and give a fallback_value; legacy HSM spells it "currency_code" and puts
// the fallback in the parameter's "default". Both spellings are accepted.
type Currency struct {
	FallbackValue string `json:"fallback_value,omitempty"`
	Code          string `json:"code,omitempty"`
	CurrencyCode  string `json:"currency_code,omitempty"`
	Amount1000    int64  `json:"amount_1000"`
}

// ISO returns the currency code in whichever spelling was used.
func (c *Currency) ISO() string {
	if c.Code != "" {
		return c.Code
	}
	return c.CurrencyCode
}

// DateTime is a localisable date. Templates put the components inline next
// to fallback_value (or a Unix "timestamp"); legacy HSM nests them under
// "component" or "unix_epoch". Both forms are accepted.
type DateTime struct {
	FallbackValue string `json:"fallback_value,omitempty"`
	DateTimeComponent
	Timestamp *int64             `json:"timestamp,omitempty"`
	Component *DateTimeComponent `json:"component,omitempty"`
	UnixEpoch *UnixEpoch         `json:"unix_epoch,omitempty"`
}

// DateTimeComponent is a date by fields; DayOfWeek is 1 (Monday) to 7.
type DateTimeComponent struct {
	DayOfWeek  *FlexInt `json:"day_of_week,omitempty"`
	DayOfMonth *FlexInt `json:"day_of_month,omitempty"`
	Year       *FlexInt `json:"year,omitempty"`
	Month      *FlexInt `json:"month,omitempty"`
	Hour       *FlexInt `json:"hour,omitempty"`
	Minute     *FlexInt `json:"minute,omitempty"`
	Calendar   string   `json:"calendar,omitempty"`
}

func (c *DateTimeComponent) empty() bool {
	return c.DayOfWeek == nil && c.DayOfMonth == nil && c.Year == nil && c.Month == nil &&
		c.Hour == nil && c.Minute == nil && c.Calendar == ""
}

// UnixEpoch is a date as Unix seconds.
type UnixEpoch struct {
	Timestamp int64 `json:"timestamp"`
}

// FlexInt is an integer that also decodes from a numeric string: the docs
// say day_of_week accepts "both strings and numbers".
type FlexInt int64

// Int returns a pointer to v, for building literals.
func Int(v int64) *FlexInt { f := FlexInt(v); return &f }

// UnmarshalJSON accepts 5 and "5".
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	s := string(b)
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = strings.TrimSpace(str)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return NewError(CodeInvalidParameter, "Invalid integer value "+clip(b))
	}
	*f = FlexInt(v)
	return nil
}

// HSM is the legacy template message (type "hsm"). Language and the legacy
// FallbackLg/FallbackLc pair are alternatives.
type HSM struct {
	Namespace         string             `json:"namespace,omitempty"`
	ElementName       string             `json:"element_name,omitempty"`
	Language          *Language          `json:"language,omitempty"`
	FallbackLg        string             `json:"fallback_lg,omitempty"`
	FallbackLc        string             `json:"fallback_lc,omitempty"`
	LocalizableParams []LocalizableParam `json:"localizable_params,omitempty"`
}

// LocalizableParam is one HSM parameter: Default alone is text; with
// Currency or DateTime, Default is the fallback text.
type LocalizableParam struct {
	Default  string    `json:"default"`
	Currency *Currency `json:"currency,omitempty"`
	DateTime *DateTime `json:"date_time,omitempty"`
}

// Reaction puts (or, with an empty Emoji, removes) an emoji on a message,
// both sent and received.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// clip shortens a raw JSON value quoted in an error, which could otherwise
// echo a whole request body back.
func clip(b []byte) string {
	const max = 64
	if len(b) <= max {
		return string(b)
	}
	return strings.ToValidUTF8(string(b[:max]), "") + "..."
}
