//go:build !linux

package serve

import "github.com/pkg/sftp"

// StatVFS rejects statvfs@openssh.com requests outside Linux.
//
// TODO: use statfs(2) on the BSDs and macOS, whose Statfs_t fields differ.
func (h *handler) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	return nil, sftp.ErrSSHFxOpUnsupported
}
