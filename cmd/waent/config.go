package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/waent/waent/store/sqlstore"
)

// Configuration comes from three places, strongest first: command-line
// flags, WAENT_<FLAG> environment variables (upper case, dashes as
// underscores: --log-level is WAENT_LOG_LEVEL), and a JSON config file
// whose keys are flag names ({"listen": ":8443", "log-level": "debug"}).
// One mechanism for every flag keeps the three in step: a new flag is
// configurable everywhere without more code.

// envName is the environment variable that sets flag name.
func envName(name string) string {
	return "WAENT_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parseFlags parses args into fs, then fills every flag the command line
// left unset from the environment and then from the config file named by
// the flag configFlag (when configFlag is not "" and fs has it).
func parseFlags(fs *flag.FlagSet, args []string, configFlag string) error {
	// Name the environment variable in every flag's help text.
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(f.Usage, "env ") {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fromEnv := map[string]bool{}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok && v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s=%q: %v", envName(f.Name), v, e)
			}
			fromEnv[f.Name] = true
		}
	})
	if err != nil || configFlag == "" {
		return err
	}
	cf := fs.Lookup(configFlag)
	if cf == nil || cf.Value.String() == "" {
		return nil
	}
	file, err := readConfigFile(cf.Value.String())
	if err != nil {
		return err
	}
	for name, v := range file {
		f := fs.Lookup(name)
		if f == nil || name == configFlag {
			return usagef("config file %s: unknown key %q (keys are flag names)", cf.Value.String(), name)
		}
		if set[name] || fromEnv[name] {
			continue
		}
		if e := fs.Set(name, v); e != nil {
			return usagef("config file %s: %s=%q: %v", cf.Value.String(), name, v, e)
		}
	}
	return nil
}

// readConfigFile reads a JSON object of flag names to values; strings,
// numbers and booleans are accepted, and lists become comma-separated.
func readConfigFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, usagef("config file %s: want a JSON object of flag names to values: %v", path, err)
	}
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string:
			out[k] = v
		case bool:
			out[k] = strconv.FormatBool(v)
		case float64:
			out[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			out[k] = strings.Join(parts, ",")
		default:
			return nil, usagef("config file %s: key %q: want a string, number, boolean or list", path, k)
		}
	}
	return out, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parsePorts parses a comma-separated list of TCP ports.
func parsePorts(s string) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, usagef("port %q: want a number from 1 to 65535", p)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, usagef("no ports given")
	}
	return out, nil
}

// isLoopback reports whether a listen address binds only the loopback
// interface, where plain HTTP exposes nothing to the network.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isLoopbackURL reports whether a URL's host is a loopback name or address.
func isLoopbackURL(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// openStore opens (and migrates) the database, creating the directory of a
// SQLite file first.
func openStore(ctx context.Context, dsn string) (*sqlstore.Store, error) {
	return openStoreConfig(ctx, sqlstore.Config{DSN: dsn})
}

func openStoreConfig(ctx context.Context, cfg sqlstore.Config) (*sqlstore.Store, error) {
	if file, ok := sqliteFile(cfg.DSN); ok {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return sqlstore.Open(ctx, cfg)
}

// sqliteFile is the file a sqlite: DSN names.
func sqliteFile(dsn string) (string, bool) {
	rest, ok := strings.CutPrefix(dsn, "sqlite:")
	if !ok {
		return "", false
	}
	return strings.TrimPrefix(rest, "//"), true
}
