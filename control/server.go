package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// maxRequestBytes bounds one request line. Requests are a command and a
// path, so this only stops a misbehaving client from growing the buffer.
const maxRequestBytes = 64 << 10

// connectionTimeout bounds one client connection, from accept to the end
// of the reply. A refresh or a status with a slow ping finishes well
// inside it.
const connectionTimeout = 30 * time.Second

// Handler carries out requests for the mount a Server belongs to. The
// server may call it from several goroutines at once.
type Handler interface {
	Status(ctx context.Context) (*Status, error)
	Refresh(ctx context.Context, path string) (*RefreshResult, error)
}

// Server is a daemon's control socket.
type Server struct {
	path     string
	listener *net.UnixListener
	handler  Handler
	logger   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	// wg counts the accept loop and the connections being served.
	wg sync.WaitGroup
}

// Listen creates the socket of the process pid in dir, mode 0600, and
// starts serving it with handler. A socket left at the same path by an
// earlier process with the same id is replaced. logger receives one line
// per failed request, and may be nil.
func Listen(dir string, pid int, handler Handler, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := prepareDir(dir); err != nil {
		return nil, err
	}

	path := SocketPath(dir, pid)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove the old control socket: %w", err)
	}
	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on the control socket: %w", err)
	}
	// The directory is already private, so the socket's mode only matters
	// when someone loosens the directory's.
	if err := os.Chmod(path, 0o600); err != nil {
		listener.Close()
		return nil, fmt.Errorf("set mode 0600 on the control socket: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{path: path, listener: listener, handler: handler, logger: logger, ctx: ctx, cancel: cancel}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops accepting connections, cancels the requests in progress,
// waits for them and removes the socket.
func (s *Server) Close() error {
	s.cancel()
	// UnixListener.Close removes the socket file because Listen created it.
	err := s.listener.Close()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.listener.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.logger.Warn("control socket stopped accepting connections", "socket", s.path, "err", err)
			}
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(conn)
		}()
	}
}

// serve reads one request from conn, runs it and writes the reply.
func (s *Server) serve(conn *net.UnixConn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(connectionTimeout))
	ctx, cancel := context.WithTimeout(s.ctx, connectionTimeout)
	defer cancel()

	var req Request
	reader := bufio.NewReaderSize(conn, 4096)
	line, err := readLine(reader)
	if err == nil {
		err = json.Unmarshal(line, &req)
	}

	var resp Response
	if err != nil {
		resp.Error = fmt.Sprintf("invalid request: %v", err)
	} else {
		resp = s.handle(ctx, req)
	}
	if resp.Error != "" {
		s.logger.Warn("control request failed", "command", req.Command, "path", req.Path, "err", resp.Error)
	}

	data, err := json.Marshal(resp)
	if err != nil {
		s.logger.Error("encoding the control reply failed", "command", req.Command, "err", err)
		return
	}
	if _, err := conn.Write(append(data, '\n')); err != nil {
		s.logger.Debug("sending the control reply failed", "command", req.Command, "err", err)
	}
}

func (s *Server) handle(ctx context.Context, req Request) Response {
	switch req.Command {
	case CommandStatus:
		status, err := s.handler.Status(ctx)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Status: status}
	case CommandRefresh:
		result, err := s.handler.Refresh(ctx, req.Path)
		if err != nil {
			return Response{Error: err.Error()}
		}
		return Response{Refresh: result}
	default:
		return Response{Error: fmt.Sprintf("unknown command %q: expected %s or %s",
			req.Command, CommandStatus, CommandRefresh)}
	}
}

// readLine returns one line without its newline, rejecting lines longer
// than maxRequestBytes. A last line without a newline is accepted.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxRequestBytes {
			return nil, fmt.Errorf("request longer than %d bytes", maxRequestBytes)
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case len(line) > 0 && errors.Is(err, io.EOF):
			return line, nil
		default:
			return nil, err
		}
	}
}
