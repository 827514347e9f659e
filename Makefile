# Build, test and demo targets for gosshfs. Run `make help` for a list.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Each recipe runs as one shell script, so variables and functions carry
# over from line to line.
.ONESHELL:

GO ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN := bin/gosshfs
LOG_DIR := bin/test-logs

# Debian packages the integration tests run, and one command each package
# provides, used to skip apt-get when everything is installed.
APT_PACKAGES := openssh-server openssh-client fuse3 python3 git vim sqlite3 gcc
REQUIRED_COMMANDS := fusermount3 ssh-keygen sftp python3 git vim sqlite3 gcc

# Where `make demo` keeps its files, relative to the repository root.
DEMO_DATA := demo-data
DEMO_STATE := .demo-state
DEMO_MNT := mnt
DEMO_LISTEN := 127.0.0.1:2222

.PHONY: help build test deps vet unit integration lint clean demo demo-stop

help:
	@echo "make build      build $(BIN) (version $(VERSION))"
	echo "make test       install test packages when missing (as root), build, vet,"
	echo "                run unit tests with -race and the integration tests"
	echo "make lint       check gofmt and go vet"
	echo "make demo       serve ./$(DEMO_DATA) on $(DEMO_LISTEN) and mount it at ./$(DEMO_MNT)"
	echo "make demo-stop  unmount the demo and stop its server"
	echo "make clean      remove bin/"
	echo "make install    install gosshfs, /sbin/mount.fuse.gosshfs, the manual page, completions"
	echo "                and the systemd unit (PREFIX=$(PREFIX), DESTDIR for staging)"
	echo "make man        regenerate docs/gosshfs.1; make completion: contrib/completion/*"

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/gosshfs

# deps installs the Debian packages when a required command is missing and
# creates /dev/fuse when the kernel has FUSE but no device node.
deps:
	@missing=""
	for cmd in $(REQUIRED_COMMANDS); do
		command -v "$$cmd" >/dev/null 2>&1 || missing="$$missing $$cmd"
	done
	if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then missing="$$missing sshd"; fi
	if [ -n "$$missing" ]; then
		if [ "$$(id -u)" != 0 ]; then
			echo "make: missing commands:$$missing; run make test as root to install $(APT_PACKAGES)" >&2
			exit 1
		fi
		echo "==> installing $(APT_PACKAGES) (missing:$$missing)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y --no-install-recommends $(APT_PACKAGES)
	fi
	if [ ! -e /dev/fuse ] && [ "$$(id -u)" = 0 ]; then
		echo "==> creating /dev/fuse"
		mknod -m 0666 /dev/fuse c 10 229
	fi

vet:
	$(GO) vet ./...

# unit runs every package's tests except the integration tests with the
# race detector, which needs cgo and gcc.
unit:
	@packages=$$($(GO) list ./... | grep -v '/integration$$')
	CGO_ENABLED=1 $(GO) test -race -count=1 $$packages

# integration runs the end-to-end tests against bin/gosshfs. They need root
# and /dev/fuse, and skip themselves elsewhere unless CI is set. The daemon
# logs of failed tests are kept in $(LOG_DIR)/daemon.
integration:
	@rm -rf $(LOG_DIR)/daemon
	mkdir -p $(LOG_DIR)
	GOSSHFS_TEST_LOG_DIR=$(CURDIR)/$(LOG_DIR)/daemon \
		$(GO) test -v -count=1 -timeout 20m ./integration/... 2>&1 | tee $(LOG_DIR)/integration.log

# test runs every step even after one fails, then prints a summary and
# exits non-zero when any step failed. The integration tests need the
# build, so they are skipped when it fails.
test:
	@mkdir -p $(LOG_DIR)
	declare -a names=() results=() seconds=()
	failed=0
	step() {
		local name=$$1; shift
		echo "==> $$name"
		local start=$$SECONDS result=ok
		if ! "$$@"; then result=FAILED; failed=1; fi
		names+=("$$name"); results+=("$$result"); seconds+=($$((SECONDS - start)))
		[ "$$result" = ok ]
	}
	if step deps $(MAKE) --no-print-directory deps; then
		build_ok=0
		step build $(MAKE) --no-print-directory build && build_ok=1 || true
		step vet $(MAKE) --no-print-directory vet || true
		step unit $(MAKE) --no-print-directory unit || true
		if [ "$$build_ok" = 1 ]; then
			step integration $(MAKE) --no-print-directory integration || true
		else
			names+=(integration); results+=("SKIPPED (build failed)"); seconds+=(0)
		fi
	fi
	echo
	echo "==== make test summary ===="
	for i in "$${!names[@]}"; do
		printf '%-12s %-24s %5ss\n' "$${names[$$i]}" "$${results[$$i]}" "$${seconds[$$i]}"
	done
	if [ -f $(LOG_DIR)/integration.log ] && grep -q -e '--- FAIL:' $(LOG_DIR)/integration.log; then
		echo "failed integration tests (full log: $(LOG_DIR)/integration.log):"
		grep -e '--- FAIL:' $(LOG_DIR)/integration.log | sed -e 's/^ */  /'
	fi
	if [ "$$failed" = 1 ]; then echo "make test: FAILED"; exit 1; fi
	echo "make test: all steps passed"

lint:
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './bin/*'))
	if [ -n "$$unformatted" ]; then
		echo "gofmt -l lists files that need formatting:" >&2
		echo "$$unformatted" >&2
		exit 1
	fi
	$(GO) vet ./...

clean:
	rm -rf bin

# demo serves ./demo-data with `gosshfs serve` in the background, mounts it
# at ./mnt with the command the server prints, and leaves both running.
demo: build
	@if ! command -v fusermount3 >/dev/null 2>&1; then
		if [ "$$(id -u)" != 0 ]; then echo "make demo: fusermount3 is missing; install fuse3 (apt-get install fuse3)" >&2; exit 1; fi
		DEBIAN_FRONTEND=noninteractive apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fuse3
	fi
	if grep -q " $(CURDIR)/$(DEMO_MNT) " /proc/self/mountinfo; then
		echo "make demo: $(DEMO_MNT) is already mounted; run make demo-stop first" >&2
		exit 1
	fi
	mkdir -p $(DEMO_DATA)/docs $(DEMO_STATE) $(DEMO_MNT)
	# The state directory holds the private keys.
	chmod 700 $(DEMO_STATE)
	[ -e $(DEMO_DATA)/hello.txt ] || echo "Hello from gosshfs serve." > $(DEMO_DATA)/hello.txt
	[ -e $(DEMO_DATA)/docs/notes.md ] || printf '# Notes\n\nEdit me through ./$(DEMO_MNT).\n' > $(DEMO_DATA)/docs/notes.md
	[ -e $(DEMO_DATA)/numbers.txt ] || seq 1 1000 > $(DEMO_DATA)/numbers.txt
	: > $(DEMO_STATE)/serve.log
	nohup $(BIN) serve --listen $(DEMO_LISTEN) --state-dir $(CURDIR)/$(DEMO_STATE) $(CURDIR)/$(DEMO_DATA) \
		> $(DEMO_STATE)/serve.log 2>&1 < /dev/null &
	echo $$! > $(DEMO_STATE)/serve.pid
	# The server prints the mount command once it listens.
	mount_command=""
	for _ in $$(seq 1 100); do
		mount_command=$$(grep -m1 -E '^ *[^ ]*gosshfs -p .*IdentityFile=' $(DEMO_STATE)/serve.log || true)
		[ -n "$$mount_command" ] && break
		kill -0 "$$(cat $(DEMO_STATE)/serve.pid)" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$$mount_command" ]; then
		echo "make demo: gosshfs serve printed no mount command:" >&2
		cat $(DEMO_STATE)/serve.log >&2
		exit 1
	fi
	mount_command=$$(echo "$$mount_command" | sed -e 's/^ *[^ ]*gosshfs /$(subst /,\/,$(BIN)) /')
	echo "==> $$mount_command"
	eval "$$mount_command"
	echo "==> ls -l $(DEMO_MNT)"
	ls -l $(DEMO_MNT)
	echo
	echo "$(DEMO_MNT) shows $(DEMO_DATA) through SSH. To end the demo:"
	echo "  fusermount3 -u ./$(DEMO_MNT)"
	echo "  kill $$(cat $(DEMO_STATE)/serve.pid)    # the server's PID, also in $(DEMO_STATE)/serve.pid"
	echo "or run: make demo-stop"

demo-stop:
	@if grep -q " $(CURDIR)/$(DEMO_MNT) " /proc/self/mountinfo; then
		fusermount3 -u $(DEMO_MNT) && echo "unmounted ./$(DEMO_MNT)"
	fi
	if [ -f $(DEMO_STATE)/serve.pid ]; then
		pid=$$(cat $(DEMO_STATE)/serve.pid)
		if tr '\0' ' ' < /proc/$$pid/cmdline 2>/dev/null | grep -q 'gosshfs serve'; then
			kill "$$pid" && echo "stopped gosshfs serve (PID $$pid)"
		fi
		rm -f $(DEMO_STATE)/serve.pid
	fi

# Installation, with GNU's PREFIX and DESTDIR. mount(8) looks for mount
# helpers only in /sbin, so the mount.fuse.gosshfs link goes to SBINDIR
# without PREFIX. The systemd unit goes to PREFIX/lib/systemd/system, which
# systemd searches for /usr/local, and runs PREFIX/bin/gosshfs.
PREFIX ?= /usr/local
SBINDIR ?= /sbin
UNITDIR ?= $(PREFIX)/lib/systemd/system
INSTALLED_FILES := $(PREFIX)/bin/gosshfs $(SBINDIR)/mount.fuse.gosshfs \
	$(PREFIX)/share/man/man1/gosshfs.1 \
	$(PREFIX)/share/bash-completion/completions/gosshfs \
	$(PREFIX)/share/zsh/site-functions/_gosshfs \
	$(UNITDIR)/gosshfs@.service

.PHONY: install uninstall man completion

install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/gosshfs
	install -d $(DESTDIR)$(SBINDIR)
	ln -sfn $(PREFIX)/bin/gosshfs $(DESTDIR)$(SBINDIR)/mount.fuse.gosshfs
	install -D -m 0644 docs/gosshfs.1 $(DESTDIR)$(PREFIX)/share/man/man1/gosshfs.1
	install -D -m 0644 contrib/completion/gosshfs.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/gosshfs
	install -D -m 0644 contrib/completion/_gosshfs $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_gosshfs
	install -d $(DESTDIR)$(UNITDIR)
	sed -e 's|/usr/local/bin/gosshfs|$(PREFIX)/bin/gosshfs|' contrib/systemd/gosshfs@.service \
		> $(DESTDIR)$(UNITDIR)/gosshfs@.service

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))

# man and completion regenerate the files that the unit tests compare with
# gosshfs manpage and gosshfs completion; run them after changing options.
man:
	$(GO) run ./cmd/gosshfs manpage > docs/gosshfs.1.tmp
	mv docs/gosshfs.1.tmp docs/gosshfs.1

completion:
	$(GO) run ./cmd/gosshfs completion bash > contrib/completion/gosshfs.bash.tmp
	$(GO) run ./cmd/gosshfs completion zsh > contrib/completion/_gosshfs.tmp
	mv contrib/completion/gosshfs.bash.tmp contrib/completion/gosshfs.bash
	mv contrib/completion/_gosshfs.tmp contrib/completion/_gosshfs
