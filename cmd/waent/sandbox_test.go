package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sandboxProc is `waent sandbox` running as a child process.
type sandboxProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	intro  []string // what it printed on stdout
	stderr *lockedBuffer
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSandbox runs the test binary as the waent command (see TestMain)
// with `sandbox --listen 127.0.0.1:0` and reads the address it printed.
func startSandbox(t *testing.T, extra ...string) *sandboxProc {
	t.Helper()
	args := append([]string{"sandbox", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "WAENT_TEST_MAIN=1")
	p := &sandboxProc{t: t, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	timeout := time.After(90 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("sandbox exited before it was ready; stderr:\n%s", p.stderr.String())
			}
			p.intro = append(p.intro, line)
			if rest, ok := strings.CutPrefix(line, "waent sandbox listening on "); ok {
				p.base = strings.TrimSpace(rest)
			}
			if strings.HasPrefix(line, "Stop with Ctrl-C") {
				if p.base == "" {
					t.Fatalf("no address in %q", p.intro)
				}
				go func() {
					for range lines { // keep the pipe drained
					}
				}()
				return p
			}
		case <-timeout:
			t.Fatalf("sandbox not ready after 90s; stdout %q; stderr:\n%s", p.intro, p.stderr.String())
		}
	}
}

// stop sends SIGINT and expects a clean exit.
func (p *sandboxProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Fatalf("sandbox exit after SIGINT: %v; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("sandbox did not stop within 30s of SIGINT")
	}
}

type httpResult struct {
	status int
	body   map[string]any
	raw    string
}

func (p *sandboxProc) do(method, path, token string, body any, basic ...string) httpResult {
	p.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, p.base+path, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := httpResult{status: res.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// first returns body[key][0] as an object.
func (r httpResult) first(t *testing.T, key string) map[string]any {
	t.Helper()
	arr, _ := r.body[key].([]any)
	if len(arr) == 0 {
		t.Fatalf("no %s in %d %s", key, r.status, r.raw)
	}
	m, _ := arr[0].(map[string]any)
	return m
}

// hookSink is a webhook receiver that keeps every body.
type hookSink struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.mu.Unlock()
}

// waitFor polls the received bodies until one entry of key (statuses or
// messages) satisfies match.
func (h *hookSink) waitFor(t *testing.T, key string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, b := range h.bodies {
			arr, _ := b[key].([]any)
			for _, e := range arr {
				if m, ok := e.(map[string]any); ok && match(m) {
					h.mu.Unlock()
					return m
				}
			}
		}
		h.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	t.Fatalf("no webhook %s entry matched; got %v", key, h.bodies)
	return nil
}

// waitReceived polls GET /sandbox/users/{wa_id}/messages for id.
func (p *sandboxProc) waitReceived(token, waID, id string) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := p.do("GET", "/sandbox/users/"+waID+"/messages", token, nil)
		if r.status != 200 {
			p.t.Fatalf("received list: %d %s", r.status, r.raw)
		}
		arr, _ := r.body["messages"].([]any)
		for _, e := range arr {
			if m, _ := e.(map[string]any); m["id"] == id {
				return m
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Fatalf("%s never received %s", waID, id)
	return nil
}

// TestSandboxConversation drives a whole conversation through the
// sandbox's HTTP surface: login with the forced password change, a send
// to a simulated user, her read receipt and reply, an offline user who
// gets his message when back online, a template, and every callback at
// an external webhook receiver.
func TestSandboxConversation(t *testing.T) {
	hooks := &hookSink{}
	hookSrv := httptest.NewServer(hooks)
	defer hookSrv.Close()
	p := startSandbox(t, "--webhook", hookSrv.URL+"/hook")

	// The default admin must change the password before anything else.
	if r := p.do("GET", "/sandbox/users", "", nil); r.status != 401 {
		t.Fatalf("unauthenticated /sandbox: %d %s", r.status, r.raw)
	}
	r := p.do("POST", "/v1/users/login", "", map[string]string{"new_password": "Conv-Pass-42"}, "admin", "secret")
	if r.status != 200 {
		t.Fatalf("login: %d %s", r.status, r.raw)
	}
	token, _ := r.first(t, "users")["token"].(string)
	if r := p.do("POST", "/v1/users/login", "", nil, "admin", "secret"); r.status != 401 {
		t.Fatalf("old password still works: %d %s", r.status, r.raw)
	}

	// Send to Alice, created at startup.
	r = p.do("POST", "/v1/messages", token, map[string]any{"to": sandboxAlice, "type": "text", "text": map[string]string{"body": "Your order shipped"}})
	if r.status != 201 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	id, _ := r.first(t, "messages")["id"].(string)
	got := p.waitReceived(token, sandboxAlice, id)
	if got["text"] != "Your order shipped" || got["from"] != sandboxWAID {
		t.Fatalf("Alice got %v", got)
	}
	hooks.waitFor(t, "statuses", func(m map[string]any) bool { return m["id"] == id && m["status"] == "delivered" })

	// She reads it.
	if r := p.do("POST", "/sandbox/users/"+sandboxAlice+"/read", token, map[string]string{"id": id}); r.status != 200 {
		t.Fatalf("read: %d %s", r.status, r.raw)
	}
	hooks.waitFor(t, "statuses", func(m map[string]any) bool { return m["id"] == id && m["status"] == "read" })
	if r := p.do("POST", "/sandbox/users/"+sandboxAlice+"/read", token, map[string]string{"id": "nope"}); r.status != 404 {
		t.Fatalf("read of an unknown id: %d %s", r.status, r.raw)
	}

	// She replies; the business's webhook gets it with her name.
	r = p.do("POST", "/sandbox/users/"+sandboxAlice+"/messages", token, map[string]any{"type": "text", "text": map[string]string{"body": "Thanks!"}})
	if r.status != 201 {
		t.Fatalf("reply: %d %s", r.status, r.raw)
	}
	replyID, _ := r.first(t, "messages")["id"].(string)
	in := hooks.waitFor(t, "messages", func(m map[string]any) bool { return m["id"] == replyID })
	if txt, _ := in["text"].(map[string]any); in["from"] != sandboxAlice || txt["body"] != "Thanks!" {
		t.Fatalf("inbound webhook %v", in)
	}
	// The business marks it read over /v1; Alice sees the read receipt.
	if r := p.do("PUT", "/v1/messages/"+replyID, token, map[string]string{"status": "read"}); r.status != 200 {
		t.Fatalf("mark read: %d %s", r.status, r.raw)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		u := p.do("GET", "/sandbox/users/"+sandboxAlice, token, nil).first(t, "users")
		rcpts, _ := u["receipts"].([]any)
		if strings.Contains(fmt.Sprint(rcpts), "type:read") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alice never got a read receipt: %v", u)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A new user, offline: the message waits on the server.
	if r := p.do("POST", "/sandbox/users", token, map[string]string{"wa_id": "+44 7700 900002", "name": "Bob"}); r.status != 201 {
		t.Fatalf("create Bob: %d %s", r.status, r.raw)
	}
	if r := p.do("POST", "/sandbox/users", token, map[string]string{"wa_id": "447700900002"}); r.status != 409 {
		t.Fatalf("create Bob twice: %d %s", r.status, r.raw)
	}
	if r := p.do("PATCH", "/sandbox/users/447700900002", token, map[string]bool{"online": false}); r.status != 200 || r.first(t, "users")["online"] != false {
		t.Fatalf("Bob offline: %d %s", r.status, r.raw)
	}
	r = p.do("POST", "/v1/messages", token, map[string]any{"to": "447700900002", "type": "text", "text": map[string]string{"body": "Hi Bob"}})
	if r.status != 201 {
		t.Fatalf("send to Bob: %d %s", r.status, r.raw)
	}
	bobID, _ := r.first(t, "messages")["id"].(string)
	time.Sleep(300 * time.Millisecond)
	if got := p.do("GET", "/sandbox/users/447700900002/messages", token, nil); strings.Contains(got.raw, bobID) {
		t.Fatalf("offline Bob received %s", got.raw)
	}
	if r := p.do("PATCH", "/sandbox/users/447700900002", token, map[string]bool{"online": true}); r.status != 200 {
		t.Fatalf("Bob online: %d %s", r.status, r.raw)
	}
	p.waitReceived(token, "447700900002", bobID)

	// A template added to the catalogue reaches the client and renders
	// on Alice's phone.
	tmpl := map[string]any{"name": "order_update", "language": "en", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Order {{1}} is on its way"}}}
	r = p.do("POST", "/sandbox/templates", token, tmpl)
	if r.status != 201 {
		t.Fatalf("add template: %d %s", r.status, r.raw)
	}
	ns, _ := r.first(t, "templates")["namespace"].(string)
	send := map[string]any{"to": sandboxAlice, "type": "template", "template": map[string]any{
		"namespace": ns, "name": "order_update", "language": map[string]string{"policy": "deterministic", "code": "en"},
		"components": []map[string]any{{"type": "body", "parameters": []map[string]string{{"type": "text", "text": "42"}}}}}}
	var tid string
	deadline = time.Now().Add(30 * time.Second)
	for { // the client learns of the template from the server's notification
		r = p.do("POST", "/v1/messages", token, send)
		if r.status == 201 {
			tid, _ = r.first(t, "messages")["id"].(string)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("template send: %d %s", r.status, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := p.waitReceived(token, sandboxAlice, tid); got["text"] != "Order 42 is on its way" {
		t.Fatalf("template rendered as %v", got)
	}

	// The in-process record lists what the external receiver got.
	if r := p.do("GET", "/sandbox/webhooks", token, nil); r.status != 200 || !strings.Contains(r.raw, replyID) {
		t.Fatalf("/sandbox/webhooks: %d %s", r.status, r.raw)
	}
	p.stop()
}

// TestSandboxPrintedCommandsWork runs the curl commands the sandbox
// prints, as printed, in a POSIX shell: log in with the password change,
// send Alice a message, and read what she received.
func TestSandboxPrintedCommandsWork(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	p := startSandbox(t)
	var cmds []string
	for _, line := range p.intro {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "TOKEN=") || strings.HasPrefix(l, "curl ") {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) < 3 {
		t.Fatalf("printed commands: %q", cmds)
	}
	// Login and send, then poll the third (what Alice received) until it
	// shows the message.
	script := cmds[0] + "\n" + cmds[1] + "\necho\nfor i in $(seq 1 100); do out=$(" + cmds[2] + "); case \"$out\" in *'Hello from waent'*) echo \"$out\"; exit 0;; esac; sleep 0.1; done; echo \"$out\"; exit 1\n"
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("printed commands failed: %v\nscript:\n%s\noutput:\n%s", err, script, out)
	}
	if !strings.Contains(string(out), `"messages":[{"id":`) || !strings.Contains(string(out), `"text":"Hello from waent"`) {
		t.Fatalf("output:\n%s", out)
	}
	p.stop()
}
