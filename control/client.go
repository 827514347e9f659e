package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// maxReplyBytes bounds one reply line read by a client.
const maxReplyBytes = 1 << 20

// Daemon is a control socket found in a socket directory.
type Daemon struct {
	Socket string
	PID    int
}

// List returns the daemons with a socket in dirs, ordered by directory and
// process id. A socket whose process has exited and that no longer accepts
// connections is stale: List removes it and leaves it out. A missing
// directory is skipped.
func List(dirs []string) ([]Daemon, error) {
	var daemons []Daemon
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list control sockets: %w", err)
		}

		var found []Daemon
		for _, entry := range entries {
			pid, ok := socketPID(entry.Name())
			path := filepath.Join(dir, entry.Name())
			if !ok || entry.Type()&os.ModeSocket == 0 || seen[path] {
				continue
			}
			seen[path] = true
			if removeIfStale(path, pid) {
				continue
			}
			found = append(found, Daemon{Socket: path, PID: pid})
		}
		sort.Slice(found, func(i, j int) bool { return found[i].PID < found[j].PID })
		daemons = append(daemons, found...)
	}
	return daemons, nil
}

// removeIfStale removes the socket at path and returns true when process
// pid has exited and nothing accepts connections on the socket.
func removeIfStale(path string, pid int) bool {
	if processExists(pid) {
		return false
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return false
	}
	return os.Remove(path) == nil
}

// processExists reports whether a process with id pid is running,
// including one of another user. A zombie does not count: a killed
// daemon stays one until its parent, often PID 1, reaps it.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state letter follows the command name, which is in parentheses
	// and may itself contain them (proc(5)).
	end := bytes.LastIndexByte(stat, ')')
	return end < 0 || end+2 >= len(stat) || stat[end+2] != 'Z'
}

// Send sends req to the daemon listening on socket and returns its reply.
// A reply with an error is returned as an error.
func Send(ctx context.Context, socket string, req Request) (*Response, error) {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", socket, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}

	data, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode the %s request: %w", req.Command, err)
	}
	if _, err := conn.Write(append(data, '\n')); err != nil {
		return nil, fmt.Errorf("send the %s request to %s: %w", req.Command, socket, err)
	}

	reader := bufio.NewReader(&limitedReader{conn: conn, left: maxReplyBytes})
	line, err := reader.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("read the reply to %s from %s: %w", req.Command, socket, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("invalid reply to %s from %s: %w", req.Command, socket, err)
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return &resp, nil
}

// QueryStatus returns the status of the daemon listening on socket.
func QueryStatus(ctx context.Context, socket string) (*Status, error) {
	resp, err := Send(ctx, socket, Request{Command: CommandStatus})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("invalid reply to %s from %s: no status", CommandStatus, socket)
	}
	return resp.Status, nil
}

// Refresh asks the daemon listening on socket to drop its cached data for
// path, relative to its mount point, and everything below it.
func Refresh(ctx context.Context, socket, path string) (*RefreshResult, error) {
	resp, err := Send(ctx, socket, Request{Command: CommandRefresh, Path: path})
	if err != nil {
		return nil, err
	}
	if resp.Refresh == nil {
		return nil, fmt.Errorf("invalid reply to %s from %s: no result", CommandRefresh, socket)
	}
	return resp.Refresh, nil
}

// limitedReader fails once more than left bytes were read, so that a
// reply without a newline cannot grow the buffer without bound.
type limitedReader struct {
	conn net.Conn
	left int
}

func (r *limitedReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, fmt.Errorf("reply longer than %d bytes", maxReplyBytes)
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.conn.Read(p)
	r.left -= n
	return n, err
}
