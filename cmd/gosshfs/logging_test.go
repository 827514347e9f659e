package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFormattedLoggerJSON(t *testing.T) {
	var buf bytes.Buffer
	logger := newFormattedLogger(&buf, logFormatJSON, false, slog.LevelInfo)
	logger.Debug("hidden")
	logger.Info("mounted", "mountpoint", "/mnt")

	var record map[string]any
	if err := json.Unmarshal(buf.Bytes(), &record); err != nil {
		t.Fatalf("the JSON logger wrote %q, which is not one JSON object: %v", buf.String(), err)
	}
	if record["msg"] != "mounted" || record["mountpoint"] != "/mnt" || record["level"] != "INFO" {
		t.Errorf("JSON record = %v", record)
	}
}

func TestFormattedLoggerText(t *testing.T) {
	var buf bytes.Buffer
	logger := newFormattedLogger(&buf, logFormatText, true, slog.LevelWarn)
	logger.Debug("lookup", "path", "a")
	if !strings.Contains(buf.String(), "level=DEBUG msg=lookup path=a") {
		t.Errorf("text logger with debug wrote %q, want a debug record", buf.String())
	}
}

func TestCheckLogFormat(t *testing.T) {
	for _, format := range []string{logFormatText, logFormatJSON} {
		if err := checkLogFormat(format); err != nil {
			t.Errorf("checkLogFormat(%q): %v", format, err)
		}
	}
	err := checkLogFormat("xml")
	if err == nil || !strings.Contains(err.Error(), `invalid value "xml" for --log-format`) {
		t.Errorf("checkLogFormat(xml) = %v, want an invalid value error", err)
	}
}

// TestSyslogLoggerPriorities sends records through a syslog.Writer
// connected to a datagram socket of the test in place of /dev/log.
func TestSyslogLoggerPriorities(t *testing.T) {
	dir, err := os.MkdirTemp("", "syslog")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	address := filepath.Join(dir, "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: address, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	writer, err := syslog.Dial("unixgram", address, syslog.LOG_DAEMON|syslog.LOG_INFO, syslogTag)
	if err != nil {
		t.Fatalf("syslog.Dial: %v", err)
	}
	defer writer.Close()
	logger := newSyslogLogger(writer, logFormatText, false, slog.LevelInfo).With("mountpoint", "/mnt")

	logger.Debug("not sent")
	logger.Info("mounted")
	logger.Warn("reconnecting", "err", "timeout")
	logger.Error("failed")

	// The priority is facility*8 + severity: daemon is 3, err 3,
	// warning 4, info 6.
	want := []struct{ priority, text string }{
		{"<30>", "level=INFO msg=mounted mountpoint=/mnt"},
		{"<28>", "level=WARN msg=reconnecting mountpoint=/mnt err=timeout"},
		{"<27>", "level=ERROR msg=failed mountpoint=/mnt"},
	}
	for _, w := range want {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("read a syslog message: %v", err)
		}
		message := string(buf[:n])
		if !strings.HasPrefix(message, w.priority) {
			t.Errorf("syslog message %q does not start with priority %s", message, w.priority)
		}
		if !strings.Contains(message, syslogTag+"[") || !strings.HasSuffix(strings.TrimSpace(message), w.text) {
			t.Errorf("syslog message %q, want the tag %s and the text %q", message, syslogTag, w.text)
		}
		if strings.Contains(message, "time=") {
			t.Errorf("syslog message %q repeats the time, which syslog adds itself", message)
		}
	}
}

func TestLogFormatFlag(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCommand(t, "gosshfs", "h:/", dir, "--log-format", "xml")
	if code != exitUsage || !strings.Contains(stderr, `invalid value "xml" for --log-format`) {
		t.Errorf("--log-format xml: status %d, stderr %q; want a usage error", code, stderr)
	}
}
