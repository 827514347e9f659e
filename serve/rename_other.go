//go:build !linux

package serve

// rename renames without replacing an existing target, as SSH_FXP_RENAME
// requires in SFTP version 3.
func (h *handler) rename(oldPath, newPath string) error {
	return h.fail("rename", oldPath+" "+newPath, h.renameIfAbsent(oldPath, newPath))
}
