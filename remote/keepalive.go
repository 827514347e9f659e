package remote

import (
	"log/slog"
	"time"

	"golang.org/x/crypto/ssh"
)

// keepaliveRequest is the global request OpenSSH clients send as a
// keepalive. Servers reply to it with success or failure, and either reply
// shows that the server is alive.
const keepaliveRequest = "keepalive@openssh.com"

// startKeepalive sends a keepalive request every interval and closes client
// when countMax intervals in a row pass without a reply, so that every
// pending request on it fails instead of hanging. One request is in flight
// at a time, so a dead server is noticed between countMax and countMax+1
// intervals after its last reply. The goroutine ends when client closes.
func startKeepalive(client *ssh.Client, interval time.Duration, countMax int, logger *slog.Logger, target string) {
	closed := make(chan struct{})
	go func() {
		client.Wait()
		close(closed)
	}()
	go runKeepalive(client, interval, countMax, logger, target, closed)
}

func runKeepalive(client *ssh.Client, interval time.Duration, countMax int, logger *slog.Logger, target string, closed <-chan struct{}) {
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-closed:
			return
		case <-timer.C:
		}

		replied := make(chan error, 1)
		go func() {
			_, _, err := client.SendRequest(keepaliveRequest, true, nil)
			replied <- err
		}()

		missed := 0
		for waiting := true; waiting; {
			timer.Reset(interval)
			select {
			case <-closed:
				return
			case err := <-replied:
				// An error means that the connection is closing, which the
				// closed channel reports next, or a malformed reply, which
				// still shows that the server is alive.
				if err != nil {
					logger.Debug("keepalive request failed", "target", target, "err", err)
				}
				waiting = false
			case <-timer.C:
				missed++
				if missed >= countMax {
					logger.Warn("server not responding, closing the SSH connection",
						"target", target, "interval", interval, "missed", missed)
					client.Close()
					return
				}
			}
		}
		timer.Reset(interval)
	}
}
