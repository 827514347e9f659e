package remote

import (
	"context"
	"errors"

	"golang.org/x/crypto/ssh"
)

// Dialer opens authenticated SSH connections to one server. It resolves the
// ssh_config once and keeps the credentials it unlocked (key passphrases,
// password) so that redials never prompt again.
type Dialer struct{}

// NewDialer applies the ssh_config file to o, loads the keys and prompts for
// any passphrase or password it needs.
func NewDialer(o Options) (*Dialer, error) { return nil, errors.New("remote: not implemented yet") }

// Dial connects, checks the host key, authenticates and starts keepalives.
func (d *Dialer) Dial(ctx context.Context) (*ssh.Client, error) {
	return nil, errors.New("remote: not implemented yet")
}
