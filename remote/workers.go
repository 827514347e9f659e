package remote

import "time"

// workerIdle is how long a request worker waits for its next call before
// it exits.
const workerIdle = 10 * time.Second

// workerPool runs calls on goroutines that live on after a call. A request
// goes deep through pkg/sftp and x/crypto/ssh, and a new goroutine grows
// its stack on every such call: about a tenth of the daemon's CPU time
// while extracting a tree on loopback (pprof). A reused worker keeps the
// stack it grew.
type workerPool struct {
	tasks chan func() // unbuffered: a send succeeds only to an idle worker
}

var requestWorkers = workerPool{tasks: make(chan func())}

// run calls fn on an idle worker, or on a new one when none is idle.
func (p *workerPool) run(fn func()) {
	select {
	case p.tasks <- fn:
	default:
		go p.work(fn)
	}
}

func (p *workerPool) work(fn func()) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		fn()
		idle.Reset(workerIdle)
		select {
		case fn = <-p.tasks:
		case <-idle.C:
			return
		}
	}
}
