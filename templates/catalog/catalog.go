// Package catalog is the message-template model that both sides of a
// template send share: the business validates parameters against it
// (package templates) and the recipient's phone renders the message from
// its own copy (the simulated phones of waenttest). A template is a
// translation: namespace, name and language, with header, body, footer and
// buttons whose texts hold {{1}}..{{n}} placeholders.
//
// Only namespace, name, language and the parameters travel on the wire
// (protocol.md §5, HighlyStructuredMessage); the parameters are flattened
// header first, then body, then buttons by index, so a renderer splits
// them again by the slot counts of Template.Slots.
package catalog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Component types, header formats and button types, spelled as the
// template management API spells them.
const (
	Header  = "HEADER"
	Body    = "BODY"
	Footer  = "FOOTER"
	Buttons = "BUTTONS"

	FormatText     = "TEXT"
	FormatImage    = "IMAGE"
	FormatVideo    = "VIDEO"
	FormatDocument = "DOCUMENT"
	FormatLocation = "LOCATION"

	QuickReply  = "QUICK_REPLY"
	URLButton   = "URL"
	PhoneButton = "PHONE_NUMBER"
)

// Limits of a template definition (the template management rules).
const (
	MaxHeaderText = 60
	MaxBodyText   = 1024
	MaxFooterText = 60
	MaxButtons    = 3
	MaxButtonText = 25
)

// Template is one translation of a message template.
type Template struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Language is "en" or "en_US" (language, optionally _LOCALE).
	Language string `json:"language"`
	// Category is the template's category (UTILITY, MARKETING,
	// AUTHENTICATION, or a legacy one); it becomes the pricing category.
	Category string `json:"category,omitempty"`
	// Status is approved, paused, disabled, rejected or pending.
	Status     string      `json:"status"`
	Components []Component `json:"components"`
}

// Component is a header, body, footer or the buttons of a template.
type Component struct {
	Type    string   `json:"type"`
	Format  string   `json:"format,omitempty"` // headers only
	Text    string   `json:"text,omitempty"`
	Buttons []Button `json:"buttons,omitempty"`
}

// Button is a quick reply, a URL (optionally ending in {{1}}) or a phone
// number to call.
type Button struct {
	Type        string `json:"type"`
	Text        string `json:"text"`
	URL         string `json:"url,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
}

// Key names the translation.
func (t *Template) Key() string { return t.Namespace + "/" + t.Name + "/" + t.Language }

// component returns the first component of a type, or nil.
func (t *Template) component(typ string) *Component {
	for i := range t.Components {
		if t.Components[i].Type == typ {
			return &t.Components[i]
		}
	}
	return nil
}

// Slots are the parameters a send must supply, per part.
type Slots struct {
	// HeaderText is the number of text parameters of a TEXT header (0 or
	// 1); HeaderMedia is the format of a media header (IMAGE, VIDEO,
	// DOCUMENT), which takes one media parameter.
	HeaderText  int
	HeaderMedia string
	Body        int
	// Buttons lists the template's buttons in index order with the
	// parameters each takes: a URL with a placeholder takes one text
	// parameter, a quick reply may take one payload.
	Buttons []ButtonSlot
}

// ButtonSlot is one button's parameter.
type ButtonSlot struct {
	Index  int
	Type   string
	Params int
}

// Text is the number of text placeholders of the header and body: what
// a legacy hsm send must supply as localizable_params.
func (s Slots) Text() int { return s.HeaderText + s.Body }

// Slots returns the parameters the template takes.
func (t *Template) Slots() Slots {
	var s Slots
	if h := t.component(Header); h != nil {
		switch h.Format {
		case "", FormatText:
			s.HeaderText = placeholders(h.Text)
		case FormatImage, FormatVideo, FormatDocument:
			s.HeaderMedia = h.Format
		}
	}
	if b := t.component(Body); b != nil {
		s.Body = placeholders(b.Text)
	}
	if bs := t.component(Buttons); bs != nil {
		for i, b := range bs.Buttons {
			bslot := ButtonSlot{Index: i, Type: b.Type}
			switch b.Type {
			case URLButton:
				bslot.Params = placeholders(b.URL)
			case QuickReply:
				bslot.Params = 1
			}
			s.Buttons = append(s.Buttons, bslot)
		}
	}
	return s
}

// Rich reports whether the template has a media header or buttons: such
// a template can only be sent as type "template", not the legacy hsm.
func (t *Template) Rich() bool {
	s := t.Slots()
	return s.HeaderMedia != "" || len(s.Buttons) > 0
}

// Validate checks the definition: known component types and formats,
// placeholders numbered {{1}}..{{n}} without gaps, lengths and button
// counts within the limits.
func (t *Template) Validate() error {
	if t.Namespace == "" || t.Name == "" || t.Language == "" {
		return errors.New("catalog: template needs namespace, name and language")
	}
	seen := map[string]bool{}
	for _, c := range t.Components {
		if seen[c.Type] {
			return fmt.Errorf("catalog: %s: two %s components", t.Key(), c.Type)
		}
		seen[c.Type] = true
		switch c.Type {
		case Header:
			switch c.Format {
			case "", FormatText:
				if err := checkText(c.Text, MaxHeaderText, 1); err != nil {
					return fmt.Errorf("catalog: %s: header: %w", t.Key(), err)
				}
			case FormatImage, FormatVideo, FormatDocument, FormatLocation:
			default:
				return fmt.Errorf("catalog: %s: unknown header format %q", t.Key(), c.Format)
			}
		case Body:
			if err := checkText(c.Text, MaxBodyText, -1); err != nil {
				return fmt.Errorf("catalog: %s: body: %w", t.Key(), err)
			}
		case Footer:
			if err := checkText(c.Text, MaxFooterText, 0); err != nil {
				return fmt.Errorf("catalog: %s: footer: %w", t.Key(), err)
			}
		case Buttons:
			if len(c.Buttons) == 0 || len(c.Buttons) > MaxButtons {
				return fmt.Errorf("catalog: %s: 1 to %d buttons", t.Key(), MaxButtons)
			}
			for _, b := range c.Buttons {
				if b.Text == "" || len([]rune(b.Text)) > MaxButtonText {
					return fmt.Errorf("catalog: %s: button text must be 1..%d characters", t.Key(), MaxButtonText)
				}
				switch b.Type {
				case QuickReply:
				case URLButton:
					if err := checkText(b.URL, 2000, 1); err != nil || !strings.HasPrefix(b.URL, "http") {
						return fmt.Errorf("catalog: %s: URL button %q", t.Key(), b.URL)
					}
				case PhoneButton:
					if b.PhoneNumber == "" {
						return fmt.Errorf("catalog: %s: phone button without a number", t.Key())
					}
				default:
					return fmt.Errorf("catalog: %s: unknown button type %q", t.Key(), b.Type)
				}
			}
		default:
			return fmt.Errorf("catalog: %s: unknown component %q", t.Key(), c.Type)
		}
	}
	if !seen[Body] {
		return fmt.Errorf("catalog: %s: a body is required", t.Key())
	}
	return nil
}

// checkText checks a text's length and that its placeholders are {{1}}
// to {{n}} with n at most maxParams (-1: any).
func checkText(s string, maxLen, maxParams int) error {
	if len([]rune(s)) > maxLen {
		return fmt.Errorf("text longer than %d characters", maxLen)
	}
	nums, err := placeholderNumbers(s)
	if err != nil {
		return err
	}
	for i := 1; i <= len(nums); i++ {
		if !nums[i] {
			return fmt.Errorf("placeholders must be numbered {{1}} to {{%d}}", len(nums))
		}
	}
	if maxParams >= 0 && len(nums) > maxParams {
		return fmt.Errorf("at most %d placeholders", maxParams)
	}
	return nil
}

// placeholderNumbers returns the distinct n of the {{n}} in s.
func placeholderNumbers(s string) (map[int]bool, error) {
	nums := map[int]bool{}
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return nums, nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return nil, errors.New("unclosed {{")
		}
		n, err := strconv.Atoi(s[i+2 : i+j])
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("bad placeholder %q", s[i:i+j+2])
		}
		nums[n] = true
		s = s[i+j+2:]
	}
}

// placeholders is the number of distinct placeholders of a valid text.
func placeholders(s string) int {
	nums, err := placeholderNumbers(s)
	if err != nil {
		return 0
	}
	return len(nums)
}

// Hydrate replaces {{n}} in text with params[n-1]. A missing parameter
// leaves its placeholder, which a caller that counted the slots never
// sees.
func Hydrate(text string, params []string) string {
	var b strings.Builder
	for {
		i := strings.Index(text, "{{")
		if i < 0 {
			b.WriteString(text)
			return b.String()
		}
		j := strings.Index(text[i:], "}}")
		if j < 0 {
			b.WriteString(text)
			return b.String()
		}
		n, err := strconv.Atoi(text[i+2 : i+j])
		b.WriteString(text[:i])
		if err == nil && n >= 1 && n <= len(params) {
			b.WriteString(params[n-1])
		} else {
			b.WriteString(text[i : i+j+2])
		}
		text = text[i+j+2:]
	}
}

// SplitLanguage splits "en_US" into "en" and "US"; "en" has no locale.
func SplitLanguage(code string) (lang, locale string) {
	lang, locale, _ = strings.Cut(code, "_")
	return lang, locale
}
