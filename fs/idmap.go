package fs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// IDMap is a two-way table between local and remote user or group ids, read
// from an sshfs uidfile or gidfile for idmap=file. The zero value maps
// nothing.
type IDMap struct {
	toLocal  map[uint32]uint32 // remote id to local id
	toRemote map[uint32]uint32 // local id to remote id
}

// Local returns the local id shown for the remote id.
func (m *IDMap) Local(remoteID uint32) (uint32, bool) {
	id, ok := m.toLocal[remoteID]
	return id, ok
}

// Remote returns the remote id sent for the local id.
func (m *IDMap) Remote(localID uint32) (uint32, bool) {
	id, ok := m.toRemote[localID]
	return id, ok
}

// Len returns the number of remote ids in the map.
func (m *IDMap) Len() int { return len(m.toLocal) }

func (m *IDMap) add(localID, remoteID uint32) {
	if m.toLocal == nil {
		m.toLocal = map[uint32]uint32{}
		m.toRemote = map[uint32]uint32{}
	}
	m.toLocal[remoteID] = localID
	m.toRemote[localID] = remoteID
}

// IDKind selects whether an id file lists users or groups.
type IDKind int

const (
	UserIDs  IDKind = iota // uidfile: local user names
	GroupIDs               // gidfile: local group names
)

func (k IDKind) String() string {
	if k == GroupIDs {
		return "gid"
	}
	return "uid"
}

// IDLookup returns the local id of a user or group name, or found false
// when the name does not exist on this machine.
type IDLookup func(name string) (id uint32, found bool, err error)

// LookupLocalID returns the IDLookup of kind that reads the local user or
// group database through os/user.
func LookupLocalID(kind IDKind) IDLookup {
	return func(name string) (uint32, bool, error) {
		var idText string
		var err error
		if kind == GroupIDs {
			var g *user.Group
			if g, err = user.LookupGroup(name); err == nil {
				idText = g.Gid
			}
		} else {
			var u *user.User
			if u, err = user.Lookup(name); err == nil {
				idText = u.Uid
			}
		}
		var unknownUser user.UnknownUserError
		var unknownGroup user.UnknownGroupError
		if errors.As(err, &unknownUser) || errors.As(err, &unknownGroup) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		id, err := strconv.ParseUint(idText, 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%s %q has the non-numeric id %q", kind, name, idText)
		}
		return uint32(id), true, nil
	}
}

// ReadIDMapFile reads an sshfs uidfile or gidfile. Like sshfs 3.7 it
// rejects a file that the current user does not own or that others may
// write, because the file decides who owns what on the server. Names
// without a local user or group are skipped and returned in skipped.
func ReadIDMapFile(path string, kind IDKind) (m *IDMap, skipped []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open %sfile: %w", kind, err)
	}
	defer f.Close()

	info, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("cannot stat %sfile: %w", kind, err)
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Getuid()) {
		return nil, nil, fmt.Errorf("%sfile %q is owned by uid %d, not by the mounting user (uid %d): chown it",
			kind, path, st.Uid, os.Getuid())
	}
	if info.Mode().Perm()&0o022 != 0 {
		return nil, nil, fmt.Errorf("%sfile %q is writable by other users: chmod go-w %s", kind, path, path)
	}
	return ParseIDMap(f, path, LookupLocalID(kind))
}

// ParseIDMap parses the sshfs id file format. Each line is "name:id", where
// name is a local user or group and id the remote number it stands for, or
// a passwd(5) or group(5) line, whose first field is the name and third
// field the id. Empty lines are skipped. A later line for the same id wins.
// source names the input in errors.
func ParseIDMap(r io.Reader, source string, lookup IDLookup) (m *IDMap, skipped []string, err error) {
	m = &IDMap{}
	scanner := bufio.NewScanner(r)
	for lineNumber := 1; scanner.Scan(); lineNumber++ {
		line := strings.TrimSuffix(scanner.Text(), "\r")
		if line == "" {
			continue
		}
		name, remoteID, err := parseIDMapLine(line)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %v", source, lineNumber, err)
		}
		localID, found, err := lookup(name)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: cannot look up %q: %w", source, lineNumber, name, err)
		}
		if !found {
			skipped = append(skipped, name)
			continue
		}
		m.add(localID, remoteID)
	}
	if err := scanner.Err(); err != nil {
		return nil, nil, fmt.Errorf("cannot read %s: %w", source, err)
	}
	return m, skipped, nil
}

// parseIDMapLine splits one non-empty line into the local name and the
// remote id.
func parseIDMapLine(line string) (string, uint32, error) {
	fields := strings.Split(line, ":")
	var name, idText string
	switch {
	case len(fields) == 2:
		name, idText = fields[0], fields[1]
	case len(fields) >= 3:
		name, idText = fields[0], fields[2]
	default:
		return "", 0, fmt.Errorf("invalid line %q: expected name:id or a passwd or group line", line)
	}
	if name == "" {
		return "", 0, fmt.Errorf("invalid line %q: the name is empty", line)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(idText), 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("invalid id %q in line %q: expected a number from 0 to 4294967295", idText, line)
	}
	return name, uint32(id), nil
}
