package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/waent/waent"
	"github.com/waent/waent/httpapi"
	"github.com/waent/waent/store/filemedia"
	"github.com/waent/waent/store/sqlstore"
	"github.com/waent/waent/waenttest"
)

// benchOpts are the knobs of one benchmark run.
type benchOpts struct {
	store       string
	dsn         string
	n, users, c int
	inbound     int
	mode        string
	timeout     time.Duration
	sqliteSync  string
	keep        bool
	progress    time.Duration
}

// benchResult is the one JSON object bench prints.
type benchResult struct {
	Store       string `json:"store"`
	Mode        string `json:"mode"`
	Messages    int    `json:"messages"`
	Users       int    `json:"users"`
	Concurrency int    `json:"concurrency"`
	Inbound     int    `json:"inbound_messages"`

	AcceptedPerS  float64 `json:"accepted_per_s"`
	AckedPerS     float64 `json:"acked_per_s"`
	DeliveredPerS float64 `json:"delivered_per_s"`
	InboundPerS   float64 `json:"inbound_per_s"`

	AcceptP50 float64 `json:"accept_p50_ms"`
	AcceptP99 float64 `json:"accept_p99_ms"`
	E2EP50    float64 `json:"e2e_p50_ms"`
	E2EP99    float64 `json:"e2e_p99_ms"`

	PeakRSSMB float64 `json:"peak_rss_mb"`
	// Lost: accepted outbound messages no phone decrypted, plus inbound
	// messages that never reached the webhook. Duplicated: messages a
	// phone got twice, plus inbound messages or statuses the webhook got
	// twice (callbacks are at-least-once, so these are allowed but
	// counted).
	Lost       int     `json:"lost"`
	Duplicated int     `json:"duplicated"`
	Rejected   int     `json:"rejected"`
	ElapsedS   float64 `json:"elapsed_s"`
}

func bench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchOpts
	fs.StringVar(&o.store, "store", "sqlite", "backend: sqlite, postgres or mysql")
	fs.StringVar(&o.dsn, "dsn", "", "database DSN (sqlite default: a temporary file); on postgres and mysql a fresh schema or database is made in it and dropped after")
	fs.IntVar(&o.n, "n", 2000, "outbound messages, sent over POST /v1/messages")
	fs.IntVar(&o.users, "users", 20, "simulated users (steady mode)")
	fs.IntVar(&o.c, "c", 16, "concurrent API requests")
	fs.IntVar(&o.inbound, "inbound", -1, "inbound messages the users send the business (default n/4)")
	fs.StringVar(&o.mode, "mode", "steady", "steady (sessions exist) or first-contact (every message to a new user: bundle fetch and X3DH)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up waiting for deliveries after this long")
	fs.StringVar(&o.sqliteSync, "sqlite-synchronous", "FULL", "SQLite synchronous pragma: FULL or NORMAL")
	fs.BoolVar(&o.keep, "keep", false, "keep the fresh PostgreSQL schema or MySQL database")
	fs.DurationVar(&o.progress, "progress", time.Second, "interval of the progress line on stderr (0: none)")
	if err := parseFlags(fs, args, ""); err != nil {
		return err
	}
	if o.inbound < 0 {
		o.inbound = o.n / 4
	}
	switch {
	case o.n < 1 || o.c < 1 || o.users < 1:
		return usagef("-n, -users and -c must be at least 1")
	case o.mode != "steady" && o.mode != "first-contact":
		return usagef("--mode %q: want steady or first-contact", o.mode)
	}
	res, err := runBench(ctx, o, stderr)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	return enc.Encode(res)
}

// benchDB prepares the database of a run and returns its DSN and a
// cleanup.
func benchDB(ctx context.Context, o benchOpts) (dsn string, cleanup func(), err error) {
	switch o.store {
	case "sqlite":
		if o.dsn != "" {
			// The simulated network is new on every run and knows no
			// account an earlier run registered in this file.
			if file, ok := sqliteFile(o.dsn); !ok {
				return "", nil, usagef("--dsn %q: want sqlite:<file> with --store sqlite", o.dsn)
			} else if _, err := os.Stat(file); err == nil {
				return "", nil, usagef("--dsn %s: the file exists; bench needs a fresh database", o.dsn)
			}
			return o.dsn, func() {}, nil
		}
		dir, err := os.MkdirTemp("", "waent-bench-")
		if err != nil {
			return "", nil, err
		}
		return "sqlite:" + filepath.Join(dir, "bench.db"), func() { os.RemoveAll(dir) }, nil
	case "postgres":
		if o.dsn == "" {
			return "", nil, usagef("--store postgres needs --dsn postgres://...")
		}
		return freshPostgres(ctx, o.dsn, o.keep)
	case "mysql":
		if o.dsn == "" {
			return "", nil, usagef("--store mysql needs --dsn mysql://...")
		}
		return freshMySQL(ctx, o.dsn, o.keep)
	}
	return "", nil, usagef("--store %q: want sqlite, postgres or mysql", o.store)
}

func benchName() string {
	b := make([]byte, 5)
	rand.Read(b)
	return "waent_bench_" + hex.EncodeToString(b)
}

// freshPostgres makes a schema of its own in the database and points the
// DSN's search_path at it: a run never meets an earlier run's account.
func freshPostgres(ctx context.Context, base string, keep bool) (string, func(), error) {
	admin, err := sql.Open("pgx", base)
	if err != nil {
		return "", nil, err
	}
	defer admin.Close()
	schema := benchName()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, fmt.Errorf("create schema on %s: %w", redactURL(base), err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if keep {
			return
		}
		if db, err := sql.Open("pgx", base); err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	}, nil
}

func freshMySQL(ctx context.Context, base string, keep bool) (string, func(), error) {
	cfg, err := mysqlConfig(base)
	if err != nil {
		return "", nil, err
	}
	cfg.DBName = ""
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return "", nil, err
	}
	admin := sql.OpenDB(c)
	defer admin.Close()
	name := benchName()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return "", nil, fmt.Errorf("create database on %s: %w", cfg.Addr, err)
	}
	cfg.DBName = name
	return "mysql:" + cfg.FormatDSN(), func() {
		if keep {
			return
		}
		db := sql.OpenDB(c)
		db.Exec("DROP DATABASE " + name)
		db.Close()
	}, nil
}

// hookReceiver is the local webhook receiver: it notes when each status
// and each inbound message first arrived, and counts repeats.
type hookReceiver struct {
	mu       sync.Mutex
	statuses map[string]map[string]time.Time // id → status → first arrival
	inbound  map[string]time.Time
	dups     int
	acked    atomic.Int64 // ids with sent (or a later status)
	deliv    atomic.Int64
	in       atomic.Int64
}

func newHookReceiver() *hookReceiver {
	return &hookReceiver{statuses: map[string]map[string]time.Time{}, inbound: map[string]time.Time{}}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	var body struct {
		Statuses []struct{ ID, Status string } `json:"statuses"`
		Messages []struct{ ID, From string }   `json:"messages"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	for _, s := range body.Statuses {
		m := h.statuses[s.ID]
		if m == nil {
			m = map[string]time.Time{}
			h.statuses[s.ID] = m
			if s.Status != "failed" {
				h.acked.Add(1)
			}
		}
		if _, seen := m[s.Status]; seen {
			h.dups++
			continue
		}
		m[s.Status] = now
		if s.Status == "delivered" {
			h.deliv.Add(1)
		}
	}
	for _, m := range body.Messages {
		if _, seen := h.inbound[m.ID]; seen {
			h.dups++
			continue
		}
		h.inbound[m.ID] = now
		h.in.Add(1)
	}
	h.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// firstStatus is when id first got one of statuses.
func (h *hookReceiver) firstStatus(id string, statuses ...string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var first time.Time
	for _, s := range statuses {
		if t, ok := h.statuses[id][s]; ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first, !first.IsZero()
}

func runBench(ctx context.Context, o benchOpts, progress io.Writer) (*benchResult, error) {
	began := time.Now()
	dsn, cleanup, err := benchDB(ctx, o)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	st, err := openStoreConfig(ctx, sqlstore.Config{DSN: dsn, SQLiteSynchronous: o.sqliteSync, MaxOpenConns: max(8, o.c)})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	mediaDir, err := os.MkdirTemp("", "waent-bench-media-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(mediaDir)
	media, err := filemedia.New(mediaDir)
	if err != nil {
		return nil, err
	}
	simNet, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		return nil, err
	}
	defer simNet.Close()

	hooks := newHookReceiver()
	hookLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hookSrv := &http.Server{Handler: hooks, ReadHeaderTimeout: 10 * time.Second}
	go hookSrv.Serve(hookLn)
	defer hookSrv.Close()
	sink, err := webhookSink("http://" + hookLn.Addr().String() + "/hooks")
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	client, err := startSimClient(ctx, simNet, waent.Config{Store: st, Media: media, Webhook: sink, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	on := true
	if _, err := client.UpdateSettings(ctx, func(s *waent.Settings) { s.Webhooks.Message.Sent = &on }); err != nil {
		return nil, err
	}
	h, err := httpapi.New(client, httpapi.Options{Logger: quiet})
	if err != nil {
		return nil, err
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	apiSrv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go apiSrv.Serve(apiLn)
	defer apiSrv.Close()
	api := &apiClient{base: "http://" + apiLn.Addr().String(), hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.c * 2}}}
	defer api.hc.CloseIdleConnections()
	if err := api.login(ctx, "admin", "secret", "Bench-Pass-1"); err != nil {
		return nil, err
	}

	// Users: M with sessions made beforehand (steady), or one fresh user
	// per message (first contact), each with few prekeys as phones low on
	// them would be.
	nUsers := o.users
	if o.mode == "first-contact" {
		nUsers = o.n
	}
	users := make([]*waenttest.User, nUsers)
	for i := range users {
		opts := waenttest.UserOptions{PushName: fmt.Sprintf("Bench %d", i)}
		if o.mode == "first-contact" {
			opts.PreKeys = 2
		}
		if users[i], err = simNet.NewUser(fmt.Sprintf("1555%07d", 2000000+i), opts); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(progress, "bench: %s, %s mode, %d messages to %d users, concurrency %d\n", o.store, o.mode, o.n, nUsers, o.c)
	warm := map[string]bool{}
	if o.mode == "steady" {
		ids, _, rejected, err := sendOverAPI(ctx, api, users, len(users), o.c)
		if err != nil || rejected > 0 {
			return nil, fmt.Errorf("warm-up: %d rejected: %v", rejected, err)
		}
		if err := waitCount(ctx, func() int64 { return hooks.deliv.Load() }, int64(len(ids)), o.timeout); err != nil {
			return nil, fmt.Errorf("warm-up deliveries: %w", err)
		}
		for _, id := range ids {
			warm[id] = true
		}
	}
	baseAcked, baseDeliv := hooks.acked.Load(), hooks.deliv.Load()

	// Outbound.
	stopProgress := startProgress(progress, o.progress, func() string {
		return fmt.Sprintf("bench: acked %d delivered %d of %d, inbound %d",
			hooks.acked.Load()-baseAcked, hooks.deliv.Load()-baseDeliv, o.n, hooks.in.Load())
	})
	defer stopProgress()
	start := time.Now()
	ids, sentAt, rejected, err := sendOverAPI(ctx, api, users, o.n, o.c)
	if err != nil {
		return nil, err
	}
	acceptDur := time.Since(start)
	waitErr := waitCount(ctx, func() int64 { return hooks.deliv.Load() - baseDeliv }, int64(len(ids)), o.timeout)

	res := &benchResult{Store: o.store, Mode: o.mode, Messages: o.n, Users: nUsers, Concurrency: o.c, Inbound: o.inbound, Rejected: rejected}
	res.AcceptedPerS = rate(len(ids), acceptDur)
	var lastAck, lastDeliv time.Time
	var e2e []time.Duration
	for _, id := range ids {
		if t, ok := hooks.firstStatus(id, "sent", "delivered", "read"); ok && t.After(lastAck) {
			lastAck = t
		}
		if t, ok := hooks.firstStatus(id, "delivered"); ok {
			lastDeliv = later(lastDeliv, t)
			e2e = append(e2e, t.Sub(sentAt[id]))
		}
	}
	if !lastAck.IsZero() {
		res.AckedPerS = rate(len(ids), lastAck.Sub(start))
	}
	if !lastDeliv.IsZero() {
		res.DeliveredPerS = rate(len(e2e), lastDeliv.Sub(start))
	}
	res.AcceptP50, res.AcceptP99 = percentiles(sentAtLatencies(sentAt, api))
	res.E2EP50, res.E2EP99 = percentiles(e2e)
	if waitErr != nil {
		fmt.Fprintf(progress, "bench: outbound: %v\n", waitErr)
	}

	// Inbound: the users write to the business, concurrently.
	inIDs, inDur, err := sendInbound(ctx, users[:min(len(users), max(o.users, 1))], client.WAID(), o.inbound, o.c, hooks, o.timeout)
	if err != nil {
		fmt.Fprintf(progress, "bench: inbound: %v\n", err)
	}
	if o.inbound > 0 && inDur > 0 {
		res.InboundPerS = rate(o.inbound, inDur)
	}

	// Lost and duplicated, from the phones' and the receiver's side.
	gotByPhones := map[string]bool{}
	for _, u := range users {
		for _, m := range u.Received() {
			gotByPhones[m.ID] = true
		}
		res.Duplicated += u.Duplicates()
	}
	for _, id := range ids {
		if !gotByPhones[id] {
			res.Lost++
		}
	}
	hooks.mu.Lock()
	for _, id := range inIDs {
		if _, ok := hooks.inbound[id]; !ok {
			res.Lost++
		}
	}
	res.Duplicated += hooks.dups
	hooks.mu.Unlock()
	stopProgress()
	res.PeakRSSMB = peakRSSMB()
	res.ElapsedS = round2(time.Since(began).Seconds())
	return res, nil
}

// apiClient drives the /v1 API as an integration would.
type apiClient struct {
	base  string
	hc    *http.Client
	token string

	mu      sync.Mutex
	latency map[string]time.Duration // message id → accept latency
}

func (a *apiClient) login(ctx context.Context, user, pass, newPass string) error {
	body, _ := json.Marshal(map[string]string{"new_password": newPass})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/users/login", bytes.NewReader(body))
	req.SetBasicAuth(user, pass)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var out struct {
		Users []struct{ Token string } `json:"users"`
	}
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || len(out.Users) == 0 {
		return fmt.Errorf("login: %d %s", res.StatusCode, raw)
	}
	a.token = out.Users[0].Token
	return nil
}

// send posts one text and returns the message id.
func (a *apiClient) send(ctx context.Context, to, text string) (string, error) {
	body, _ := json.Marshal(map[string]any{"to": to, "type": "text", "text": map[string]string{"body": text}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/v1/messages", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out struct {
		Messages []struct{ ID string } `json:"messages"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(raw, &out) != nil || len(out.Messages) == 0 {
		return "", fmt.Errorf("POST /v1/messages: %d %s", res.StatusCode, bytes.TrimSpace(raw))
	}
	return out.Messages[0].ID, nil
}

// sendOverAPI sends n texts round-robin to users with c requests in
// flight; it returns the accepted ids, when each request began, and how
// many were refused.
func sendOverAPI(ctx context.Context, a *apiClient, users []*waenttest.User, n, c int) ([]string, map[string]time.Time, int, error) {
	var (
		mu       sync.Mutex
		ids      = make([]string, 0, n)
		sentAt   = make(map[string]time.Time, n)
		rejected int
		firstErr error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	if a.latency == nil {
		a.latency = map[string]time.Duration{}
	}
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				id, err := a.send(ctx, users[k%len(users)].Phone(), "bench "+strconv.Itoa(k))
				d := time.Since(t0)
				mu.Lock()
				if err != nil {
					rejected++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					ids = append(ids, id)
					sentAt[id] = t0
					a.mu.Lock()
					a.latency[id] = d
					a.mu.Unlock()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(ids) == 0 && firstErr != nil {
		return nil, nil, rejected, firstErr
	}
	return ids, sentAt, rejected, ctx.Err()
}

// sentAtLatencies are the accept latencies of the measured sends.
func sentAtLatencies(sentAt map[string]time.Time, a *apiClient) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]time.Duration, 0, len(sentAt))
	for id := range sentAt {
		out = append(out, a.latency[id])
	}
	return out
}

// sendInbound has the users send n texts to the business, c at a time,
// and waits for the webhook to receive them all; the duration runs to the
// last arrival.
func sendInbound(ctx context.Context, users []*waenttest.User, business string, n, c int, hooks *hookReceiver, timeout time.Duration) ([]string, time.Duration, error) {
	if n == 0 {
		return nil, 0, nil
	}
	var (
		mu   sync.Mutex
		ids  []string
		next atomic.Int64
		wg   sync.WaitGroup
		errs []error
	)
	start := time.Now()
	base := hooks.in.Load()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || ctx.Err() != nil {
					return
				}
				id, err := users[k%len(users)].SendText(ctx, business, "reply "+strconv.Itoa(k))
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids = append(ids, id)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	err := waitCount(ctx, func() int64 { return hooks.in.Load() - base }, int64(len(ids)), timeout)
	hooks.mu.Lock()
	var last time.Time
	for _, id := range ids {
		last = later(last, hooks.inbound[id])
	}
	hooks.mu.Unlock()
	if len(errs) > 0 {
		err = errors.Join(append([]error{fmt.Errorf("%d sends failed", len(errs))}, errs[0], err)...)
	}
	if last.IsZero() {
		return ids, 0, err
	}
	return ids, last.Sub(start), err
}

// waitCount polls until get reaches want, ctx ends or timeout passes.
func waitCount(ctx context.Context, get func() int64, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for get() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d after %s", get(), want, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// startProgress prints line() every interval until the returned stop is
// called (stop may be called more than once).
func startProgress(w io.Writer, every time.Duration, line func() string) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintln(w, line())
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(done) })
		<-finished
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round2(float64(n) / d.Seconds())
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// percentiles are the p50 and p99 in milliseconds (nearest rank).
func percentiles(ds []time.Duration) (p50, p99 float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.5) - 1
		i = min(max(i, 0), len(ds)-1)
		return round2(float64(ds[i]) / float64(time.Millisecond))
	}
	return at(0.50), at(0.99)
}

// peakRSSMB is the process's high-water resident set (VmHWM), 0 where
// /proc is not available.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			if err == nil {
				return round2(kb / 1024)
			}
		}
	}
	return 0
}
