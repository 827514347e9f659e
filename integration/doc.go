// Package integration tests the built gosshfs binary end to end: it starts
// real OpenSSH sshd instances on 127.0.0.1, mounts them with bin/gosshfs as a
// user would, and checks every result on the server side as well as through
// the mount. The tests need root, /dev/fuse, fusermount3 and OpenSSH's sshd
// and sftp-server; `make test` installs them on Debian.
package integration
