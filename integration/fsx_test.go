package integration

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fsx tests apply thousands of random operations, in the style of the
// fsx file system exerciser, to the mount and to an in-memory model (one
// file) or a local directory (a tree), and fail at the first difference.
// Each runs once on a healthy link and once with connection cuts at
// random points. The operations come from a seeded generator, so a
// failure repeats with the same seed.

// Sizes of the single-file run: the file stays below fsxMaxFileLen bytes
// and one read or write moves at most fsxMaxOpLen bytes.
const (
	fsxFileOps    = 3000
	fsxMaxFileLen = 512 << 10
	fsxMaxOpLen   = 64 << 10
	fsxTreeOps    = 1500
	// fsxCutEvery is the mean number of operations between two cuts.
	fsxCutEvery = 60
	// fsxOpLimit bounds one operation. A cut makes a redial necessary but
	// never leaves the server unreachable for long.
	fsxOpLimit = faultOpTimeout + faultMargin
	// fsxDefaultSeed is the seed when GOSSHFS_FSX_SEED is not set.
	fsxDefaultSeed = 20240601
)

// fsxSeed returns the seed from GOSSHFS_FSX_SEED, or fsxDefaultSeed.
func fsxSeed(t *testing.T) uint64 {
	t.Helper()
	seed := uint64(fsxDefaultSeed)
	if s := os.Getenv("GOSSHFS_FSX_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("GOSSHFS_FSX_SEED=%q is not an unsigned integer", s)
		}
		seed = v
	}
	t.Logf("seed %d (set GOSSHFS_FSX_SEED to change it)", seed)
	return seed
}

// cutter injects cuts through the proxy at random operations. Half of the
// cuts happen before the operation starts and half after a random pause
// of up to 2 ms, while its requests are likely in flight.
type cutter struct {
	m       *proxiedMount
	rng     *rand.Rand
	enabled bool
	cuts    int
}

// maybeCut decides whether the next operation gets a cut, starts the cut
// and returns a note for the operation log.
func (c *cutter) maybeCut() string {
	if !c.enabled || c.rng.IntN(fsxCutEvery) != 0 {
		return ""
	}
	c.cuts++
	if c.rng.IntN(2) == 0 {
		c.m.proxy.Cut()
		return " [cut before]"
	}
	pause := time.Duration(c.rng.IntN(2000)) * time.Microsecond
	go func() {
		time.Sleep(pause)
		c.m.proxy.Cut()
	}()
	return fmt.Sprintf(" [cut after %v]", pause)
}

// opHistory keeps the descriptions of the latest operations for failure
// messages.
type opHistory struct {
	entries []string
	count   int
}

func (h *opHistory) add(format string, args ...any) {
	h.count++
	h.entries = append(h.entries, fmt.Sprintf("%5d ", h.count)+fmt.Sprintf(format, args...))
	if len(h.entries) > 30 {
		h.entries = h.entries[1:]
	}
}

func (h *opHistory) String() string {
	return "latest operations:\n" + strings.Join(h.entries, "\n")
}

func TestFsxFile(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	for _, withCuts := range []bool{false, true} {
		name := "NoFaults"
		if withCuts {
			name = "Cuts"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runFsxFile(t, withCuts)
		})
	}
}

// fsxFile is the state of one single-file run.
type fsxFile struct {
	t       *testing.T
	m       *proxiedMount
	rng     *rand.Rand
	cut     *cutter
	history opHistory
	f       *os.File
	// helper maps f in another process.
	helper *mmapHelper
	// model is the expected content of the file.
	model []byte
}

func runFsxFile(t *testing.T, withCuts bool) {
	seed := fsxSeed(t)
	remote := scratchDir(t, "remote")
	m := mountViaProxy(t, fullServer, remote)
	m.waitForConnections(t)
	x := &fsxFile{
		t:   t,
		m:   m,
		rng: rand.New(rand.NewPCG(seed, 1)),
		cut: &cutter{m: m, rng: rand.New(rand.NewPCG(seed, 2)), enabled: withCuts},
	}
	x.step("open", func() error {
		var err error
		x.f, err = os.OpenFile(filepath.Join(m.mnt, "fsx"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		return err
	})
	x.startHelper()
	defer func() {
		x.helper.stop()
		if x.f != nil {
			x.f.Close()
		}
	}()

	start := time.Now()
	counts := map[string]int{}
	for range fsxFileOps {
		op := x.pickOp()
		counts[op]++
		note := x.cut.maybeCut()
		x.run(op, note)
	}
	x.helper.stop()
	x.step("close", func() error {
		err := x.f.Close()
		x.f = nil
		return err
	})
	x.checkServer("after the last operation")
	t.Logf("%d operations in %v with %d cuts; operations run: %v", fsxFileOps, time.Since(start).Round(time.Millisecond), x.cut.cuts, counts)
}

// pickOp chooses the next operation by weight.
func (x *fsxFile) pickOp() string {
	weights := []struct {
		op     string
		weight int
	}{
		{"write", 30}, {"read", 25}, {"truncate", 8}, {"mapread", 10},
		{"mapwrite", 10}, {"fsync", 3}, {"reopen", 2},
	}
	total := 0
	for _, w := range weights {
		total += w.weight
	}
	n := x.rng.IntN(total)
	for _, w := range weights {
		if n < w.weight {
			return w.op
		}
		n -= w.weight
	}
	return "read"
}

// step runs fn under the hang watchdog and fails the test when it fails.
func (x *fsxFile) step(what string, fn func() error) {
	x.t.Helper()
	_, err := x.m.within(x.t, fsxOpLimit, what, fn)
	if err != nil {
		x.t.Fatalf("%s failed: %v\n%s", what, err, &x.history)
	}
}

func (x *fsxFile) run(op, note string) {
	x.t.Helper()
	size := int64(len(x.model))
	switch op {
	case "write":
		off := x.rng.Int64N(fsxMaxFileLen)
		n := 1 + x.rng.IntN(int(min(fsxMaxOpLen, fsxMaxFileLen-off)))
		data := x.randomBytes(n)
		x.history.add("write %d bytes at %d%s", n, off, note)
		x.step(x.last(), func() error {
			_, err := x.f.WriteAt(data, off)
			return err
		})
		x.apply(off, data)

	case "read":
		off, n := x.randomRange(size + 4096)
		x.history.add("read %d bytes at %d (size %d)%s", n, off, size, note)
		got := make([]byte, n)
		var read int
		x.step(x.last(), func() error {
			var err error
			read, err = x.f.ReadAt(got, off)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return err
		})
		x.compare(got[:read], off, x.expected(off, n), "pread")

	case "truncate":
		newSize := x.rng.Int64N(fsxMaxFileLen)
		x.history.add("truncate from %d to %d%s", size, newSize, note)
		x.step(x.last(), func() error { return x.f.Truncate(newSize) })
		if newSize < size {
			x.model = x.model[:newSize]
		} else {
			x.model = append(x.model, make([]byte, newSize-size)...)
		}

	case "mapread":
		if size == 0 {
			x.run("write", note)
			return
		}
		off, n := x.randomRange(size)
		x.history.add("mmap read %d bytes at %d (size %d)%s", n, off, size, note)
		got := make([]byte, n)
		x.step(x.last(), func() error {
			data, err := x.helper.read(off, n, size)
			copy(got, data)
			return err
		})
		x.compare(got, off, x.expected(off, n), "mmap read")

	case "mapwrite":
		if size == 0 {
			x.run("write", note)
			return
		}
		off, n := x.randomRange(size)
		data := x.randomBytes(n)
		x.history.add("mmap write %d bytes at %d (size %d) and msync%s", n, off, size, note)
		x.step(x.last(), func() error { return x.helper.write(off, data, size) })
		x.apply(off, data)

	case "fsync":
		x.history.add("fsync and compare with the server (size %d)%s", size, note)
		x.step(x.last(), x.f.Sync)
		x.checkServer("after fsync")

	case "reopen":
		x.history.add("close, reopen and read everything (size %d)%s", size, note)
		x.helper.stop()
		x.step(x.last(), func() error {
			if err := x.f.Close(); err != nil {
				x.f = nil
				return fmt.Errorf("close: %w", err)
			}
			var err error
			x.f, err = os.OpenFile(filepath.Join(x.m.mnt, "fsx"), os.O_RDWR, 0)
			return err
		})
		got := make([]byte, size+4096)
		var read int
		x.step("read after reopen", func() error {
			var err error
			read, err = x.f.ReadAt(got, 0)
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return err
		})
		x.compare(got[:read], 0, x.model, "read after reopen")
		x.startHelper()
	}
}

// startHelper starts the mmap helper on the current descriptor.
func (x *fsxFile) startHelper() {
	x.t.Helper()
	helper, err := startMmapHelper(x.f)
	if err != nil {
		x.t.Fatal(err)
	}
	x.helper = helper
}

// last returns the description of the latest operation.
func (x *fsxFile) last() string { return x.history.entries[len(x.history.entries)-1] }

// randomRange returns an offset below limit and a length of at least one
// byte that ends at or before limit.
func (x *fsxFile) randomRange(limit int64) (int64, int) {
	if limit <= 0 {
		return 0, 1
	}
	off := x.rng.Int64N(limit)
	n := 1 + x.rng.IntN(int(min(fsxMaxOpLen, limit-off)))
	return off, n
}

func (x *fsxFile) randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(x.rng.Uint32())
	}
	return b
}

// apply records a write of data at off in the model.
func (x *fsxFile) apply(off int64, data []byte) {
	if end := off + int64(len(data)); end > int64(len(x.model)) {
		x.model = append(x.model, make([]byte, end-int64(len(x.model)))...)
	}
	copy(x.model[off:], data)
}

// expected returns the model's bytes of a read of n bytes at off.
func (x *fsxFile) expected(off int64, n int) []byte {
	if off >= int64(len(x.model)) {
		return nil
	}
	return x.model[off:min(off+int64(n), int64(len(x.model)))]
}

// compare fails the test when got, read at off, differs from want.
func (x *fsxFile) compare(got []byte, off int64, want []byte, what string) {
	x.t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		x.t.Fatalf("%s at %d returned %d bytes, want %d\n%s", what, off, len(got), len(want), &x.history)
	}
	i := firstDifference(got, want)
	x.t.Fatalf("%s at %d differs from the model first at file offset %d: got %#x, want %#x\n%s",
		what, off, off+int64(i), got[i], want[i], &x.history)
}

// checkServer compares the server's copy of the file with the model.
func (x *fsxFile) checkServer(when string) {
	x.t.Helper()
	got, err := os.ReadFile(filepath.Join(x.m.remote, "fsx"))
	if err != nil {
		x.t.Fatalf("read the file on the server %s: %v", when, err)
	}
	if len(got) != len(x.model) {
		x.t.Fatalf("the server's file has %d bytes %s, want %d\n%s", len(got), when, len(x.model), &x.history)
	}
	if i := firstDifference(got, x.model); i >= 0 {
		x.t.Fatalf("the server's file differs from the model %s, first at offset %d\n%s", when, i, &x.history)
	}
}

// mmapHelperScript serves mmap requests on file descriptor 3 for the test.
// Each request line is "r OFF N SIZE" (map SIZE bytes, print N bytes at
// OFF in hex) or "w OFF SIZE HEX" (map SIZE bytes shared, store the bytes
// at OFF, msync with MS_SYNC). Each reply is one line: the hex bytes, "ok",
// or "err MESSAGE".
const mmapHelperScript = `
import mmap, sys
for line in sys.stdin:
    f = line.split()
    try:
        off, size = int(f[1]), int(f[3] if f[0] == "r" else f[2])
        m = mmap.mmap(3, size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | (mmap.PROT_WRITE if f[0] == "w" else 0))
        try:
            if f[0] == "r":
                reply = m[off:off + int(f[2])].hex()
            else:
                data = bytes.fromhex(f[3])
                m[off:off + len(data)] = data
                m.flush()
                reply = "ok"
        finally:
            m.close()
    except Exception as e:
        reply = "err " + repr(e)
    sys.stdout.write(reply + "\n")
    sys.stdout.flush()
`

// mmapHelper is a python3 process that maps the test's open file and reads
// or writes through the mapping.
//
// The mapping cannot live in the test process: a page fault on a FUSE
// mapping blocks its thread until the daemon replies, the daemon's reply
// passes through the proxy in this process, and a Go garbage collection
// waits for every thread, including the blocked one, to stop. That
// deadlock would stall the whole test binary.
type mmapHelper struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
}

// startMmapHelper starts a helper that inherits f as descriptor 3.
func startMmapHelper(f *os.File) (*mmapHelper, error) {
	cmd := exec.Command("python3", "-c", mmapHelperScript)
	cmd.ExtraFiles = []*os.File{f}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the python3 mmap helper: %w", err)
	}
	return &mmapHelper{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<20)}, nil
}

func (h *mmapHelper) request(line string) (string, error) {
	if _, err := io.WriteString(h.stdin, line+"\n"); err != nil {
		return "", fmt.Errorf("send to the mmap helper: %w", err)
	}
	reply, err := h.stdout.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read from the mmap helper: %w", err)
	}
	reply = strings.TrimSuffix(reply, "\n")
	if msg, failed := strings.CutPrefix(reply, "err "); failed {
		return "", errors.New(msg)
	}
	return reply, nil
}

// read returns n bytes at off of a shared mapping of the first size bytes.
func (h *mmapHelper) read(off int64, n int, size int64) ([]byte, error) {
	reply, err := h.request(fmt.Sprintf("r %d %d %d", off, n, size))
	if err != nil {
		return nil, fmt.Errorf("mmap read: %w", err)
	}
	return hex.DecodeString(reply)
}

// write stores data at off through a shared mapping of the first size
// bytes and waits for msync(MS_SYNC).
func (h *mmapHelper) write(off int64, data []byte, size int64) error {
	if _, err := h.request(fmt.Sprintf("w %d %d %s", off, size, hex.EncodeToString(data))); err != nil {
		return fmt.Errorf("mmap write: %w", err)
	}
	return nil
}

// stop ends the helper and waits for it.
func (h *mmapHelper) stop() {
	h.stdin.Close()
	h.cmd.Wait()
}

func TestFsxTree(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	for _, withCuts := range []bool{false, true} {
		name := "NoFaults"
		if withCuts {
			name = "Cuts"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runFsxTree(t, withCuts)
		})
	}
}

// fsxTree is the state of one tree run: every operation is applied to the
// local directory and to the mount, and both must end the same way.
type fsxTree struct {
	t       *testing.T
	m       *proxiedMount
	local   string
	rng     *rand.Rand
	cut     *cutter
	history opHistory
}

// fsxNames are the names the tree run uses. With few names, operations
// often meet existing entries.
var fsxNames = []string{"a", "b", "c", "d", "e"}

func runFsxTree(t *testing.T, withCuts bool) {
	seed := fsxSeed(t)
	remote := scratchDir(t, "remote")
	m := mountViaProxy(t, fullServer, remote)
	m.waitForConnections(t)
	x := &fsxTree{
		t:     t,
		m:     m,
		local: scratchDir(t, "fsx-local"),
		rng:   rand.New(rand.NewPCG(seed, 3)),
		cut:   &cutter{m: m, rng: rand.New(rand.NewPCG(seed, 4)), enabled: withCuts},
	}

	start := time.Now()
	outcomes := map[string]int{}
	for i := 1; i <= fsxTreeOps; i++ {
		op, apply := x.pickOp()
		note := x.cut.maybeCut()
		x.history.add("%s%s", op, note)
		localErr := apply(x.local)
		var mountErr error
		x.step(op, func() error {
			mountErr = apply(m.mnt)
			return nil
		})
		if (localErr == nil) != (mountErr == nil) || errnoOf(localErr) != errnoOf(mountErr) {
			t.Fatalf("%s: the local directory returned %s, the mount %s\n%s", op, errOrNil(localErr), errOrNil(mountErr), &x.history)
		}
		outcomes[strings.Fields(op)[0]+" "+errnoLabel(localErr)]++
		if i%100 == 0 {
			x.compareTrees(m.mnt, fmt.Sprintf("the mount after %d operations", i))
		}
	}
	x.compareTrees(m.mnt, "the mount at the end")
	x.compareTrees(remote, "the server's directory at the end")
	t.Logf("%d operations in %v with %d cuts; outcomes: %v", fsxTreeOps, time.Since(start).Round(time.Millisecond), x.cut.cuts, outcomes)
}

// errnoLabel names the outcome of an operation for the summary.
func errnoLabel(err error) string {
	if err == nil {
		return "ok"
	}
	return unixErrnoName(errnoOf(err))
}

func (x *fsxTree) step(what string, fn func() error) {
	x.t.Helper()
	if _, err := x.m.within(x.t, fsxOpLimit, what, fn); err != nil {
		x.t.Fatalf("%s: %v", what, err)
	}
}

// fsxEntry is one entry of a tree snapshot.
type fsxEntry struct {
	kind    string // "file", "dir" or "symlink"
	content string // file content or link target
}

// snapshot lists every entry below root by relative path.
func snapshot(root string) (map[string]fsxEntry, error) {
	entries := map[string]fsxEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			entries[rel] = fsxEntry{kind: "symlink", content: target}
		case d.IsDir():
			entries[rel] = fsxEntry{kind: "dir"}
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entries[rel] = fsxEntry{kind: "file", content: string(data)}
		}
		return nil
	})
	return entries, err
}

// compareTrees fails the test when the tree at root differs from the
// local directory in names, types, file contents or link targets.
func (x *fsxTree) compareTrees(root, what string) {
	x.t.Helper()
	want, err := snapshot(x.local)
	if err != nil {
		x.t.Fatalf("list the local directory: %v", err)
	}
	var got map[string]fsxEntry
	x.step("list "+what, func() error {
		var err error
		got, err = snapshot(root)
		return err
	})

	var problems []string
	for _, rel := range sortedKeys(want) {
		g, ok := got[rel]
		w := want[rel]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s (%s) is missing", rel, w.kind))
		case g.kind != w.kind:
			problems = append(problems, fmt.Sprintf("%s is a %s, want a %s", rel, g.kind, w.kind))
		case g.content != w.content && w.kind == "symlink":
			problems = append(problems, fmt.Sprintf("symlink %s points to %q, want %q", rel, g.content, w.content))
		case g.content != w.content:
			problems = append(problems, fmt.Sprintf("file %s has %d bytes that differ from the expected %d", rel, len(g.content), len(w.content)))
		}
	}
	for _, rel := range sortedKeys(got) {
		if _, ok := want[rel]; !ok {
			problems = append(problems, fmt.Sprintf("%s (%s) should not exist", rel, got[rel].kind))
		}
	}
	if len(problems) > 0 {
		x.t.Fatalf("%s differs from the local directory:\n  %s\n%s", what, strings.Join(problems, "\n  "), &x.history)
	}
}

func sortedKeys(m map[string]fsxEntry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// pickOp chooses a random operation on the current local tree and returns
// its description and a function that applies it below a root directory.
func (x *fsxTree) pickOp() (string, func(root string) error) {
	tree, err := snapshot(x.local)
	if err != nil {
		x.t.Fatalf("list the local directory: %v", err)
	}
	var dirs, files, all []string
	dirs = append(dirs, ".")
	for _, rel := range sortedKeys(tree) {
		all = append(all, rel)
		switch tree[rel].kind {
		case "dir":
			dirs = append(dirs, rel)
		case "file":
			files = append(files, rel)
		}
	}
	pick := func(list []string) string { return list[x.rng.IntN(len(list))] }
	// newPath returns a path in a random directory with a random name,
	// which may exist already.
	newPath := func() string {
		return filepath.Join(pick(dirs), pick(fsxNames))
	}

	switch n := x.rng.IntN(100); {
	case n < 25:
		p := newPath()
		if tree[p].kind == "symlink" {
			// Writing through a symlink could leave the roots.
			return "skip write through symlink " + p, func(string) error { return nil }
		}
		data := x.randomContent()
		return fmt.Sprintf("write %d bytes to %s (O_CREAT|O_TRUNC)", len(data), p), func(root string) error {
			return os.WriteFile(filepath.Join(root, p), data, 0o644)
		}
	case n < 35 && len(files) > 0:
		p := pick(files)
		off := int64(x.rng.IntN(len(tree[p].content) + 100))
		data := x.randomContent()
		return fmt.Sprintf("pwrite %d bytes at %d of %s", len(data), off, p), func(root string) error {
			f, err := os.OpenFile(filepath.Join(root, p), os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			if _, err := f.WriteAt(data, off); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}
	case n < 55 && len(all) > 0:
		from, to := pick(all), newPath()
		if tree[from].kind == "dir" && (to == from || strings.HasPrefix(to, from+"/")) {
			// Both would fail with EINVAL, and moving a directory
			// into itself is not what this test is about.
			to = filepath.Join(".", pick(fsxNames)+"-moved")
		}
		return fmt.Sprintf("rename %s (%s) to %s", from, tree[from].kind, to), func(root string) error {
			return os.Rename(filepath.Join(root, from), filepath.Join(root, to))
		}
	case n < 67 && len(all) > 0:
		p := pick(all)
		if tree[p].kind == "dir" {
			return fmt.Sprintf("rmdir %s", p), func(root string) error {
				return syscall.Rmdir(filepath.Join(root, p))
			}
		}
		return fmt.Sprintf("unlink %s (%s)", p, tree[p].kind), func(root string) error {
			return syscall.Unlink(filepath.Join(root, p))
		}
	case n < 82:
		p := newPath()
		return fmt.Sprintf("mkdir %s", p), func(root string) error {
			return syscall.Mkdir(filepath.Join(root, p), 0o755)
		}
	default:
		p := newPath()
		target := pick(fsxNames)
		if x.rng.IntN(2) == 0 {
			target = "../" + target + "/" + pick(fsxNames)
		}
		return fmt.Sprintf("symlink %s -> %s", p, target), func(root string) error {
			return syscall.Symlink(target, filepath.Join(root, p))
		}
	}
}

// randomContent returns up to 16 KiB of random bytes, sometimes none.
func (x *fsxTree) randomContent() []byte {
	n := x.rng.IntN(16 << 10)
	if x.rng.IntN(8) == 0 {
		n = 0
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(x.rng.Uint32())
	}
	return b
}

// TestFsxSizeAfterWrites repeats in a few steps what TestFsxFile found:
// when the daemon caches a file's attributes between two writes that
// extend it, fstat(2) reports the size before the second write.
func TestFsxSizeAfterWrites(t *testing.T) {
	requireHarness(t)
	t.Parallel()
	mnt, _ := mount(t)
	f, err := os.OpenFile(filepath.Join(mnt, "file"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	for i, end := range []int64{100, 1100, 5000} {
		if _, err := f.WriteAt([]byte("x"), end-1); err != nil {
			t.Fatalf("pwrite ending at %d: %v", end, err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatalf("fstat after pwrite %d: %v", i+1, err)
		}
		if fi.Size() != end {
			t.Errorf("fstat after pwrite %d ending at %d reports size %d", i+1, end, fi.Size())
		}
	}

	// A wrong size in the kernel's inode also cuts reads short.
	got := make([]byte, 6000)
	n, err := f.ReadAt(got, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("pread of the whole file: %v", err)
	}
	if n != 5000 {
		t.Errorf("pread of the whole file returned %d bytes, want 5000", n)
	}
}
