package templates

import (
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/waent/waent/content"
	"github.com/waent/waent/templates/catalog"
)

// Limits on parameters (the template rules On-Premises enforced on the
// send side).
const (
	// MaxParamLength bounds one text parameter (2004).
	MaxParamLength = 1024
	// maxConsecutiveSpaces is the whitespace policy's run limit (2006).
	maxConsecutiveSpaces = 4
)

// Codes of the template errors (onprem-api.md §5).
const (
	codeParamCount     = 2000
	codeMissing        = 2001
	codeFetchFailed    = 2002
	codePackMissing    = 2003
	codeParamTooLong   = 2004
	codeHydratedLong   = 2005
	codeWhitespace     = 2006
	codeFormatChar     = 2007
	codeMediaFormat    = 2008
	codeRequiredMiss   = 2009
	codeBadURL         = 2010
	codeBadPhone       = 2011
	codeFormatMismatch = 2012
	codeNoNamespace    = 2014
	codeRejected       = 2060
	codePaused         = 2061
	codeDisabled       = 2062
	codeInvalidParam   = 1009
)

// Resolved is the translation a valid send was checked against.
type Resolved struct {
	Template catalog.Template
}

// Validate checks a template or hsm send against the catalogue: the
// namespace, the translation the language policy selects, its status, and
// every parameter. Other types pass. Errors are *content.Error with the
// On-Premises codes and wording.
func (c *Catalogue) Validate(o *content.Outgoing) (Resolved, error) {
	switch o.Type {
	case "template":
		if o.Template == nil {
			return Resolved{}, nil // content validation reports it
		}
		t, err := c.resolve(o.Template.Namespace, o.Template.Name, o.Template.Language, "", "")
		if err != nil {
			return Resolved{}, err
		}
		if err := checkComponents(&t, o.Template.Components); err != nil {
			return Resolved{}, err
		}
		return Resolved{Template: t}, nil
	case "hsm":
		h := o.HSM
		if h == nil {
			return Resolved{}, nil
		}
		t, err := c.resolve(h.Namespace, h.ElementName, h.Language, h.FallbackLg, h.FallbackLc)
		if err != nil {
			return Resolved{}, err
		}
		if t.Rich() {
			return Resolved{}, content.NewError(codeInvalidParam, fmt.Sprintf("%s is a rich template and requires the template message API to be used", t.Name))
		}
		if err := checkHSMParams(&t, h.LocalizableParams); err != nil {
			return Resolved{}, err
		}
		return Resolved{Template: t}, nil
	}
	return Resolved{}, nil
}

// resolve finds the translation to send: the namespace must be the
// business's; the deterministic policy (the default) takes the exact
// language, the deprecated fallback policy the template's default
// language when the requested one is missing.
func (c *Catalogue) resolve(ns, name string, lang *content.Language, legacyLg, legacyLc string) (catalog.Template, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.have || c.ns == "" {
		return catalog.Template{}, content.NewError(codeNoNamespace, "The business's template namespace is not known yet: the catalogue has not been loaded from the server")
	}
	if !c.fresh() {
		return catalog.Template{}, content.NewError(codeFetchFailed, "The template catalogue is older than its maximum age and could not be refreshed from the server")
	}
	if ns != c.ns {
		return catalog.Template{}, content.NewError(codeInvalidParam, "The namespace does not correspond to the WABA id")
	}
	code, policy := "", "deterministic"
	if lang != nil {
		code, policy = lang.Code, lang.Policy
		if policy == "" {
			policy = "deterministic"
		}
	} else {
		code, policy = legacyLg, "fallback"
		if legacyLc != "" {
			code += "_" + legacyLc
		}
	}
	// "en-us" and "en_US" name the same translation.
	lg, lc := catalog.SplitLanguage(strings.ReplaceAll(code, "-", "_"))
	lg, lc = strings.ToLower(lg), strings.ToUpper(lc)
	code = lg
	if lc != "" {
		code += "_" + lc
	}
	where := "language " + lg
	if lc != "" {
		where += " and locale " + lc
	}
	tr := c.byName[name]
	var t catalog.Template
	var ok bool
	if tr != nil {
		t, ok = tr.byLang[code]
		if !ok && policy == "fallback" && len(tr.order) > 0 {
			t, ok = tr.byLang[tr.order[0]], true
		}
	}
	if !ok {
		if !c.langs[code] {
			return catalog.Template{}, content.NewError(codePackMissing, "No message templates exist in "+where)
		}
		return catalog.Template{}, content.NewError(codeMissing, fmt.Sprintf("Template %s does not exist in %s", name, where))
	}
	switch t.Status {
	case "approved":
	case "rejected":
		return catalog.Template{}, content.NewError(codeRejected, fmt.Sprintf("Template %s in %s was rejected", name, where))
	case "paused":
		return catalog.Template{}, content.NewError(codePaused, fmt.Sprintf("Template %s in %s is paused", name, where))
	case "disabled":
		return catalog.Template{}, content.NewError(codeDisabled, fmt.Sprintf("Template %s in %s is disabled", name, where))
	default: // pending: not active yet
		return catalog.Template{}, content.NewError(codeMissing, fmt.Sprintf("Template %s in %s is not active (%s)", name, where, t.Status))
	}
	return t, nil
}

// paramText is the text a parameter puts in the message.
func paramText(p content.Parameter) string {
	switch p.Type {
	case "text":
		return p.Text
	case "currency":
		return p.Currency.FallbackValue
	case "date_time":
		return p.DateTime.FallbackValue
	case "payload":
		return p.Payload
	}
	return ""
}

var multiSpace = regexp.MustCompile(` {` + strconv.Itoa(maxConsecutiveSpaces+1) + `,}`)

// checkText applies the length and whitespace rules to one text parameter.
func checkText(where string, s string, header bool) error {
	if utf8.RuneCountInString(s) > MaxParamLength {
		return content.NewError(codeParamTooLong, fmt.Sprintf("Parameter %s is longer than %d characters", where, MaxParamLength))
	}
	if strings.ContainsAny(s, "\n\t") || multiSpace.MatchString(s) {
		return content.NewError(codeWhitespace, fmt.Sprintf("Parameter %s contains a new line, a tab or more than %d consecutive spaces", where, maxConsecutiveSpaces))
	}
	if header && strings.ContainsAny(s, "*_~`") {
		return content.NewError(codeFormatChar, fmt.Sprintf("Parameter %s of a header cannot contain formatting characters (*, _, ~, `)", where))
	}
	return nil
}

// checkComponents checks the parameters of a type "template" send
// against the translation's slots.
func checkComponents(t *catalog.Template, comps []content.Component) error {
	slots := t.Slots()
	var header, body *content.Component
	buttons := map[int]*content.Component{}
	for i := range comps {
		c := &comps[i]
		switch c.Type {
		case "header":
			header = c
		case "body":
			body = c
		case "button":
			n, _ := strconv.Atoi(c.Index)
			if buttons[n] != nil { // "1" and "01"
				return content.NewError(codeInvalidParam, fmt.Sprintf("Parameter 'template.components' repeats the button at index %d", n))
			}
			buttons[n] = c
		}
	}

	// Header.
	var headerParams []string
	switch {
	case slots.HeaderMedia != "":
		if header == nil || len(header.Parameters) == 0 {
			return content.NewError(codeRequiredMiss, fmt.Sprintf("Template %s requires a header component with a %s parameter", t.Name, strings.ToLower(slots.HeaderMedia)))
		}
		if len(header.Parameters) != 1 {
			return content.NewError(codeParamCount, fmt.Sprintf("Number of parameters in the header %d does not match the expected number of params 1", len(header.Parameters)))
		}
		p := header.Parameters[0]
		want := strings.ToLower(slots.HeaderMedia)
		if p.Type != want {
			if p.Type == "image" || p.Type == "video" || p.Type == "document" {
				return content.NewError(codeMediaFormat, fmt.Sprintf("The header of template %s takes a %s, not a %s", t.Name, want, p.Type))
			}
			return content.NewError(codeFormatMismatch, fmt.Sprintf("The header parameter of template %s must be of type %s, not %s", t.Name, want, p.Type))
		}
	case slots.HeaderText > 0:
		if header == nil {
			return content.NewError(codeRequiredMiss, fmt.Sprintf("Template %s requires a header component with %d parameter(s)", t.Name, slots.HeaderText))
		}
		if len(header.Parameters) != slots.HeaderText {
			return content.NewError(codeParamCount, fmt.Sprintf("Number of parameters in the header %d does not match the expected number of params %d", len(header.Parameters), slots.HeaderText))
		}
		for i, p := range header.Parameters {
			if p.Type != "text" && p.Type != "currency" && p.Type != "date_time" {
				return content.NewError(codeFormatMismatch, fmt.Sprintf("Header parameter %d of template %s must be text, not %s", i, t.Name, p.Type))
			}
			s := paramText(p)
			if err := checkText(fmt.Sprintf("header[%d]", i), s, true); err != nil {
				return err
			}
			headerParams = append(headerParams, s)
		}
	default:
		if header != nil && len(header.Parameters) > 0 {
			return content.NewError(codeParamCount, fmt.Sprintf("Number of parameters in the header %d does not match the expected number of params 0", len(header.Parameters)))
		}
	}

	// Body.
	var bodyParams []string
	n := 0
	if body != nil {
		n = len(body.Parameters)
	}
	if n != slots.Body {
		if n == 0 && slots.Body > 0 {
			return content.NewError(codeRequiredMiss, fmt.Sprintf("Template %s requires a body component with %d parameter(s)", t.Name, slots.Body))
		}
		return content.NewError(codeParamCount, fmt.Sprintf("Number of parameters %d does not match the expected number of params %d", n, slots.Body))
	}
	if body != nil {
		for i, p := range body.Parameters {
			if p.Type != "text" && p.Type != "currency" && p.Type != "date_time" {
				return content.NewError(codeFormatMismatch, fmt.Sprintf("Body parameter %d of template %s must be text, currency or date_time, not %s", i, t.Name, p.Type))
			}
			s := paramText(p)
			if err := checkText(fmt.Sprintf("body[%d]", i), s, false); err != nil {
				return err
			}
			bodyParams = append(bodyParams, s)
		}
	}

	// Buttons.
	for _, idx := range slices.Sorted(maps.Keys(buttons)) {
		c := buttons[idx]
		if idx >= len(slots.Buttons) {
			return content.NewError(codeInvalidParam, fmt.Sprintf("Template %s has no button at index %d", t.Name, idx))
		}
		bs := slots.Buttons[idx]
		def := templateButton(t, idx)
		switch {
		case c.SubType == "url" && bs.Type != catalog.URLButton, c.SubType == "quick_reply" && bs.Type != catalog.QuickReply:
			return content.NewError(codeFormatMismatch, fmt.Sprintf("Button %d of template %s is %s, not %s", idx, t.Name, strings.ToLower(bs.Type), c.SubType))
		}
		switch bs.Type {
		case catalog.URLButton:
			if len(c.Parameters) != bs.Params {
				return content.NewError(codeParamCount, fmt.Sprintf("Number of parameters of button %d %d does not match the expected number of params %d", idx, len(c.Parameters), bs.Params))
			}
			var ps []string
			for _, p := range c.Parameters {
				if p.Type != "text" {
					return content.NewError(codeFormatMismatch, fmt.Sprintf("The parameter of URL button %d must be text, not %s", idx, p.Type))
				}
				ps = append(ps, p.Text)
			}
			if !validURL(catalog.Hydrate(def.URL, ps)) {
				return content.NewError(codeBadURL, fmt.Sprintf("URL in button %d of template %s is invalid with its parameter", idx, t.Name))
			}
		case catalog.QuickReply:
			if len(c.Parameters) > 1 {
				return content.NewError(codeParamCount, fmt.Sprintf("Number of parameters of button %d %d does not match the expected number of params 1", idx, len(c.Parameters)))
			}
			for _, p := range c.Parameters {
				if p.Type != "payload" {
					return content.NewError(codeFormatMismatch, fmt.Sprintf("The parameter of quick reply button %d must be a payload, not %s", idx, p.Type))
				}
			}
		}
	}
	// Every URL button with a placeholder needs its parameter, and a phone
	// button a dialable number.
	for _, bs := range slots.Buttons {
		def := templateButton(t, bs.Index)
		switch {
		case bs.Type == catalog.URLButton && bs.Params > 0 && buttons[bs.Index] == nil:
			return content.NewError(codeRequiredMiss, fmt.Sprintf("Template %s requires a url button component at index %d", t.Name, bs.Index))
		case bs.Type == catalog.PhoneButton && !validPhone(def.PhoneNumber):
			return content.NewError(codeBadPhone, fmt.Sprintf("Phone Number in button %d of template %s is invalid", bs.Index, t.Name))
		}
	}
	// Button parameters travel flattened by index: a quick reply without
	// its payload before a button that takes a parameter would shift that
	// parameter onto the quick reply on the phone.
	for i, bs := range slots.Buttons {
		if bs.Type != catalog.QuickReply || (buttons[i] != nil && len(buttons[i].Parameters) > 0) {
			continue
		}
		for _, later := range slots.Buttons[i+1:] {
			if later.Params > 0 && buttons[later.Index] != nil && len(buttons[later.Index].Parameters) > 0 {
				return content.NewError(codeRequiredMiss, fmt.Sprintf("Template %s requires a quick_reply button component with a payload at index %d, since a later button takes a parameter", t.Name, i))
			}
		}
	}
	// Hydrated lengths, on the parameters as the phone will split them.
	flat := append([]string{}, headerParams...)
	if slots.HeaderMedia != "" {
		flat = append(flat, "") // the media travels as one parameter
	}
	flat = append(append(flat, bodyParams...), buttonParams(t, buttons)...)
	r, err := t.Render(flat)
	if err != nil {
		return content.NewError(codeParamCount, fmt.Sprintf("The parameters of template %s do not match its components: %v", t.Name, err))
	}
	if utf8.RuneCountInString(r.Header) > catalog.MaxHeaderText {
		return content.NewError(codeHydratedLong, fmt.Sprintf("The header of template %s is longer than %d characters with its parameters", t.Name, catalog.MaxHeaderText))
	}
	if utf8.RuneCountInString(r.Body) > catalog.MaxBodyText {
		return content.NewError(codeHydratedLong, fmt.Sprintf("The body of template %s is longer than %d characters with its parameters", t.Name, catalog.MaxBodyText))
	}
	return nil
}

// buttonParams flattens the button parameters as they travel: by index.
func buttonParams(t *catalog.Template, buttons map[int]*content.Component) []string {
	var out []string
	for i := range t.Slots().Buttons {
		if c := buttons[i]; c != nil {
			for _, p := range c.Parameters {
				out = append(out, paramText(p))
			}
		}
	}
	return out
}

func templateButton(t *catalog.Template, i int) catalog.Button {
	for _, c := range t.Components {
		if c.Type == catalog.Buttons && i < len(c.Buttons) {
			return c.Buttons[i]
		}
	}
	return catalog.Button{}
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && !strings.ContainsAny(s, " \n\t")
}

func validPhone(s string) bool {
	d := strings.TrimPrefix(s, "+")
	if len(d) < 6 || len(d) > 18 {
		return false
	}
	for _, r := range d {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// checkHSMParams checks a legacy hsm send: localizable_params fill the
// header and body placeholders, in order.
func checkHSMParams(t *catalog.Template, params []content.LocalizableParam) error {
	want := t.Slots().Text()
	if len(params) != want {
		return content.NewError(codeParamCount, fmt.Sprintf("Number of localizable_params %d does not match the expected number of params %d", len(params), want))
	}
	hdr := t.Slots().HeaderText
	texts := make([]string, len(params))
	for i, p := range params {
		if err := checkText(fmt.Sprintf("localizable_params[%d]", i), p.Default, i < hdr); err != nil {
			return err
		}
		texts[i] = p.Default
	}
	if r, err := t.Render(texts); err == nil {
		if utf8.RuneCountInString(r.Header) > catalog.MaxHeaderText || utf8.RuneCountInString(r.Body) > catalog.MaxBodyText {
			return content.NewError(codeHydratedLong, fmt.Sprintf("Template %s is too long with its parameters", t.Name))
		}
	}
	return nil
}
