package waenttest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waproto/waE2E"
)

// The template catalogue of the simulated network, and how phones use it.
//
// Templates live on the server, per namespace; a business number owns the
// namespace Namespace(number) returns. The real protocol by which a
// business learns its catalogue over the chat connection is not public,
// so this simulation defines its own (the client side in package
// templates speaks the same):
//
// Fetch, by a registered, logged-in business:
//
//	<iq id="…" type="get" xmlns="w:biz:templates" to="s.whatsapp.net"><templates/></iq>
//
// answered with
//
//	<iq type="result" id="…" from="s.whatsapp.net">
//	  <templates namespace="<the business's namespace>" version="<n>">
//	    <template>JSON of catalog.Template</template>
//	    …
//	  </templates>
//	</iq>
//
// with one <template> per translation of the namespace, whatever its
// status (the business decides what may be sent), ordered by name and
// language; the content is the JSON bytes of a catalog.Template. version
// counts the changes to the namespace, 0 while it never had any. A
// request that is not a get or lacks <templates/> gets <error code="400"
// text="bad-request"/>; an account no longer registered gets <error
// code="401" text="not-authorized"/>.
//
// Change notification: whenever the catalogue of a namespace changes
// (Add, SetStatus, Delete), every business of that namespace that is
// logged in at that moment gets
//
//	<notification type="templates" from="s.whatsapp.net" id="…" t="…"><templates version="<n>"/></notification>
//
// which it acks like any notification (<ack class="notification" id="…"
// to="s.whatsapp.net" type="templates"/>); until then the server keeps it
// pending and sends it again on the next login. A business that was
// offline during a change learns nothing but should fetch after login.
//
// Phones render a highlyStructuredMessage from their own copy of the
// catalogue (see User): the namespace and element name pick the template,
// the language (deterministicLg/Lc, else fallbackLg/Lc) the translation,
// and the "default" of each localizableParam, in order, fills the slots
// (catalog.Template.Render). A phone that cannot render answers with an
// error receipt instead of the delivery receipt:
//
//	<receipt id="<msg id>" to="<business>@s.whatsapp.net" type="error">
//	  <error code="2003" text="structure unavailable: <reason>"/>
//	</receipt>
//
// The phone still acks the message to the server.
//
// Translation choice: a translation stored as "en_US" serves lg=en
// lc=US only; one stored as "en" serves lg=en without a locale and, when
// no exact lg_lc translation exists, lg=en with any locale. A send in
// "en" never uses an "en_US" translation. Both policies choose alike: the
// simulation has no phone language for the fallback policy to prefer.

// Lock order: Templates.mu, then chatServer.mu (notifications are sent
// under Templates.mu so that they go out in version order). A User's mu
// is never held while taking Templates.mu.

// Errors of template rendering on phones (TemplateFailure.Err) and of
// catalogue changes; test with errors.Is. A parameter count mismatch
// wraps catalog.ErrParamCount.
var (
	// ErrTemplateUnknown: no such namespace or template (for the phone,
	// or in the catalogue for SetStatus and Delete).
	ErrTemplateUnknown = errors.New("waenttest: unknown template")
	// ErrTemplateLanguage: the template exists, but not in the language
	// the message asks for (or not on this phone).
	ErrTemplateLanguage = errors.New("waenttest: template translation missing")
	// ErrTemplateNotApproved: the translation's status is not approved.
	ErrTemplateNotApproved = errors.New("waenttest: template not approved")
)

// templateStatuses lists the statuses the catalogue accepts.
const templateStatuses = "approved, paused, disabled, rejected, pending"

// Templates is the network's template catalogue. Its methods are safe for
// concurrent use.
type Templates struct {
	chat *chatServer

	mu  sync.Mutex
	nss map[string]*namespaceCatalog
}

type namespaceCatalog struct {
	version uint64
	byKey   map[string]catalog.Template // by name/language
}

func newTemplates(chat *chatServer) *Templates {
	return &Templates{chat: chat, nss: map[string]*namespaceCatalog{}}
}

// Templates is the network's template catalogue.
func (n *Network) Templates() *Templates { return n.templates }

// Namespace is the template namespace the network assigns to the business
// number waID (digits; other characters are ignored): the same on every
// network, shaped like an On-Premises namespace
// ("xxxxxxxx_xxxx_xxxx_xxxx_xxxxxxxxxxxx", lowercase hex). "" for a waID
// without digits.
func (c *Templates) Namespace(waID string) string { return namespaceOf(digits(waID)) }

func namespaceOf(phone string) string {
	if phone == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("waenttest template namespace\x00" + phone))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "_" + h[8:12] + "_" + h[12:16] + "_" + h[16:20] + "_" + h[20:32]
}

func translationKey(name, language string) string { return name + "/" + language }

// normStatus lowercases status and checks it is one the catalogue knows.
func normStatus(status string) (string, error) {
	s := strings.ToLower(status)
	if !slices.Contains(strings.Split(templateStatuses, ", "), s) {
		return "", fmt.Errorf("waenttest: template status %q is not one of %s", status, templateStatuses)
	}
	return s, nil
}

// cloneTemplate copies t deeply, so neither the caller nor the catalogue
// sees the other's later changes.
func cloneTemplate(t catalog.Template) catalog.Template {
	t.Components = slices.Clone(t.Components)
	for i := range t.Components {
		t.Components[i].Buttons = slices.Clone(t.Components[i].Buttons)
	}
	return t
}

// Add puts a translation in the catalogue, replacing the one with the
// same namespace, name and language. It must pass t.Validate; an empty
// Status means approved, and the status is stored lowercase.
func (c *Templates) Add(t catalog.Template) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if t.Status == "" {
		t.Status = "approved"
	}
	status, err := normStatus(t.Status)
	if err != nil {
		return err
	}
	t = cloneTemplate(t)
	t.Status = status
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.nss[t.Namespace]
	if ns == nil {
		ns = &namespaceCatalog{byKey: map[string]catalog.Template{}}
		c.nss[t.Namespace] = ns
	}
	ns.byKey[translationKey(t.Name, t.Language)] = t
	c.changedLocked(t.Namespace, ns)
	return nil
}

// SetStatus changes the status of a translation (approved, paused,
// disabled, rejected or pending). Setting the status it has is no change
// and notifies nobody.
func (c *Templates) SetStatus(namespace, name, language, status string) error {
	s, err := normStatus(status)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.nss[namespace]
	var t catalog.Template
	var ok bool
	if ns != nil {
		t, ok = ns.byKey[translationKey(name, language)]
	}
	if !ok {
		return fmt.Errorf("%w: %s/%s/%s", ErrTemplateUnknown, namespace, name, language)
	}
	if t.Status == s {
		return nil
	}
	t.Status = s
	ns.byKey[translationKey(name, language)] = t
	c.changedLocked(namespace, ns)
	return nil
}

// Delete removes a translation, or with language "" every translation of
// the template, as deleting a template by name does.
func (c *Templates) Delete(namespace, name, language string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns := c.nss[namespace]
	removed := 0
	if ns != nil {
		for k, t := range ns.byKey {
			if t.Name == name && (language == "" || t.Language == language) {
				delete(ns.byKey, k)
				removed++
			}
		}
	}
	if removed == 0 {
		return fmt.Errorf("%w: %s/%s/%s", ErrTemplateUnknown, namespace, name, language)
	}
	c.changedLocked(namespace, ns)
	return nil
}

// List returns copies of the translations of namespace, or of every
// namespace for "", ordered by namespace, name and language.
func (c *Templates) List(namespace string) []catalog.Template {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.listLocked(namespace)
}

func (c *Templates) listLocked(namespace string) []catalog.Template {
	var out []catalog.Template
	for nsName, ns := range c.nss {
		if namespace != "" && nsName != namespace {
			continue
		}
		for _, t := range ns.byKey {
			out = append(out, cloneTemplate(t))
		}
	}
	slices.SortFunc(out, func(a, b catalog.Template) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Language, b.Language))
	})
	return out
}

// Version counts the changes to namespace's catalogue; 0 if it never had
// any.
func (c *Templates) Version(namespace string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ns := c.nss[namespace]; ns != nil {
		return ns.version
	}
	return 0
}

// changedLocked bumps the namespace's version and notifies its logged-in
// businesses. The caller holds c.mu.
func (c *Templates) changedLocked(namespace string, ns *namespaceCatalog) {
	ns.version++
	c.chat.notifyTemplates(namespace, ns.version)
}

// notifyTemplates tells every logged-in business of namespace that its
// catalogue is now at version. The caller holds Templates.mu.
func (s *chatServer) notifyTemplates(namespace string, version uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for phone, a := range s.accounts {
		if a.session == nil || namespaceOf(phone) != namespace {
			continue
		}
		s.deliver(phone, "notification", wabin.Node{Tag: "notification", Attrs: wabin.Attrs{
			"type": "templates", "from": wabin.ServerJID, "id": s.newID(), "t": s.t(),
		}, Content: []wabin.Node{{Tag: "templates", Attrs: wabin.Attrs{"version": strconv.FormatUint(version, 10)}}}})
	}
}

// handleTemplates serves a business's catalogue fetch (xmlns
// w:biz:templates). The caller does not hold s.mu, which the catalogue's
// lock precedes.
func (s *chatServer) handleTemplates(ss *serverSession, n wabin.Node, typ string, result func(...wabin.Node), iqError func(int, string)) {
	if _, ok := s.net.reg.Registered(ss.phone); !ok {
		iqError(401, "not-authorized")
		return
	}
	if _, ok := n.Child("templates"); typ != "get" || !ok {
		iqError(400, "bad-request")
		return
	}
	ns := namespaceOf(ss.phone)
	c := s.net.templates
	// Answered under the catalogue's lock, as notifications are sent: the
	// reply and the notifications of changes are queued in version order.
	c.mu.Lock()
	defer c.mu.Unlock()
	var version uint64
	if nc := c.nss[ns]; nc != nil {
		version = nc.version
	}
	list := c.listLocked(ns)
	children := make([]wabin.Node, 0, len(list))
	for _, t := range list {
		b, err := json.Marshal(t)
		if err != nil {
			s.net.log.Error("encode template", "template", t.Key(), "err", err)
			continue
		}
		children = append(children, wabin.Node{Tag: "template", Content: b})
	}
	out := wabin.Node{Tag: "templates", Attrs: wabin.Attrs{"namespace": ns, "version": strconv.FormatUint(version, 10)}}
	if len(children) > 0 {
		out.Content = children
	}
	result(out)
}

// TemplateFailure is a template message a phone could not render, for
// which it sent an error receipt instead of a delivery receipt.
type TemplateFailure struct {
	ID        string // the message id
	From      string // the sender's phone number
	Namespace string
	Name      string
	Language  string // as the message asked for it: "en" or "en_US"
	// Err wraps ErrTemplateUnknown, ErrTemplateLanguage,
	// ErrTemplateNotApproved or catalog.ErrParamCount.
	Err error
	// Reason is what follows "structure unavailable: " in the error
	// receipt's text.
	Reason string
	At     time.Time
}

// ForgetTemplates makes the phone lose its copy of namespace's templates,
// like a phone whose language pack is stale: every template message of
// that namespace fails to render until RefreshTemplates.
func (u *User) ForgetTemplates(namespace string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.forgotten == nil {
		u.forgotten = map[string]bool{}
	}
	u.forgotten[namespace] = true
}

// RefreshTemplates undoes every ForgetTemplates: the phone uses the
// network's catalogue again (still limited to
// UserOptions.TemplateLanguages).
func (u *User) RefreshTemplates() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.forgotten = nil
}

// TemplateFailures returns the template messages the user could not
// render, in arrival order.
func (u *User) TemplateFailures() []TemplateFailure {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]TemplateFailure(nil), u.tfails...)
}

// WaitTemplateFailures waits until the user has at least n template
// failures and returns them all.
func (u *User) WaitTemplateFailures(ctx context.Context, n int) ([]TemplateFailure, error) {
	err := u.wait(ctx, func() bool { return len(u.tfails) >= n })
	return u.TemplateFailures(), err
}

// hsmOf returns the highlyStructuredMessage of m, looking through the
// wrappers a phone opens.
func hsmOf(m *waE2E.Message) *waE2E.HighlyStructuredMessage {
	for range 4 {
		switch {
		case m == nil:
			return nil
		case m.HighlyStructuredMessage != nil:
			return m.HighlyStructuredMessage
		case m.EphemeralMessage != nil:
			m = m.EphemeralMessage.GetMessage()
		case m.DeviceSentMessage != nil:
			m = m.DeviceSentMessage.GetMessage()
		case m.ViewOnceMessage != nil:
			m = m.ViewOnceMessage.GetMessage()
		case m.ViewOnceMessageV2 != nil:
			m = m.ViewOnceMessageV2.GetMessage()
		default:
			return nil
		}
	}
	return nil
}

// hasLanguage reports whether a phone limited to langs (nil: all) holds a
// translation in language: an entry equal to it, or a bare language
// covering its locales ("en" holds "en_US").
func hasLanguage(langs []string, language string) bool {
	if langs == nil {
		return true
	}
	lg, _ := catalog.SplitLanguage(language)
	for _, l := range langs {
		if strings.EqualFold(l, language) || (!strings.Contains(l, "_") && strings.EqualFold(l, lg)) {
			return true
		}
	}
	return false
}

// renderTemplate renders h from the phone's copy of the catalogue. On
// failure it returns a TemplateFailure without ID, From and At.
func (u *User) renderTemplate(h *waE2E.HighlyStructuredMessage) (*catalog.Rendered, *TemplateFailure) {
	lg, lc := h.GetDeterministicLg(), h.GetDeterministicLc()
	if lg == "" {
		lg, lc = h.GetFallbackLg(), h.GetFallbackLc()
	}
	language := lg
	if lc != "" {
		language += "_" + lc
	}
	f := &TemplateFailure{Namespace: h.GetNamespace(), Name: h.GetElementName(), Language: language}
	fail := func(sentinel error, reason string) (*catalog.Rendered, *TemplateFailure) {
		f.Err, f.Reason = fmt.Errorf("%w: %s", sentinel, reason), reason
		return nil, f
	}
	u.mu.Lock()
	forgotten := u.forgotten[f.Namespace]
	u.mu.Unlock()
	all := u.net.templates.List(f.Namespace)
	if f.Namespace == "" || forgotten || len(all) == 0 {
		return fail(ErrTemplateUnknown, fmt.Sprintf("namespace %q unknown", f.Namespace))
	}
	var named []catalog.Template
	for _, t := range all {
		if t.Name == f.Name {
			named = append(named, t)
		}
	}
	if len(named) == 0 {
		return fail(ErrTemplateUnknown, fmt.Sprintf("template %q not found in namespace %s", f.Name, f.Namespace))
	}
	if lg == "" {
		return fail(ErrTemplateLanguage, fmt.Sprintf("template %q sent without a language", f.Name))
	}
	var exact, bare *catalog.Template
	for i, t := range named {
		if !hasLanguage(u.opts.TemplateLanguages, t.Language) {
			continue
		}
		tlg, tlc := catalog.SplitLanguage(t.Language)
		if !strings.EqualFold(tlg, lg) {
			continue
		}
		switch {
		case strings.EqualFold(tlc, lc):
			exact = &named[i]
		case tlc == "":
			bare = &named[i]
		}
	}
	t := cmp.Or(exact, bare)
	if t == nil {
		return fail(ErrTemplateLanguage, fmt.Sprintf("template %q has no translation in %s", f.Name, language))
	}
	if t.Status != "approved" {
		return fail(ErrTemplateNotApproved, fmt.Sprintf("template %q in %s is %s", f.Name, t.Language, t.Status))
	}
	params := make([]string, 0, len(h.LocalizableParams))
	for _, p := range h.LocalizableParams {
		params = append(params, p.GetDefault())
	}
	if len(h.LocalizableParams) == 0 {
		params = append(params, h.Params...) // the oldest senders' plain list
	}
	r, err := t.Render(params)
	if err != nil {
		reason := strings.TrimPrefix(err.Error(), "catalog: ")
		f.Err, f.Reason = err, reason
		return nil, f
	}
	return &r, nil
}

// templateErrorReceipt is a phone's answer to a template message it could
// not render.
func templateErrorReceipt(id, to, reason string) wabin.Node {
	return wabin.Node{Tag: "receipt", Attrs: wabin.Attrs{"id": id, "to": userJID(to), "type": "error"}, Content: []wabin.Node{
		{Tag: "error", Attrs: wabin.Attrs{"code": "2003", "text": "structure unavailable: " + reason}},
	}}
}
