package wabin

import (
	"strings"
	"testing"
)

func TestParseJID(t *testing.T) {
	good := []struct {
		in   string
		want JID
	}{
		{"s.whatsapp.net", ServerJID},
		{"g.us", JID{Server: GroupServer}},
		{"15551234567@s.whatsapp.net", NewJID("15551234567", DefaultUserServer)},
		{"15551234567:2@s.whatsapp.net", JID{User: "15551234567", Device: 2, Server: DefaultUserServer}},
		{"15551234567.3:4@s.whatsapp.net", JID{User: "15551234567", Agent: 3, Device: 4, Server: DefaultUserServer}},
		{"15551234567.3@s.whatsapp.net", JID{User: "15551234567", Agent: 3, Server: DefaultUserServer}},
		{"123:65535@msgr", JID{User: "123", Device: 65535, Server: MessengerServer}},
		{"123@lid", NewJID("123", HiddenUserServer)},
		{"status@broadcast", NewJID("status", BroadcastServer)},
		{"120363-1588@g.us", NewJID("120363-1588", GroupServer)},
		{"a.255:0@s.whatsapp.net", JID{User: "a", Agent: 255, Server: DefaultUserServer}},
	}
	for _, c := range good {
		got, err := ParseJID(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseJID(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", "@s.whatsapp.net", "123@", "a@b@c", "123:@s.whatsapp.net", "123:x@s.whatsapp.net",
		"123:65536@s.whatsapp.net", "123:1:2@s.whatsapp.net", "123.256@s.whatsapp.net",
		"123.1.2@s.whatsapp.net", "123.@s.whatsapp.net", "123.1:@s.whatsapp.net", "123:1.2@s.whatsapp.net",
		"123:+1@s.whatsapp.net", "123:-1@s.whatsapp.net", "123: 1@s.whatsapp.net", ":1@s.whatsapp.net",
		"1:2", "123:0000001@s.whatsapp.net", ".1@s.whatsapp.net",
	}
	for _, s := range bad {
		if j, err := ParseJID(s); err == nil {
			t.Errorf("ParseJID(%q) = %#v, want an error", s, j)
		}
	}
}

func TestJIDString(t *testing.T) {
	cases := map[string]JID{
		"":                              {},
		"s.whatsapp.net":                ServerJID,
		"1@s.whatsapp.net":              NewJID("1", DefaultUserServer),
		"1:2@s.whatsapp.net":            {User: "1", Device: 2, Server: DefaultUserServer},
		"1.3:0@s.whatsapp.net":          {User: "1", Agent: 3, Server: DefaultUserServer},
		"1.3:2@s.whatsapp.net":          {User: "1", Agent: 3, Device: 2, Server: DefaultUserServer},
		"1:7@interop":                   {User: "1", Device: 7, Integrator: 9, Server: InteropServer},
		"15551234567:12@s.whatsapp.net": {User: "15551234567", Device: 12, Server: DefaultUserServer},
	}
	for want, j := range cases {
		if got := j.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", j, got, want)
		}
	}
}

// TestJIDStringParse: String and ParseJID are inverses for every address
// whose parts do not contain the separators.
func TestJIDStringParse(t *testing.T) {
	g := newGen(3)
	checked := 0
	for range propertyIterations {
		j := g.jid()
		if strings.ContainsAny(j.User, ".:@") || strings.Contains(j.Server, "@") || j.Integrator != 0 {
			continue
		}
		got, err := ParseJID(j.String())
		if err != nil || got != j {
			t.Fatalf("ParseJID(%q) = %#v, %v; want %#v", j.String(), got, err, j)
		}
		checked++
	}
	if checked < propertyIterations/2 {
		t.Fatalf("only %d JIDs checked", checked)
	}
}

func TestJIDHelpers(t *testing.T) {
	if !(JID{}).IsEmpty() || ServerJID.IsEmpty() {
		t.Fatal("IsEmpty")
	}
	j := JID{User: "1", Agent: 3, Device: 4, Integrator: 5, Server: InteropServer}
	if got := j.ToNonAD(); got != (JID{User: "1", Integrator: 5, Server: InteropServer}) {
		t.Fatalf("ToNonAD = %#v", got)
	}
	names := map[string]JID{
		"15551234567":     {User: "15551234567", Device: 3, Server: DefaultUserServer},
		"15551234567_5":   {User: "15551234567", Agent: 5, Device: 3, Server: DefaultUserServer},
		"123_1":           {User: "123", Device: 2, Server: HiddenUserServer},
		"123_128":         {User: "123", Server: HostedServer},
		"123_129":         {User: "123", Server: HostedLIDServer},
		"123":             NewJID("123", GroupServer),
		"123-456":         NewJID("123-456", GroupServer),
		"15551234567_130": {User: "15551234567", Agent: 130, Server: DefaultUserServer},
	}
	for want, j := range names {
		if got := j.SignalAddressName(); got != want {
			t.Errorf("%#v.SignalAddressName() = %q, want %q", j, got, want)
		}
	}
	// A decoded LID JID carries no agent, yet its Signal name has the domain.
	n, err := Unmarshal(unhex(t, "f8 03 19 11 f7 01 03 ff 82 12 3f"))
	if err != nil {
		t.Fatal(err)
	}
	if j, ok := n.AttrJID("to"); !ok || j.SignalAddressName() != "123_1" || j.Agent != 0 || j.Server != HiddenUserServer {
		t.Fatalf("decoded %#v", j)
	}
}
