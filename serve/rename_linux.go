package serve

import (
	"errors"

	"golang.org/x/sys/unix"
)

// rename renames without replacing an existing target, as SSH_FXP_RENAME
// requires in SFTP version 3. renameat2 with RENAME_NOREPLACE makes the check
// and the rename one step.
func (h *handler) rename(oldPath, newPath string) error {
	err := h.atParent(oldPath, func(oldDir int, oldName string) error {
		return h.atParent(newPath, func(newDir int, newName string) error {
			return unix.Renameat2(oldDir, oldName, newDir, newName, unix.RENAME_NOREPLACE)
		})
	})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// The file system or kernel lacks RENAME_NOREPLACE.
		err = h.renameIfAbsent(oldPath, newPath)
	}
	return h.fail("rename", oldPath+" "+newPath, err)
}
