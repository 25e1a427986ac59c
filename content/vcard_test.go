package content

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestVCardText(t *testing.T) {
	c := &ContactCard{
		Name:   &Name{FormattedName: "Ann Lee", FirstName: "Ann", LastName: "Lee"},
		Phones: []Phone{{Phone: "+1 555 0100", Type: "CELL", WAID: "15550100"}},
		Emails: []Email{{Email: "ann@example.com"}},
	}
	want := "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Lee;Ann;;;\r\nFN:Ann Lee\r\n" +
		"TEL;type=CELL;waid=15550100:+1 555 0100\r\nEMAIL:ann@example.com\r\nEND:VCARD\r\n"
	if got := VCard(c); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

func TestVCardEscaping(t *testing.T) {
	tricky := "a,b;c\\d\nline two\\n,"
	c := &ContactCard{
		Name:      &Name{FormattedName: tricky, FirstName: "x;y", LastName: `back\slash`, Suffix: "s,t"},
		Org:       &Org{Company: "A; B, C", Department: "d\ne", Title: tricky},
		Phones:    []Phone{{Phone: "1;2", Type: `we;ird,"type"`, WAID: "1"}},
		Emails:    []Email{{Email: "e,f@example.com", Type: "HOME"}},
		URLs:      []URL{{URL: "https://example.com/a,b;c", Type: "WORK"}},
		Addresses: []Address{{Street: "1; Main, St\nApt 2", City: `C\D`, Type: "WORK", CountryCode: "de"}},
	}
	v := VCard(c)
	if strings.Contains(v, "FN:a,b") || !strings.Contains(v, `FN:a\,b\;c\\d\nline two\\n\,`) {
		t.Fatalf("FN not escaped: %q", v)
	}
	got, err := ParseVCard(v)
	if err != nil {
		t.Fatal(err)
	}
	// A double quote cannot appear in a parameter value: it is replaced.
	c.Phones[0].Type = `we;ird,'type'`
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("got  %+v\nwant %+v", got, c)
	}
}

func TestVCardFolding(t *testing.T) {
	name := strings.Repeat("Ünïcödé ", 40) // multi-byte runes across every fold
	c := &ContactCard{Name: &Name{FormattedName: name}}
	v := VCard(c)
	for _, l := range strings.Split(strings.TrimSuffix(v, "\r\n"), "\r\n") {
		if len(l) > vcardFold {
			t.Fatalf("line of %d octets: %q", len(l), l)
		}
		if !strings.HasPrefix(l, " ") && !strings.Contains(l, ":") {
			t.Fatalf("continuation without a leading space: %q", l)
		}
	}
	got, err := ParseVCard(v)
	if err != nil || got.Name.FormattedName != name {
		t.Fatalf("got %q, %v", got.Name.FormattedName, err)
	}
}

func TestVCardRoundTripFull(t *testing.T) {
	got, err := ParseVCard(VCard(&fullCard))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, fullCard) {
		t.Fatalf("got  %+v\nwant %+v", *got, fullCard)
	}
}

// A card as phones write them: LF line ends, item groups labelled by
// X-ABLabel, several TYPE parameters, vCard 2.1 bare types, extra
// properties, and a second card that must be ignored.
func TestParseVCardFromPhone(t *testing.T) {
	const v = "BEGIN:VCARD\n" +
		"VERSION:3.0\n" +
		"N:Doe;Jane;;;\n" +
		"FN:Jane Doe\n" +
		"X-WA-BIZ-NAME:Jane's\n" +
		"item1.TEL;waid=491701234567:+49 170 1234567\n" +
		"item1.X-ABLabel:Mobile\n" +
		"TEL;TYPE=VOICE,CELL;type=pref:+49 30 1234\n" +
		"TEL;HOME:+49 30 9999\n" +
		"EMAIL;type=INTERNET;type=WORK:jane@example.com\n" +
		"item2.ADR:PO 7;Floor 3;Main St 1;Berlin;;10115;Germany\n" +
		"item2.X-ABLabel:_$!<Home>!$_\n" +
		"PHOTO;ENCODING=b;TYPE=JPEG:AAAA\n" +
		"END:VCARD\n" +
		"BEGIN:VCARD\nFN:Other\nEND:VCARD\n"
	got, err := ParseVCard(v)
	if err != nil {
		t.Fatal(err)
	}
	want := &ContactCard{
		Name: &Name{FormattedName: "Jane Doe", FirstName: "Jane", LastName: "Doe"},
		Phones: []Phone{
			{Phone: "+49 170 1234567", Type: "Mobile", WAID: "491701234567"},
			{Phone: "+49 30 1234", Type: "CELL"},
			{Phone: "+49 30 9999", Type: "HOME"},
		},
		Emails:    []Email{{Email: "jane@example.com", Type: "WORK"}},
		Addresses: []Address{{Street: "PO 7 Floor 3 Main St 1", City: "Berlin", Zip: "10115", Country: "Germany", Type: "_$!<Home>!$_"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseVCardErrors(t *testing.T) {
	for _, s := range []string{"", "FN:x\nTEL:1\n", "BEGIN:VCALENDAR\nEND:VCALENDAR\n"} {
		if c, err := ParseVCard(s); !errors.Is(err, ErrNoVCard) || c != nil {
			t.Errorf("%q: got %+v, %v", s, c, err)
		}
	}
	// Garbage inside a card is skipped, not fatal.
	c, err := ParseVCard("BEGIN:VCARD\nno colon here\n:\n;;;:x\nFN:\\\nN:a\\;b;c\n")
	if err != nil || c.Name.FormattedName != `\` || c.Name.LastName != "a;b" || c.Name.FirstName != "c" {
		t.Fatalf("got %+v, %v", c.Name, err)
	}
}
