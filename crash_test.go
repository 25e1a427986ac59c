package waent_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waent/waent"
	"github.com/waent/waent/conn"
	"github.com/waent/waent/store"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/store/sqlstore/sqltest"
	"github.com/waent/waent/waenttest"
)

// The crash test runs the client in a child process (this test binary
// re-executed with crashChildEnv set), kills it with SIGKILL in the middle
// of sending and receiving, starts it again, and finally checks that
// nothing accepted was lost and nothing reached a phone twice.
const crashChildEnv = "WAENT_CRASH_CHILD"

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("helper process for TestKillNineLosesNothing")
	}
	var cfg struct {
		dsn, host, root string
		p1, p2          int
		users           []string
		from, to        int
	}
	for _, kv := range strings.Split(spec, ";") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "dsn":
			cfg.dsn = v
		case "host":
			cfg.host = v
		case "root":
			cfg.root = v
		case "p1":
			cfg.p1, _ = strconv.Atoi(v)
		case "p2":
			cfg.p2, _ = strconv.Atoi(v)
		case "users":
			cfg.users = strings.Split(v, ",")
		case "from":
			cfg.from, _ = strconv.Atoi(v)
		case "to":
			cfg.to, _ = strconv.Atoi(v)
		}
	}
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: cfg.dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rootB, _ := hex.DecodeString(cfg.root)
	var root [32]byte
	copy(root[:], rootB)
	logger := slog.Default()
	if os.Getenv("WAENT_CRASH_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("pid", os.Getpid())
	}
	c, err := waent.New(waent.Config{
		Store: st, ChatRootKey: root, Logger: logger,
		Dialer: conn.Dialer{Hosts: []string{cfg.host}, Ports: []int{cfg.p1, cfg.p2}, Timeout: 5 * time.Second,
			Proxy: func(string) (*url.URL, error) { return nil, nil }},
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond, ReadyTimeout: 3 * time.Second,
		OutboxRetryMin: 50 * time.Millisecond, OutboxRetryMax: time.Second, OutboxAckTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for !c.Ready() {
		time.Sleep(5 * time.Millisecond)
	}
	out := bufio.NewWriter(os.Stdout)
	for k := cfg.from; k < cfg.to; k++ {
		u := cfg.users[k%len(cfg.users)]
		id, err := c.Send(ctx, text(u, fmt.Sprint("crash ", k)))
		if err != nil {
			t.Fatal(err)
		}
		// The id is durable now: tell the parent.
		fmt.Fprintf(out, "SENT %d %s\n", k, id)
		out.Flush()
	}
	fmt.Fprintln(out, "DONE")
	out.Flush()
	time.Sleep(time.Hour) // until killed
}

func TestKillNineLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	for _, backend := range sqltest.Backends {
		t.Run(string(backend), func(t *testing.T) { killNine(t, sqltest.DSN(t, backend)) })
	}
}

func killNine(t *testing.T, dsn string) {
	opts := waenttest.Options{}
	if os.Getenv("WAENT_CRASH_DEBUG") != "" {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	net, err := waenttest.NewNetwork(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	ctx := context.Background()

	// Register in the parent, then hand the database to the children.
	func() {
		st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		c := startClient(t, net, st)
		waitFor(t, 10*time.Second, "prekey upload", func() bool { return net.PreKeyCount(business) > 0 })
		c.Close()
	}()
	users := newUsers(t, net, 5)
	phones := make([]string, len(users))
	for i, u := range users {
		phones[i] = u.Phone()
	}
	host, p1, p2 := net.ChatAddr()
	root := net.RootKey()

	const total = 600
	accepted := map[int]string{} // k → id, as the children reported
	var inbound []string         // ids users sent to the business
	var inboundMu sync.Mutex
	stopUsers := make(chan struct{})
	var usersWG sync.WaitGroup
	// Users keep writing to the business throughout, crashes included.
	for i, u := range users {
		usersWG.Add(1)
		go func() {
			defer usersWG.Done()
			for k := 0; ; k++ {
				select {
				case <-stopUsers:
					return
				case <-time.After(15 * time.Millisecond):
				}
				id, err := u.SendText(ctx, "1"+businessNumber, fmt.Sprintf("user %d says %d", i, k))
				if err != nil {
					t.Error(err)
					return
				}
				inboundMu.Lock()
				inbound = append(inbound, id)
				inboundMu.Unlock()
			}
		}()
	}

	next, rounds := 0, 0
	for ; next < total; rounds++ {
		round := rounds
		spec := fmt.Sprintf("dsn=%s;host=%s;root=%s;p1=%d;p2=%d;users=%s;from=%d;to=%d",
			dsn, host, hex.EncodeToString(root[:]), p1, p2, strings.Join(phones, ","), next, total)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v=false")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+spec)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill after a varying number of accepted messages, so the kill
		// lands in different phases (sending, acking, receipts).
		killAfter := 80 + 37*round
		sc := bufio.NewScanner(stdout)
		seen := 0
		for sc.Scan() {
			line := sc.Text()
			if line == "DONE" {
				break
			}
			var k int
			var id string
			if _, err := fmt.Sscanf(line, "SENT %d %s", &k, &id); err != nil {
				continue
			}
			accepted[k] = id
			next = k + 1
			if seen++; seen >= killAfter {
				break
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		// What the child printed before it died was accepted too.
		for sc.Scan() {
			var k int
			var id string
			if _, err := fmt.Sscanf(sc.Text(), "SENT %d %s", &k, &id); err == nil {
				accepted[k] = id
				next = k + 1
			}
		}
		cmd.Wait()
		t.Logf("round %d: killed after %d accepted (next %d)", round, seen, next)
	}
	close(stopUsers)
	usersWG.Wait()

	// A final, clean run delivers whatever is left.
	st, err := sqlstore.Open(ctx, sqlstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	startClient(t, net, st)
	for k := range total {
		id, ok := accepted[k]
		if !ok {
			t.Fatalf("message %d was never accepted", k)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			m, err := st.GetMessage(ctx, id)
			if err == nil && m.Status == store.StatusDelivered {
				break
			}
			if time.Now().After(deadline) {
				hist, _ := st.StatusHistory(ctx, id)
				u := users[k%len(users)]
				var at []int
				for j, r := range u.Received() {
					if r.ID == id {
						at = append(at, j)
					}
				}
				n, _ := st.OutboxLen(ctx)
				t.Fatalf("message %d (%s) not delivered: %+v, history %+v; outbox %d; phone has it at %v of %d, %d decrypt failures",
					k, id, m, hist, n, at, len(u.Received()), u.DecryptFailures())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Every phone has every message addressed to it exactly once, in order.
	orphans := 0
	for i, u := range users {
		var want []string
		for k := i; k < total; k += len(users) {
			want = append(want, accepted[k])
		}
		// A message accepted just before a kill, whose id the child had
		// no time to report, is durable and arrives too, like the answer
		// of an API call lost with its caller; the rest must be exactly
		// the reported ids, each once, in order.
		reported := map[string]bool{}
		for _, id := range want {
			reported[id] = true
		}
		var got []string
		seen := map[string]bool{}
		for _, r := range u.Received() {
			if seen[r.ID] {
				t.Fatalf("user %d received %s twice", i, r.ID)
			}
			seen[r.ID] = true
			if reported[r.ID] {
				got = append(got, r.ID)
			} else {
				orphans++
			}
		}
		if len(got) != len(want) {
			t.Fatalf("user %d received %d of its %d messages", i, len(got), len(want))
		}
		for j, id := range want {
			if got[j] != id {
				t.Fatalf("user %d: message %d is %s, want %s (order)", i, j, got[j], id)
			}
		}
		t.Logf("user %d: %d messages, %d redundant copies dropped by the phone", i, len(got), u.Duplicates())
	}
	if orphans > rounds {
		t.Errorf("%d unreported messages arrived, more than one per kill (%d kills)", orphans, rounds)
	}
	// Everything the users sent is stored once, with one callback each.
	inboundMu.Lock()
	defer inboundMu.Unlock()
	for _, id := range inbound {
		waitFor(t, 30*time.Second, "inbound "+id, func() bool { _, err := st.GetMessage(ctx, id); return err == nil })
	}
	cbs, err := st.PendingCallbacks(ctx, 0, 100000)
	if err != nil {
		t.Fatal(err)
	}
	perID := map[string]int{}
	for _, cb := range cbs {
		if cb.Kind != waent.KindInbound {
			continue
		}
		var p struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		if err := json.Unmarshal(cb.Payload, &p); err != nil {
			t.Fatalf("callback %s: %v", cb.Payload, err)
		}
		for _, m := range p.Messages {
			perID[m.ID]++
		}
	}
	for _, id := range inbound {
		if perID[id] != 1 {
			t.Errorf("inbound %s has %d callbacks, want 1", id, perID[id])
		}
	}
	t.Logf("%d outbound messages across crashes, %d inbound", total, len(inbound))
}
