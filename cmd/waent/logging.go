package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/natefinch/lumberjack.v2"
)

// logFlags are the logging options every long-running command shares.
type logFlags struct {
	level, format, file string
	maxSizeMB, backups  int
}

// register adds the logging flags; defFile is where logs go by default
// ("-" for stderr).
func (l *logFlags) register(fs *flag.FlagSet, defFile, defLevel, defFormat string) {
	fs.StringVar(&l.level, "log-level", defLevel, "log level: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", defFormat, "log format: json or text")
	fs.StringVar(&l.file, "log-file", defFile, `log file, rotated by size ("-" for stderr)`)
	fs.IntVar(&l.maxSizeMB, "log-max-size", 100, "rotate the log file when it reaches this many megabytes")
	fs.IntVar(&l.backups, "log-backups", 30, "rotated log files to keep, each gzip-compressed")
}

// open builds the logger. The returned closer flushes and closes the log
// file; call it after everything that logs has stopped.
func (l *logFlags) open(stderr io.Writer) (*slog.Logger, io.Closer, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(l.level)); err != nil {
		return nil, nil, usagef("--log-level %q: want debug, info, warn or error", l.level)
	}
	var w io.Writer = stderr
	var closer io.Closer = io.NopCloser(nil)
	if l.file != "" && l.file != "-" {
		if l.maxSizeMB < 1 {
			return nil, nil, usagef("--log-max-size must be at least 1 (megabytes)")
		}
		if l.backups < 0 {
			return nil, nil, usagef("--log-backups must not be negative")
		}
		if err := os.MkdirAll(filepath.Dir(l.file), 0o700); err != nil {
			return nil, nil, fmt.Errorf("log directory: %w", err)
		}
		// Rotation by size with numbered backups, compressed, as the
		// coreapp's log directory looked; lumberjack compresses each
		// backup as it rotates out, so only the live file is plain text.
		lj := &lumberjack.Logger{Filename: l.file, MaxSize: l.maxSizeMB, MaxBackups: l.backups, Compress: true}
		w, closer = lj, lj
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(l.format) {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, nil, usagef("--log-format %q: want json or text", l.format)
	}
	return slog.New(h), closer, nil
}
