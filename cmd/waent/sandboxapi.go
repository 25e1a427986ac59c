package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/waent/waent"
	"github.com/waent/waent/content"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/templates/catalog"
	"github.com/waent/waent/waenttest"
	"github.com/waent/waent/webhook"
)

// sandboxAPI serves /sandbox/: the controls of the simulated users and of
// the template catalogue, behind the same bearer tokens as /v1.
type sandboxAPI struct {
	c   *waent.Client
	api *httpapi.Handler // set once built with routes()
	net *waenttest.Network
	rec *webhookRecorder

	mu    sync.Mutex
	users map[string]*simUser // by wa_id
}

// simUser is a simulated user and what the sandbox knows of it that the
// network does not report (its name, whether it blocks the business).
type simUser struct {
	u       *waenttest.User
	name    string
	blocked bool
	online  bool
}

func newSandboxAPI(c *waent.Client, n *waenttest.Network, rec *webhookRecorder) *sandboxAPI {
	return &sandboxAPI{c: c, net: n, rec: rec, users: map[string]*simUser{}}
}

// routes are the /sandbox/ routes, served by the /v1 handler with its
// authentication (a user's bearer token) and envelope.
func (s *sandboxAPI) routes() []httpapi.Route {
	u := httpapi.RoleUser
	return []httpapi.Route{
		{Method: "POST", Pattern: "/sandbox/users", Role: u, Handler: s.createUser},
		{Method: "GET", Pattern: "/sandbox/users", Role: u, Handler: s.listUsers},
		{Method: "GET", Pattern: "/sandbox/users/{wa_id}", Role: u, Handler: s.getUser},
		{Method: "PATCH", Pattern: "/sandbox/users/{wa_id}", Role: u, Handler: s.patchUser},
		{Method: "POST", Pattern: "/sandbox/users/{wa_id}/messages", Role: u, Handler: s.userSends},
		{Method: "GET", Pattern: "/sandbox/users/{wa_id}/messages", Role: u, Handler: s.userReceived},
		{Method: "POST", Pattern: "/sandbox/users/{wa_id}/read", Role: u, Handler: s.userReads},
		{Method: "POST", Pattern: "/sandbox/templates", Role: u, Handler: s.addTemplate},
		{Method: "GET", Pattern: "/sandbox/templates", Role: u, Handler: s.listTemplates},
		{Method: "GET", Pattern: "/sandbox/webhooks", Role: u, Handler: s.listWebhooks},
	}
}

// addUser puts a simulated user on the network.
func (s *sandboxAPI) addUser(waID, name string) (*simUser, error) {
	waID = digitsOnly(waID)
	if waID == "" {
		return nil, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'wa_id'")
	}
	if waID == s.c.WAID() {
		return nil, waent.NewError(waent.CodeInvalidParameter, "wa_id "+waID+" is the business number")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[waID]; ok {
		return nil, waent.NewError(waent.CodeResourceExists, "simulated user "+waID+" already exists")
	}
	u, err := s.net.NewUser(waID, waenttest.UserOptions{PushName: name})
	if err != nil {
		return nil, waent.NewError(waent.CodeInvalidParameter, err.Error())
	}
	su := &simUser{u: u, name: name, online: true}
	s.users[waID] = su
	return su, nil
}

func (s *sandboxAPI) user(r *http.Request) (*simUser, error) {
	waID := digitsOnly(r.PathValue("wa_id"))
	s.mu.Lock()
	defer s.mu.Unlock()
	su, ok := s.users[waID]
	if !ok {
		return nil, waent.NewError(waent.CodeResourceNotFound, "no simulated user "+r.PathValue("wa_id")+": create it with POST /sandbox/users")
	}
	return su, nil
}

type userView struct {
	WAID    string `json:"wa_id"`
	Name    string `json:"name,omitempty"`
	Online  bool   `json:"online"`
	Blocked bool   `json:"blocked"`
	// Received counts the messages the user decrypted; Receipts lists
	// the receipts it got for its own messages (type "" is delivered).
	Received int           `json:"received"`
	Receipts []receiptView `json:"receipts"`
}

type receiptView struct {
	ID        string `json:"id"`
	From      string `json:"from"`
	Type      string `json:"type"` // "delivered", "read", ...
	Timestamp string `json:"timestamp"`
}

func (s *sandboxAPI) view(su *simUser) userView {
	s.mu.Lock()
	v := userView{WAID: su.u.Phone(), Name: su.name, Online: su.online, Blocked: su.blocked}
	s.mu.Unlock()
	v.Received = len(su.u.Received())
	v.Receipts = []receiptView{}
	for _, rc := range su.u.Receipts() {
		typ := rc.Type
		if typ == "" {
			typ = "delivered"
		}
		v.Receipts = append(v.Receipts, receiptView{ID: rc.ID, From: rc.From, Type: typ, Timestamp: strconv.FormatInt(rc.At.Unix(), 10)})
	}
	return v
}

func (s *sandboxAPI) createUser(w http.ResponseWriter, r *http.Request) {
	var body struct {
		WAID string `json:"wa_id"`
		Name string `json:"name"`
	}
	if !s.sbDecode(w, r, &body) {
		return
	}
	su, err := s.addUser(body.WAID, body.Name)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	s.sbRespond(w, http.StatusCreated, map[string]any{"users": []userView{s.view(su)}})
}

func (s *sandboxAPI) listUsers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	all := make([]*simUser, 0, len(s.users))
	for _, su := range s.users {
		all = append(all, su)
	}
	s.mu.Unlock()
	views := make([]userView, 0, len(all))
	for _, su := range all {
		views = append(views, s.view(su))
	}
	slices.SortFunc(views, func(a, b userView) int { return strings.Compare(a.WAID, b.WAID) })
	s.sbRespond(w, http.StatusOK, map[string]any{"users": views})
}

func (s *sandboxAPI) getUser(w http.ResponseWriter, r *http.Request) {
	su, err := s.user(r)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	s.sbRespond(w, http.StatusOK, map[string]any{"users": []userView{s.view(su)}})
}

func (s *sandboxAPI) patchUser(w http.ResponseWriter, r *http.Request) {
	su, err := s.user(r)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	var body struct {
		Online  *bool `json:"online"`
		Blocked *bool `json:"blocked"`
	}
	if !s.sbDecode(w, r, &body) {
		return
	}
	if body.Online == nil && body.Blocked == nil {
		s.sbFail(w, r, waent.NewError(waent.CodeMissingParameter, "give 'online' and/or 'blocked'"))
		return
	}
	if body.Online != nil {
		su.u.SetOnline(*body.Online)
	}
	if body.Blocked != nil {
		if *body.Blocked {
			su.u.Block(s.c.WAID())
		} else {
			su.u.Unblock(s.c.WAID())
		}
	}
	s.mu.Lock()
	if body.Online != nil {
		su.online = *body.Online
	}
	if body.Blocked != nil {
		su.blocked = *body.Blocked
	}
	s.mu.Unlock()
	s.sbRespond(w, http.StatusOK, map[string]any{"users": []userView{s.view(su)}})
}

// userSends makes the user send an On-Premises message body (as for POST
// /v1/messages, without "to": it goes to the business) to the business.
func (s *sandboxAPI) userSends(w http.ResponseWriter, r *http.Request) {
	su, err := s.user(r)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		s.sbFail(w, r, waent.NewError(waent.CodeInvalidRequest, "request body: "+err.Error()))
		return
	}
	o, err := content.DecodeOutgoing(raw)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	m, err := content.ToProto(o, nil)
	if errors.Is(err, content.ErrNeedMedia) {
		s.sbFail(w, r, waent.NewError(waent.CodeInvalidParameter, "simulated users cannot send media in this sandbox; send text, location, contacts, interactive without a media header, or reaction"))
		return
	}
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	id, err := su.u.Send(ctx, s.c.WAID(), m)
	if errors.Is(err, waenttest.ErrOffline) {
		s.sbFail(w, r, waent.NewError(waent.CodeInvalidParameter, "the user is offline: PATCH it with {\"online\":true} first"))
		return
	}
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	s.sbRespond(w, http.StatusCreated, map[string]any{"messages": []map[string]string{{"id": id}}})
}

type receivedView struct {
	ID        string          `json:"id"`
	From      string          `json:"from"`
	Timestamp string          `json:"timestamp"`
	Text      string          `json:"text"`
	PreKey    bool            `json:"prekey"`
	Template  any             `json:"template,omitempty"`
	Message   json.RawMessage `json:"message"`
}

// userReceived lists what the user decrypted, oldest first: the text a
// phone shows, and the decoded message itself.
func (s *sandboxAPI) userReceived(w http.ResponseWriter, r *http.Request) {
	su, err := s.user(r)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	got := su.u.Received()
	out := make([]receivedView, 0, len(got))
	for _, m := range got {
		v := receivedView{ID: m.ID, From: m.From, Timestamp: strconv.FormatInt(m.At.Unix(), 10), Text: m.Text, PreKey: m.PreKey}
		if m.Template != nil {
			v.Template = m.Template
		}
		v.Message, _ = protojson.Marshal(m.Message)
		if len(v.Message) == 0 {
			v.Message = json.RawMessage("{}")
		}
		out = append(out, v)
	}
	s.sbRespond(w, http.StatusOK, map[string]any{"messages": out})
}

// userReads sends the business a read receipt for one of its messages.
func (s *sandboxAPI) userReads(w http.ResponseWriter, r *http.Request) {
	su, err := s.user(r)
	if err != nil {
		s.sbFail(w, r, err)
		return
	}
	var body struct {
		ID string `json:"id"`
	}
	if !s.sbDecode(w, r, &body) {
		return
	}
	if body.ID == "" {
		s.sbFail(w, r, waent.NewError(waent.CodeMissingParameter, "Missing mandatory parameter 'id'"))
		return
	}
	from := ""
	for _, m := range su.u.Received() {
		if m.ID == body.ID {
			from = m.From
		}
	}
	if from == "" {
		s.sbFail(w, r, waent.NewError(waent.CodeResourceNotFound, "the user has not received message "+body.ID))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := su.u.MarkRead(ctx, from, body.ID); err != nil {
		s.sbFail(w, r, err)
		return
	}
	s.sbRespond(w, http.StatusOK, nil)
}

// addTemplate adds a translation to the network's catalogue; the namespace
// defaults to the business's, the status to approved. The client hears of
// the change from the server and refreshes its copy.
func (s *sandboxAPI) addTemplate(w http.ResponseWriter, r *http.Request) {
	var t catalog.Template
	if !s.sbDecode(w, r, &t) {
		return
	}
	if t.Namespace == "" {
		t.Namespace = s.net.Templates().Namespace(s.c.WAID())
	}
	if err := s.net.Templates().Add(t); err != nil {
		s.sbFail(w, r, waent.NewError(waent.CodeInvalidParameter, err.Error()))
		return
	}
	for _, got := range s.net.Templates().List(t.Namespace) {
		if got.Name == t.Name && got.Language == t.Language {
			t = got
		}
	}
	s.sbRespond(w, http.StatusCreated, map[string]any{"templates": []catalog.Template{t}})
}

func (s *sandboxAPI) listTemplates(w http.ResponseWriter, r *http.Request) {
	ts := s.net.Templates().List(s.net.Templates().Namespace(s.c.WAID()))
	if ts == nil {
		ts = []catalog.Template{}
	}
	s.sbRespond(w, http.StatusOK, map[string]any{"namespace": s.net.Templates().Namespace(s.c.WAID()), "templates": ts})
}

func (s *sandboxAPI) listWebhooks(w http.ResponseWriter, r *http.Request) {
	s.sbRespond(w, http.StatusOK, map[string]any{"webhooks": s.rec.list()})
}

// webhookRecorder keeps the latest callbacks for GET /sandbox/webhooks,
// after handing each to the forward sink (when there is one): a body the
// receiver refused is retried by the dispatcher and recorded once it is
// taken.
type webhookRecorder struct {
	forward webhook.Sink
	max     int

	mu    sync.Mutex
	seq   int
	hooks []recordedHook
}

type recordedHook struct {
	Seq        int             `json:"seq"`
	ReceivedAt time.Time       `json:"received_at"`
	Body       json.RawMessage `json:"body"`
}

func newWebhookRecorder(forward webhook.Sink, max int) *webhookRecorder {
	return &webhookRecorder{forward: forward, max: max}
}

func (w *webhookRecorder) Deliver(ctx context.Context, body []byte) error {
	if w.forward != nil {
		if err := w.forward.Deliver(ctx, body); err != nil {
			return err
		}
	}
	if !json.Valid(body) {
		body, _ = json.Marshal(string(body))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	w.hooks = append(w.hooks, recordedHook{Seq: w.seq, ReceivedAt: time.Now().UTC(), Body: bytes.Clone(body)})
	if len(w.hooks) > w.max {
		w.hooks = append([]recordedHook(nil), w.hooks[len(w.hooks)-w.max:]...)
	}
	return nil
}

func (w *webhookRecorder) list() []recordedHook {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]recordedHook{}, w.hooks...)
}

// sbRespond, sbFail and sbDecode answer in the /v1 envelope through the
// API handler.
func (s *sandboxAPI) sbRespond(w http.ResponseWriter, status int, payload map[string]any) {
	s.api.Respond(w, status, payload)
}

func (s *sandboxAPI) sbFail(w http.ResponseWriter, r *http.Request, err error) { s.api.Fail(w, r, err) }

func (s *sandboxAPI) sbDecode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := s.api.DecodeJSON(w, r, v); err != nil {
		s.api.Fail(w, r, err)
		return false
	}
	return true
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
