package content

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// vCard 3.0 (RFC 2426 over the RFC 2425 line format) is how a contact
// travels inside a contactMessage: the JSON card exists only at the API.

// vcardFold is the line length, in octets, past which RFC 2425 folds.
const vcardFold = 75

// ErrNoVCard is returned by ParseVCard for text without a BEGIN:VCARD line.
var ErrNoVCard = errors.New("content: no vCard found")

// VCard renders c as a vCard 3.0, the way a phone shares a contact: TEL
// lines carry the WhatsApp id as a waid parameter, which is what makes the
// receiving phone offer "Message". Text values are escaped and long lines
// folded. A country_code has no vCard property; it rides on ADR as the
// parameter X-COUNTRY-CODE. Parameter values cannot hold a double quote or
// a line break: those characters are replaced.
func VCard(c *ContactCard) string {
	var b strings.Builder
	w := func(name string, params [][2]string, value string) {
		var l strings.Builder
		l.WriteString(name)
		for _, p := range params {
			if p[1] == "" {
				continue
			}
			l.WriteString(";" + p[0] + "=" + paramValue(p[1]))
		}
		l.WriteString(":" + value)
		fold(&b, l.String())
	}
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\n")
	if n := c.Name; n != nil {
		w("N", nil, structured(n.LastName, n.FirstName, n.MiddleName, n.Prefix, n.Suffix))
		w("FN", nil, escapeText(n.FormattedName))
	}
	if o := c.Org; o != nil {
		if o.Company != "" || o.Department != "" {
			w("ORG", nil, structured(o.Company, o.Department))
		}
		if o.Title != "" {
			w("TITLE", nil, escapeText(o.Title))
		}
	}
	if c.Birthday != "" {
		w("BDAY", nil, escapeText(c.Birthday))
	}
	for _, p := range c.Phones {
		w("TEL", [][2]string{{"type", p.Type}, {"waid", p.WAID}}, escapeText(p.Phone))
	}
	for _, e := range c.Emails {
		w("EMAIL", [][2]string{{"type", e.Type}}, escapeText(e.Email))
	}
	for _, u := range c.URLs {
		w("URL", [][2]string{{"type", u.Type}}, escapeText(u.URL))
	}
	for _, a := range c.Addresses {
		w("ADR", [][2]string{{"type", a.Type}, {"X-COUNTRY-CODE", a.CountryCode}},
			structured("", "", a.Street, a.City, a.State, a.Zip, a.Country))
	}
	b.WriteString("END:VCARD\r\n")
	return b.String()
}

var textEscaper = strings.NewReplacer(`\`, `\\`, `,`, `\,`, `;`, `\;`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)

func escapeText(s string) string { return textEscaper.Replace(s) }

func structured(parts ...string) string {
	for i, p := range parts {
		parts[i] = escapeText(p)
	}
	return strings.Join(parts, ";")
}

// paramValue quotes a parameter value when it holds a separator.
func paramValue(v string) string {
	v = strings.Map(func(r rune) rune {
		switch r {
		case '"':
			return '\''
		case '\r', '\n':
			return ' '
		}
		return r
	}, v)
	if strings.ContainsAny(v, ";:,") || strings.TrimSpace(v) != v {
		return `"` + v + `"`
	}
	return v
}

// fold writes line with CRLF, breaking it every vcardFold octets (never
// inside a UTF-8 sequence); continuation lines start with a space.
func fold(b *strings.Builder, line string) {
	limit := vcardFold
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		if cut == 0 { // no rune start within the limit: cannot happen in valid UTF-8
			cut = limit
		}
		b.WriteString(line[:cut] + "\r\n ")
		line = line[cut:]
		limit = vcardFold - 1 // the leading space counts
	}
	b.WriteString(line + "\r\n")
}

// vcardLine is one unfolded content line.
type vcardLine struct {
	group, name string
	types       []string          // TYPE values and bare (vCard 2.1) parameters
	params      map[string]string // other parameters, names upper-cased
	value       string            // still escaped
}

// ParseVCard reads the first vCard in s: names, phones (wa_id from the
// waid parameter), e-mails, organisation, title, URLs, addresses and
// birthday. It accepts what phones send in practice: CRLF or LF line ends,
// folded lines, vCard 2.1 bare type parameters, and item groups whose
// X-ABLabel names the type. Unknown properties are skipped. It fails only
// when there is no BEGIN:VCARD line.
func ParseVCard(s string) (*ContactCard, error) {
	c := &ContactCard{}
	// The group of each typed entry, by position: an X-ABLabel may come
	// after the entry it labels.
	var phoneG, emailG, urlG, adrG []string
	labels := map[string]string{}
	begun := false
lines:
	for _, raw := range unfold(s) {
		l, ok := parseLine(raw)
		if !ok {
			continue
		}
		if !begun {
			begun = l.name == "BEGIN" && strings.EqualFold(strings.TrimSpace(l.value), "VCARD")
			continue
		}
		switch l.name {
		case "END":
			break lines
		case "FN":
			name(c).FormattedName = unescapeText(l.value)
		case "N":
			p := splitStructured(l.value, 5)
			n := name(c)
			n.LastName, n.FirstName, n.MiddleName, n.Prefix, n.Suffix = p[0], p[1], p[2], p[3], p[4]
		case "ORG":
			p := splitStructured(l.value, 2)
			o := org(c)
			o.Company, o.Department = p[0], p[1]
		case "TITLE":
			org(c).Title = unescapeText(l.value)
		case "BDAY":
			c.Birthday = unescapeText(l.value)
		case "TEL":
			c.Phones = append(c.Phones, Phone{Phone: unescapeText(l.value), Type: l.typ(), WAID: l.params["WAID"]})
			phoneG = append(phoneG, l.group)
		case "EMAIL":
			c.Emails = append(c.Emails, Email{Email: unescapeText(l.value), Type: l.typ()})
			emailG = append(emailG, l.group)
		case "URL":
			c.URLs = append(c.URLs, URL{URL: unescapeText(l.value), Type: l.typ()})
			urlG = append(urlG, l.group)
		case "ADR":
			p := splitStructured(l.value, 7)
			// The post office box and extended address have no JSON field
			// of their own; they go in front of the street.
			street := strings.TrimSpace(strings.Join(nonEmpty(p[0], p[1], p[2]), " "))
			c.Addresses = append(c.Addresses, Address{
				Street: street, City: p[3], State: p[4], Zip: p[5], Country: p[6],
				CountryCode: l.params["X-COUNTRY-CODE"], Type: l.typ(),
			})
			adrG = append(adrG, l.group)
		case "X-ABLABEL":
			if l.group != "" {
				labels[l.group] = unescapeText(l.value)
			}
		}
	}
	if !begun {
		return nil, ErrNoVCard
	}
	label := func(typ *string, group string) {
		if *typ == "" && group != "" {
			*typ = labels[group]
		}
	}
	for i := range c.Phones {
		label(&c.Phones[i].Type, phoneG[i])
	}
	for i := range c.Emails {
		label(&c.Emails[i].Type, emailG[i])
	}
	for i := range c.URLs {
		label(&c.URLs[i].Type, urlG[i])
	}
	for i := range c.Addresses {
		label(&c.Addresses[i].Type, adrG[i])
	}
	return c, nil
}

func name(c *ContactCard) *Name {
	if c.Name == nil {
		c.Name = &Name{}
	}
	return c.Name
}

func org(c *ContactCard) *Org {
	if c.Org == nil {
		c.Org = &Org{}
	}
	return c.Org
}

func nonEmpty(ss ...string) []string {
	out := ss[:0:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// unfold splits s into logical lines: a line break followed by a space or
// tab continues the previous line (RFC 2425 §5.8.1).
func unfold(s string) []string {
	var out []string
	var cur strings.Builder
	for i, l := range strings.Split(s, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if i > 0 && l != "" && (l[0] == ' ' || l[0] == '\t') {
			cur.WriteString(l[1:])
			continue
		}
		if i > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
		cur.WriteString(l)
	}
	return append(out, cur.String())
}

// parseLine splits "group.NAME;param=a,b;BARE:value". The colon that ends
// the name part is the first one outside double quotes.
func parseLine(s string) (vcardLine, bool) {
	var l vcardLine
	colon, quoted := -1, false
	for i := 0; i < len(s) && colon < 0; i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case ':':
			if !quoted {
				colon = i
			}
		}
	}
	if colon < 0 {
		return l, false
	}
	l.value = s[colon+1:]
	parts := splitUnquoted(s[:colon], ';')
	l.name = strings.ToUpper(strings.TrimSpace(parts[0]))
	if i := strings.LastIndexByte(l.name, '.'); i >= 0 {
		l.group, l.name = l.name[:i], l.name[i+1:]
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			l.types = append(l.types, strings.TrimSpace(p))
			continue
		}
		k = strings.ToUpper(strings.TrimSpace(k))
		if k == "TYPE" {
			for _, t := range splitUnquoted(v, ',') {
				l.types = append(l.types, unquote(t))
			}
			continue
		}
		if l.params == nil {
			l.params = map[string]string{}
		}
		if _, dup := l.params[k]; !dup {
			l.params[k] = unquote(v)
		}
	}
	return l, true
}

// splitUnquoted splits s at sep outside double quotes.
func splitUnquoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func unquote(v string) string {
	v = strings.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}

// typ is the entry's type: the first TYPE value that says where (HOME,
// WORK, CELL...) rather than how (VOICE, PREF, INTERNET), as phones list
// both.
func (l *vcardLine) typ() string {
	for _, t := range l.types {
		switch strings.ToUpper(t) {
		case "", "VOICE", "PREF", "INTERNET", "X400":
			continue
		}
		return t
	}
	return ""
}

// splitStructured splits a structured value at unescaped semicolons into
// exactly n unescaped parts; extra parts join the last one.
func splitStructured(v string, n int) []string {
	out := make([]string, n)
	i, start := 0, 0
	for j := 0; j < len(v) && i < n-1; j++ {
		switch v[j] {
		case '\\':
			j++ // skip the escaped character
		case ';':
			out[i] = unescapeText(v[start:j])
			i++
			start = j + 1
		}
	}
	if start <= len(v) {
		out[i] = unescapeText(v[start:])
	}
	return out
}

// unescapeText undoes escapeText. Unknown escapes are kept as written.
func unescapeText(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i == len(s)-1 {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'n', 'N':
			b.WriteByte('\n')
		case '\\', ',', ';', ':':
			b.WriteByte(s[i])
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
