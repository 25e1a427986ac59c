package wabin

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// JID is a WhatsApp address user[.agent][:device]@server.
//
// A JID with an empty User is a server address ("s.whatsapp.net", "g.us").
// Agent is only meaningful on s.whatsapp.net; on lid, hosted and hosted.lid
// the wire's domain byte is implied by the server (see SignalAddressName).
type JID struct {
	User       string
	Agent      uint8
	Device     uint16
	Integrator uint16 // interop only
	Server     string
}

// Known JID servers.
const (
	DefaultUserServer = "s.whatsapp.net"
	GroupServer       = "g.us"
	LegacyUserServer  = "c.us"
	BroadcastServer   = "broadcast"
	HiddenUserServer  = "lid"
	MessengerServer   = "msgr"
	InteropServer     = "interop"
	NewsletterServer  = "newsletter"
	HostedServer      = "hosted"
	HostedLIDServer   = "hosted.lid"
	BotServer         = "bot"
)

// ServerJID is the chat server's own address, "s.whatsapp.net".
var ServerJID = JID{Server: DefaultUserServer}

// AD_JID domain bytes. Any other domain byte is an agent on s.whatsapp.net.
const (
	domainWhatsApp  = 0
	domainLID       = 1
	domainHosted    = 128
	domainHostedLID = 129
)

// NewJID returns the device-less JID user@server.
func NewJID(user, server string) JID {
	return JID{User: user, Server: server}
}

// errJID is wrapped by ParseJID's errors so callers can tell a malformed
// address from other failures without string matching.
var errJID = errors.New("wabin: malformed JID")

// ParseJID parses user[.agent][:device]@server or a bare server. Unlike
// whatsmeow it rejects anything it cannot read completely (empty parts,
// extra separators, numbers out of range), because JIDs arrive from peers
// and a half-parsed address is worse than an error.
func ParseJID(s string) (JID, error) {
	bad := func(why string) (JID, error) {
		return JID{}, fmt.Errorf("%w %q: %s", errJID, s, why)
	}
	if s == "" {
		return bad("empty")
	}
	left, server, hasAt := strings.Cut(s, "@")
	if !hasAt {
		if strings.ContainsAny(s, ":") {
			return bad("device without user")
		}
		return JID{Server: s}, nil
	}
	if server == "" {
		return bad("empty server")
	}
	if strings.Contains(server, "@") {
		return bad("more than one '@'")
	}
	var j JID
	j.Server = server
	user, ad, hasAgent := strings.Cut(left, ".")
	if !hasAgent {
		user, ad, _ = strings.Cut(left, ":")
	}
	if user == "" {
		return bad("empty user")
	}
	if strings.Contains(user, ":") {
		return bad("device before agent")
	}
	j.User = user
	if hasAgent {
		agent, device, hasDevice := strings.Cut(ad, ":")
		n, ok := parseDecimal(agent, 0xFF)
		if !ok {
			return bad("agent is not a number in 0..255")
		}
		j.Agent = uint8(n)
		if hasDevice {
			if n, ok = parseDecimal(device, 0xFFFF); !ok {
				return bad("device is not a number in 0..65535")
			}
			j.Device = uint16(n)
		}
	} else if strings.Contains(left, ":") {
		n, ok := parseDecimal(ad, 0xFFFF)
		if !ok {
			return bad("device is not a number in 0..65535")
		}
		j.Device = uint16(n)
	}
	return j, nil
}

// parseDecimal accepts only plain ASCII digits: strconv would also take a
// sign or underscores in some modes, which have no place in an address.
func parseDecimal(s string, limit uint64) (uint64, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n <= limit
}

// String formats the JID the way whatsmeow does, so logs and stored
// addresses compare equal across the two: user.agent:device@server when an
// agent is set, user:device@server for a device, user@server, or the bare
// server for a server address. The zero JID formats as "".
func (j JID) String() string {
	switch {
	case j.Server == "":
		return ""
	case j.Agent > 0:
		return j.User + "." + strconv.Itoa(int(j.Agent)) + ":" + strconv.Itoa(int(j.Device)) + "@" + j.Server
	case j.Device > 0:
		return j.User + ":" + strconv.Itoa(int(j.Device)) + "@" + j.Server
	case j.User != "":
		return j.User + "@" + j.Server
	default:
		return j.Server
	}
}

// IsEmpty reports whether the JID has no server, which every real address
// has.
func (j JID) IsEmpty() bool { return j.Server == "" }

// ToNonAD returns the JID without agent and device: the user's account
// rather than one of its devices.
func (j JID) ToNonAD() JID {
	return JID{User: j.User, Integrator: j.Integrator, Server: j.Server}
}

// domain is the agent/domain byte the JID carries on the wire and in its
// Signal address: fixed by the server for lid and hosted addresses,
// otherwise the agent.
func (j JID) domain() uint8 {
	switch j.Server {
	case DefaultUserServer:
		if j.Agent != 0 {
			return j.Agent
		}
		return domainWhatsApp
	case HiddenUserServer:
		return domainLID
	case HostedServer:
		return domainHosted
	case HostedLIDServer:
		return domainHostedLID
	default:
		return j.Agent
	}
}

// SignalAddressName is the name of the JID's Signal protocol address (the
// device id is Device): the user, with "_<domain>" appended when the
// domain/agent is not 0, so a LID user 123 is "123_1" and cannot collide
// with phone number 123 in the session store (protocol.md §2.3).
func (j JID) SignalAddressName() string {
	if d := j.domain(); d != 0 {
		return j.User + "_" + strconv.Itoa(int(d))
	}
	return j.User
}

// jidForm is how a JID is written on the wire.
type jidForm uint8

const (
	formPair    jidForm = iota // JID_PAIR
	formAD                     // AD_JID
	formFB                     // FB_JID
	formInterop                // INTEROP_JID
)

// wireForm picks the encoding for j, or explains why j cannot be encoded
// without losing a field. Marshal refuses lossy JIDs so that what a peer
// decodes is exactly what we meant to send, and the decoder refuses what
// wireForm refuses, so every decoded tree re-encodes.
//
// The form follows the server as whatsmeow chooses it (protocol.md §2.3),
// even for a server address with no user: hosted and hosted.lid always use
// AD_JID, msgr FB_JID, interop INTEROP_JID.
func (j JID) wireForm() (jidForm, error) {
	if j.Server == "" {
		return 0, errors.New("empty server")
	}
	if j.User == "" && (j.Agent != 0 || j.Device != 0 || j.Integrator != 0) {
		return 0, errors.New("agent, device or integrator without a user")
	}
	if j.Integrator != 0 && j.Server != InteropServer {
		return 0, errors.New("integrator is only valid on " + InteropServer)
	}
	if j.Agent != 0 && j.Server != DefaultUserServer {
		return 0, errors.New("agent is only valid on " + DefaultUserServer)
	}
	switch j.Server {
	case DefaultUserServer:
		switch j.Agent {
		case domainLID, domainHosted, domainHostedLID:
			return 0, fmt.Errorf("agent %d is reserved as a domain byte", j.Agent)
		}
		if j.Device > 0xFF {
			return 0, errors.New("device does not fit in one byte")
		}
		if j.Device > 0 || j.Agent > 0 {
			return formAD, nil
		}
		return formPair, nil
	case HiddenUserServer, HostedServer, HostedLIDServer:
		if j.Device > 0xFF {
			return 0, errors.New("device does not fit in one byte")
		}
		if j.Device > 0 || j.Server != HiddenUserServer {
			return formAD, nil
		}
		return formPair, nil
	case MessengerServer:
		return formFB, nil
	case InteropServer:
		return formInterop, nil
	}
	if j.Device != 0 {
		return 0, errors.New("device is not valid on " + j.Server)
	}
	return formPair, nil
}
