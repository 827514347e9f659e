//go:build !amd64

package fs

// legacyCreatedPathArg returns -1: other architectures have only the *at
// system calls, which createdPathArg covers.
func legacyCreatedPathArg(nr int64, arg func(int) uint64) int { return -1 }
