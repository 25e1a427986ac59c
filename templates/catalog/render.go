package catalog

import (
	"errors"
	"fmt"
	"strings"
)

// Rendered is a template with its parameters substituted: what a phone
// shows.
type Rendered struct {
	Header      string // hydrated text header, or "" for media and none
	HeaderMedia string // format of a media header
	Body        string
	Footer      string
	Buttons     []RenderedButton
}

// RenderedButton is a button as shown.
type RenderedButton struct {
	Type, Text, URL, PhoneNumber, Payload string
}

// ErrParamCount is returned (wrapped) when the parameters do not fit the
// template's slots.
var ErrParamCount = errors.New("catalog: parameter count does not match the template")

// Render splits params (flattened header, body, then buttons by index, as
// they travel on the wire) over the template's slots and substitutes them.
// Header and body must be complete; button parameters follow in button
// order, and a quick reply's payload may be absent when no parameters are
// left for it.
func (t *Template) Render(params []string) (Rendered, error) {
	s := t.Slots()
	head := s.HeaderText + s.Body
	if s.HeaderMedia != "" {
		head++
	}
	if len(params) < head {
		return Rendered{}, fmt.Errorf("%w: %d parameters for %d header and body placeholders", ErrParamCount, len(params), head)
	}
	var r Rendered
	rest := params
	if h := t.component(Header); h != nil {
		if s.HeaderMedia != "" {
			r.HeaderMedia = s.HeaderMedia
			rest = rest[1:]
		} else if h.Format == "" || h.Format == FormatText {
			r.Header = Hydrate(h.Text, rest[:s.HeaderText])
			rest = rest[s.HeaderText:]
		} else {
			r.HeaderMedia = h.Format
		}
	}
	if b := t.component(Body); b != nil {
		r.Body = Hydrate(b.Text, rest[:s.Body])
		rest = rest[s.Body:]
	}
	if f := t.component(Footer); f != nil {
		r.Footer = f.Text
	}
	if bs := t.component(Buttons); bs != nil {
		for i, b := range bs.Buttons {
			rb := RenderedButton{Type: b.Type, Text: b.Text, PhoneNumber: b.PhoneNumber}
			switch b.Type {
			case URLButton:
				n := s.Buttons[i].Params
				if len(rest) < n {
					return Rendered{}, fmt.Errorf("%w: URL button %d lacks its parameter", ErrParamCount, i)
				}
				rb.URL = Hydrate(b.URL, rest[:n])
				rest = rest[n:]
			case QuickReply:
				if len(rest) > 0 {
					rb.Payload, rest = rest[0], rest[1:]
				}
			}
			r.Buttons = append(r.Buttons, rb)
		}
	}
	if len(rest) > 0 {
		return Rendered{}, fmt.Errorf("%w: %d parameters left over", ErrParamCount, len(rest))
	}
	return r, nil
}

// Text is the rendered message as one text: header, body and footer on
// their own lines, then the buttons' labels in brackets.
func (r Rendered) Text() string {
	var parts []string
	if r.HeaderMedia != "" {
		parts = append(parts, "["+strings.ToLower(r.HeaderMedia)+"]")
	}
	for _, s := range []string{r.Header, r.Body, r.Footer} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	var bs []string
	for _, b := range r.Buttons {
		bs = append(bs, "["+b.Text+"]")
	}
	if len(bs) > 0 {
		parts = append(parts, strings.Join(bs, " "))
	}
	return strings.Join(parts, "\n")
}
