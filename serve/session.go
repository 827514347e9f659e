package serve

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// handleConn runs the SSH handshake on conn and serves its session
// channels until the client disconnects or shutdown closes conn.
func (s *server) handleConn(conn net.Conn) {
	defer conn.Close()
	remote := conn.RemoteAddr().String()

	if err := conn.SetDeadline(time.Now().Add(handshakeTimeout)); err != nil {
		s.log.Warn("set handshake deadline failed", "remote", remote, "err", err)
		return
	}
	sshConn, channels, requests, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		var authErr *ssh.ServerAuthError
		if errors.As(err, &authErr) {
			s.log.Warn("authentication failed", "remote", remote, "err", err)
		} else {
			s.log.Info("SSH handshake failed", "remote", remote, "err", err)
		}
		return
	}
	defer sshConn.Close()
	if err := conn.SetDeadline(time.Time{}); err != nil {
		s.log.Warn("clear handshake deadline failed", "remote", remote, "err", err)
		return
	}

	log := s.log.With("remote", remote, "user", sshConn.User(),
		"key", sshConn.Permissions.Extensions[fingerprintExtension])
	log.Info("connection accepted")
	go ssh.DiscardRequests(requests)

	var sessions sync.WaitGroup
	for newChannel := range channels {
		if newChannel.ChannelType() != "session" {
			log.Debug("channel rejected", "type", newChannel.ChannelType())
			newChannel.Reject(ssh.UnknownChannelType, "only session channels are supported")
			continue
		}
		channel, channelRequests, err := newChannel.Accept()
		if err != nil {
			log.Warn("accept session channel failed", "err", err)
			continue
		}
		sessions.Go(func() { s.handleSession(channel, channelRequests, log) })
	}
	sessions.Wait()
	log.Info("connection closed")
}

// handleSession starts the SFTP server when the client requests the "sftp"
// subsystem and rejects every other request (exec, shell, pty-req, env, a
// second subsystem).
func (s *server) handleSession(channel ssh.Channel, requests <-chan *ssh.Request, log *slog.Logger) {
	defer channel.Close()

	for req := range requests {
		ok := req.Type == "subsystem" && subsystemName(req.Payload) == "sftp"
		if req.WantReply {
			if err := req.Reply(ok, nil); err != nil {
				log.Debug("reply to session request failed", "type", req.Type, "err", err)
				return
			}
		}
		if !ok {
			log.Debug("session request rejected", "type", req.Type)
			continue
		}

		go rejectRequests(requests)
		s.serveSFTP(channel, log)
		return
	}
}

// serveSFTP serves SFTP requests on channel until the client closes it or
// the connection ends.
func (s *server) serveSFTP(channel ssh.Channel, log *slog.Logger) {
	modes := newModeRecorder(channel)
	h := &handler{root: s.root, names: s.names, modes: modes, log: log}
	stream := struct {
		io.Reader
		io.WriteCloser
	}{modes, channel}

	server := sftp.NewRequestServer(stream, h.handlers())
	err := server.Serve()
	if err != nil && !errors.Is(err, io.EOF) {
		log.Warn("SFTP session ended with an error", "err", err)
	}

	// OpenSSH's sshd reports the subsystem's exit status. Clients do not
	// require it, so a failure to send it is not logged. handleSession
	// closes the channel afterwards.
	exitStatus := struct{ Status uint32 }{0}
	channel.SendRequest("exit-status", false, ssh.Marshal(&exitStatus))
}

// subsystemName decodes the payload of a "subsystem" request (RFC 4254,
// section 6.5), returning "" when it is malformed.
func subsystemName(payload []byte) string {
	var msg struct{ Name string }
	if err := ssh.Unmarshal(payload, &msg); err != nil {
		return ""
	}
	return msg.Name
}

// rejectRequests replies false to every remaining request on a session that
// already runs its subsystem.
func rejectRequests(requests <-chan *ssh.Request) {
	for req := range requests {
		if req.WantReply {
			req.Reply(false, nil)
		}
	}
}
