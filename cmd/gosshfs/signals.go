package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"
)

// mountStage is how far a mount process has come, which decides what a
// signal does.
type mountStage int

const (
	// stageConnecting covers the passphrase and password prompts and the
	// first connection. Nothing local needs cleaning up, and a prompt cannot
	// be cancelled, so a signal ends the process at once.
	stageConnecting mountStage = iota
	// stageMounting covers fs.NewMount. A signal cancels the context, and
	// the mount is undone once NewMount returns.
	stageMounting
	// stageMounted: a signal cancels the context, which unmounts.
	stageMounted
)

// signalGuard turns SIGINT, SIGTERM and SIGHUP into the action the current
// stage needs.
type signalGuard struct {
	ctx    context.Context
	cancel context.CancelFunc
	logger *slog.Logger
	// stderr receives "interrupted" when the process ends during
	// stageConnecting; nil in the daemon, whose starting process reports it.
	stderr  io.Writer
	signals chan os.Signal

	mu    sync.Mutex
	stage mountStage // guarded by mu
	// terminal and terminalState restore a terminal that a prompt left with
	// echo off. terminal is nil when there is none, and after
	// stageConnecting. Guarded by mu.
	terminal      *os.File
	terminalState *term.State
}

// newSignalGuard starts handling signals in stageConnecting.
func newSignalGuard(logger *slog.Logger, stderr io.Writer) *signalGuard {
	ctx, cancel := context.WithCancel(context.Background())
	g := &signalGuard{
		ctx:     ctx,
		cancel:  cancel,
		logger:  logger,
		stderr:  stderr,
		signals: make(chan os.Signal, 1),
	}
	g.saveTerminal()
	signal.Notify(g.signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go g.handle()
	return g
}

// saveTerminal records the controlling terminal's state before any prompt
// changes it.
func (g *signalGuard) saveTerminal() {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return
	}
	state, err := term.GetState(int(tty.Fd()))
	if err != nil {
		tty.Close()
		return
	}
	g.terminal, g.terminalState = tty, state
}

func (g *signalGuard) handle() {
	for {
		select {
		case sig := <-g.signals:
			g.onSignal(sig)
		case <-g.ctx.Done():
			return
		}
	}
}

func (g *signalGuard) onSignal(sig os.Signal) {
	g.mu.Lock()
	defer g.mu.Unlock()

	if g.stage == stageConnecting {
		if g.terminal != nil {
			term.Restore(int(g.terminal.Fd()), g.terminalState)
		}
		if g.stderr != nil {
			fmt.Fprintln(g.stderr, "\ngosshfs: interrupted before the mount was ready")
		}
		os.Exit(exitInterrupted)
	}
	g.logger.Info("received signal", "signal", sig.String())
	g.cancel()
}

// enter moves to stage. A signal that is still queued is handled as the new
// stage requires, which each stage allows for. Leaving stageConnecting
// closes the terminal, because no prompt follows.
func (g *signalGuard) enter(stage mountStage) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stage = stage
	if stage != stageConnecting && g.terminal != nil {
		g.terminal.Close()
		g.terminal = nil
	}
}

// stop ends signal handling and releases the terminal.
func (g *signalGuard) stop() {
	signal.Stop(g.signals)
	g.cancel()
	g.enter(stageMounted)
}
