package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver for the PostgreSQL check
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/waent/waent/conn"
)

// The doctor checks what the coreapp's WADebug tool checked: that the
// WhatsApp hosts resolve and accept TCP on the chat ports, that the
// registration service answers HTTPS, which proxies are in effect, that
// the database answers and is a supported version, and that the data,
// media and log directories have room.

// checkStatus is a check's outcome; only fail makes the exit status
// non-zero.
type checkStatus string

const (
	checkPass checkStatus = "PASS"
	checkFail checkStatus = "FAIL"
	checkWarn checkStatus = "WARN"
	checkInfo checkStatus = "INFO"
)

type checkResult struct {
	Name   string
	Status checkStatus
	Detail string
}

// doctorEnv is what the checks reach the outside through; tests point it
// at loopback servers and a fake environment.
type doctorEnv struct {
	getenv  func(string) string
	http    *http.Client // nil: one honouring the proxy variables of getenv
	timeout time.Duration
	minFree uint64 // bytes
	// hosts are checked for DNS and TCP; ports are the chat ports.
	hosts []string
	ports []int
}

// defaultDoctorHosts are the WhatsApp hosts the coreapp reaches: chat,
// registration and media.
const defaultDoctorHosts = "g.whatsapp.net,v.whatsapp.net,mmg.whatsapp.net"

// doctor reports failed when a check failed; err is for bad flags.
func doctor(ctx context.Context, args []string, stdout, stderr io.Writer) (failed bool, err error) {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serverConfig
	c.register(fs)
	hosts := fs.String("hosts", defaultDoctorHosts, "hosts to resolve and reach on the chat ports, besides --chat-hosts")
	minFreeMB := fs.Int("min-free-mb", 10, "free space each of the data, media and log directories needs, in megabytes")
	timeout := fs.Duration("timeout", 5*time.Second, "time limit of each network check")
	if err := parseFlags(fs, args, "config"); err != nil {
		return false, err
	}
	c.resolve()
	if c.registrationURL == "" {
		c.registrationURL = "https://v.whatsapp.net/"
	}
	ports, err := parsePorts(c.chatPorts)
	if err != nil {
		return false, usagef("--chat-ports: %v", err)
	}
	env := doctorEnv{getenv: os.Getenv, timeout: *timeout, minFree: uint64(max(*minFreeMB, 0)) << 20, ports: ports}
	for _, h := range append(splitList(*hosts), splitList(c.chatHosts)...) {
		if !containsFold(env.hosts, h) {
			env.hosts = append(env.hosts, h)
		}
	}
	results := runDoctor(ctx, &c, env)
	return printChecks(stdout, results), nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// runDoctor runs every check in table order.
func runDoctor(ctx context.Context, c *serverConfig, env doctorEnv) []checkResult {
	if env.getenv == nil {
		env.getenv = os.Getenv
	}
	if env.timeout <= 0 {
		env.timeout = 5 * time.Second
	}
	proxyFor := conn.ProxyFromEnv(env.getenv)
	var out []checkResult
	out = append(out, proxyChecks(env.getenv)...)
	for _, h := range env.hosts {
		out = append(out, dnsCheck(ctx, h, env, proxyFor))
		for _, p := range env.ports {
			out = append(out, tcpCheck(ctx, h, p, env, proxyFor))
		}
	}
	out = append(out, httpsCheck(ctx, c.registrationURL, env))
	out = append(out, dbCheck(ctx, c.dsn, env.timeout))
	dirs := []struct{ what, dir string }{{"data", c.dataDir}, {"media", c.mediaDir}, {"log", c.logDir()}}
	for _, d := range dirs {
		if d.dir == "" {
			out = append(out, checkResult{"disk " + d.what, checkInfo, "logging to stderr: no directory"})
			continue
		}
		out = append(out, diskCheck(d.what, d.dir, env.minFree))
	}
	return out
}

// printChecks writes the table and reports whether anything failed.
func printChecks(w io.Writer, results []checkResult) (failed bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tRESULT\tDETAIL")
	n := 0
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Status, r.Detail)
		if r.Status == checkFail {
			n++
		}
	}
	tw.Flush()
	if n > 0 {
		fmt.Fprintf(w, "\n%d of %d checks failed\n", n, len(results))
		return true
	}
	fmt.Fprintf(w, "\nall %d checks passed\n", len(results))
	return false
}

// proxyVars are the variables the chat dialer and the HTTPS clients read.
var proxyVars = [...]string{"https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy", "no_proxy", "NO_PROXY"}

func proxyChecks(getenv func(string) string) []checkResult {
	var out []checkResult
	for _, name := range proxyVars {
		v := getenv(name)
		if v == "" {
			continue
		}
		if !strings.Contains(strings.ToLower(name), "no_proxy") {
			v = redactURL(v)
		}
		out = append(out, checkResult{"proxy " + name, checkInfo, v})
	}
	if len(out) == 0 {
		out = append(out, checkResult{"proxy", checkInfo, "no proxy variables set: connections are direct"})
	}
	return out
}

// redactURL hides a proxy password.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

func dnsCheck(ctx context.Context, host string, env doctorEnv, proxyFor func(string) (*url.URL, error)) checkResult {
	name := "dns " + host
	if net.ParseIP(host) != nil {
		return checkResult{name, checkPass, "an IP address: nothing to resolve"}
	}
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		// Behind a proxy the proxy resolves the name, so local DNS
		// failing is expected there.
		if p, _ := proxyFor(net.JoinHostPort(host, "443")); p != nil {
			return checkResult{name, checkWarn, fmt.Sprintf("%v (a proxy is in effect and resolves it)", err)}
		}
		return checkResult{name, checkFail, err.Error()}
	}
	return checkResult{name, checkPass, strings.Join(addrs, ", ")}
}

func tcpCheck(ctx context.Context, host string, port int, env doctorEnv, proxyFor func(string) (*url.URL, error)) checkResult {
	target := net.JoinHostPort(host, strconv.Itoa(port))
	d := conn.Dialer{Hosts: []string{host}, Ports: []int{port}, Timeout: env.timeout, Proxy: proxyFor}
	start := time.Now()
	c, _, err := d.DialContext(ctx)
	via := ""
	if p, _ := proxyFor(target); p != nil {
		via = " via proxy " + redactURL(p.String())
	}
	if err != nil {
		return checkResult{"tcp " + target, checkFail, err.Error() + via}
	}
	c.Close()
	return checkResult{"tcp " + target, checkPass, fmt.Sprintf("connected in %s%s", time.Since(start).Round(time.Millisecond), via)}
}

func httpsCheck(ctx context.Context, rawURL string, env doctorEnv) checkResult {
	name := "https registration"
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return checkResult{name, checkFail, fmt.Sprintf("registration URL %q is not a URL", rawURL)}
	}
	name = "https " + u.Host
	client := env.http
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return conn.ProxyFromEnv(env.getenv)(r.URL.Host) }
		client = &http.Client{Transport: tr}
		defer tr.CloseIdleConnections()
	}
	ctx, cancel := context.WithTimeout(ctx, env.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return checkResult{name, checkFail, err.Error()}
	}
	res, err := client.Do(req)
	if err != nil {
		return checkResult{name, checkFail, err.Error()}
	}
	res.Body.Close()
	// Any answer proves the path and (for https) the certificate: the
	// service's own status for a bare GET does not matter.
	detail := "answered " + res.Status
	if u.Scheme != "https" {
		return checkResult{name, checkWarn, detail + " over plain HTTP (production registration is HTTPS)"}
	}
	return checkResult{name, checkPass, detail}
}

// dbCheck connects without migrating (the doctor changes nothing) and
// checks the server version against what the store supports: PostgreSQL
// 9.5+, MySQL 5.7+, MariaDB 10.2+.
func dbCheck(ctx context.Context, dsn string, timeout time.Duration) checkResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		file, _ := sqliteFile(dsn)
		if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
			dir, err := existingDir(filepath.Dir(file))
			if err != nil {
				return checkResult{"database sqlite", checkFail, err.Error()}
			}
			if err := writable(dir); err != nil {
				return checkResult{"database sqlite", checkFail, fmt.Sprintf("%s does not exist and %s is not writable: %v", file, dir, err)}
			}
			return checkResult{"database sqlite", checkPass, file + " does not exist yet; serve or migrate creates it"}
		}
		db, err := sql.Open(sqliteshim.ShimName, "file:"+file+"?mode=ro")
		if err != nil {
			return checkResult{"database sqlite", checkFail, err.Error()}
		}
		defer db.Close()
		var v string
		if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
			return checkResult{"database sqlite", checkFail, err.Error()}
		}
		return checkResult{"database sqlite", checkPass, file + ", SQLite " + v}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return checkResult{"database postgres", checkFail, err.Error()}
		}
		defer db.Close()
		var num int
		var v string
		if err := db.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int, current_setting('server_version')").Scan(&num, &v); err != nil {
			return checkResult{"database postgres", checkFail, redactURL(dsn) + ": " + err.Error()}
		}
		if num < 90500 {
			return checkResult{"database postgres", checkFail, "PostgreSQL " + v + ": 9.5 or later is required"}
		}
		return checkResult{"database postgres", checkPass, "PostgreSQL " + v}
	case strings.HasPrefix(dsn, "mysql:"):
		cfg, err := mysqlConfig(dsn)
		if err != nil {
			return checkResult{"database mysql", checkFail, err.Error()}
		}
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return checkResult{"database mysql", checkFail, err.Error()}
		}
		db := sql.OpenDB(c)
		defer db.Close()
		var v string
		if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
			return checkResult{"database mysql", checkFail, cfg.Addr + ": " + err.Error()}
		}
		if ok, want := mysqlSupported(v); !ok {
			return checkResult{"database mysql", checkFail, v + ": " + want + " or later is required"}
		}
		return checkResult{"database mysql", checkPass, v}
	}
	return checkResult{"database", checkFail, "unknown DSN scheme: want sqlite:, postgres:// or mysql://"}
}

// mysqlConfig reads both DSN forms sqlstore accepts.
func mysqlConfig(dsn string) (*mysql.Config, error) {
	rest := strings.TrimPrefix(dsn, "mysql:")
	if !strings.HasPrefix(rest, "//") {
		return mysql.ParseDSN(rest)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, err
	}
	cfg := mysql.NewConfig()
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	cfg.Net, cfg.Addr = "tcp", u.Host
	if u.Port() == "" {
		cfg.Addr += ":3306"
	}
	cfg.DBName = strings.TrimPrefix(u.Path, "/")
	return cfg, nil
}

// mysqlSupported checks a VERSION() string: "8.0.36", "5.7.44-log",
// "10.11.6-MariaDB-0+deb12u1".
func mysqlSupported(v string) (ok bool, want string) {
	want, minMajor, minMinor := "MySQL 5.7", 5, 7
	if strings.Contains(strings.ToLower(v), "mariadb") {
		want, minMajor, minMinor = "MariaDB 10.2", 10, 2
	}
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false, want
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false, want
	}
	return major > minMajor || (major == minMajor && minor >= minMinor), want
}

func diskCheck(what, dir string, minFree uint64) checkResult {
	name := "disk " + what
	at, err := existingDir(dir)
	if err != nil {
		return checkResult{name, checkFail, err.Error()}
	}
	free, err := freeBytes(at)
	if err != nil {
		return checkResult{name, checkWarn, fmt.Sprintf("%s: free space unknown: %v", dir, err)}
	}
	detail := fmt.Sprintf("%s: %d MB free", dir, free>>20)
	if at != dir {
		detail = fmt.Sprintf("%s (not created yet; %s): %d MB free", dir, at, free>>20)
	}
	if free < minFree {
		return checkResult{name, checkFail, fmt.Sprintf("%s, %d MB needed", detail, minFree>>20)}
	}
	return checkResult{name, checkPass, detail}
}

// existingDir is dir or its nearest existing ancestor: a directory that
// serve will create has the free space of the one it will be made in.
func existingDir(dir string) (string, error) {
	d := filepath.Clean(dir)
	for {
		fi, err := os.Stat(d)
		if err == nil {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s is not a directory", d)
			}
			return d, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no existing directory above %s", dir)
		}
		d = parent
	}
}

// writable creates and removes a file in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".waent-doctor-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}
