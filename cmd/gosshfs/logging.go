package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"strings"
	"sync"
)

// Values of --log-format.
const (
	logFormatText = "text"
	logFormatJSON = "json"
)

// checkLogFormat returns an error unless format is a --log-format value.
func checkLogFormat(format string) error {
	if format != logFormatText && format != logFormatJSON {
		return fmt.Errorf("invalid value %q for --log-format: expected %s or %s", format, logFormatText, logFormatJSON)
	}
	return nil
}

// newLogger returns a text logger on w at level, or at debug level when
// debug is set.
func newLogger(w io.Writer, debug bool, level slog.Level) *slog.Logger {
	return newFormattedLogger(w, logFormatText, debug, level)
}

// newFormattedLogger returns a logger on w that writes format, text or
// json, at level, or at debug level when debug is set.
func newFormattedLogger(w io.Writer, format string, debug bool, level slog.Level) *slog.Logger {
	return slog.New(newHandler(w, format, handlerOptions(debug, level)))
}

func handlerOptions(debug bool, level slog.Level) *slog.HandlerOptions {
	if debug {
		level = slog.LevelDebug
	}
	return &slog.HandlerOptions{Level: level}
}

func newHandler(w io.Writer, format string, options *slog.HandlerOptions) slog.Handler {
	if format == logFormatJSON {
		return slog.NewJSONHandler(w, options)
	}
	return slog.NewTextHandler(w, options)
}

// openLogFile opens path for appending, creating it readable only by its
// owner because logs name hosts, users and paths.
func openLogFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open log file: %w", err)
	}
	return f, nil
}

// syslogTag is the program name in every syslog message.
const syslogTag = "gosshfs"

// openSyslog connects to the local syslog daemon through /dev/log (or the
// other sockets log/syslog tries). It fails when none of them exists, as
// in containers without a syslog daemon or journald.
func openSyslog() (*syslog.Writer, error) {
	w, err := syslog.New(syslog.LOG_DAEMON|syslog.LOG_INFO, syslogTag)
	if err != nil {
		return nil, fmt.Errorf("connect to the system log: %w", err)
	}
	return w, nil
}

// newSystemLogger returns the logger of a detached daemon without a log
// file: the system log at info level, or, when no syslog socket exists,
// warnings on standard error, which is the terminal until the daemon
// detaches and /dev/null afterwards. The returned function closes the
// syslog connection.
func newSystemLogger(format string, debug bool) (*slog.Logger, func()) {
	writer, err := openSyslog()
	if err != nil {
		return newFormattedLogger(os.Stderr, format, debug, slog.LevelWarn), func() {}
	}
	return newSyslogLogger(writer, format, debug, slog.LevelInfo), func() { writer.Close() }
}

// newSyslogLogger returns a logger that sends each record to w as one
// message, formatted as text or json, at the syslog priority that matches
// the record's level.
func newSyslogLogger(w *syslog.Writer, format string, debug bool, level slog.Level) *slog.Logger {
	options := handlerOptions(debug, level)
	// The syslog daemon stamps each message with the time itself.
	options.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	sink := &syslogSink{writer: w}
	return slog.New(&syslogHandler{inner: newHandler(&sink.buf, format, options), sink: sink})
}

// syslogSink is the buffer and syslog connection that a syslogHandler and
// the handlers derived from it share.
type syslogSink struct {
	mu     sync.Mutex
	buf    bytes.Buffer // the record being formatted, guarded by mu
	writer *syslog.Writer
}

// syslogHandler formats a record with inner into the sink's buffer and
// sends the result to syslog.
type syslogHandler struct {
	inner slog.Handler
	sink  *syslogSink
}

func (h *syslogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *syslogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()

	h.sink.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	message := strings.TrimSuffix(h.sink.buf.String(), "\n")

	switch {
	case r.Level >= slog.LevelError:
		return h.sink.writer.Err(message)
	case r.Level >= slog.LevelWarn:
		return h.sink.writer.Warning(message)
	case r.Level >= slog.LevelInfo:
		return h.sink.writer.Info(message)
	default:
		return h.sink.writer.Debug(message)
	}
}

func (h *syslogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &syslogHandler{inner: h.inner.WithAttrs(attrs), sink: h.sink}
}

func (h *syslogHandler) WithGroup(name string) slog.Handler {
	return &syslogHandler{inner: h.inner.WithGroup(name), sink: h.sink}
}
