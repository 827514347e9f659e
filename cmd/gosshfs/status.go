package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/gosshfs/gosshfs/control"
)

// statusTimeout bounds the status request to one daemon. The daemon's own
// ping is limited to pingTimeout, so a live daemon replies well inside it.
const statusTimeout = 5 * time.Second

func statusFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", DisableDefaultText: true,
			Usage: "print a JSON array with one object per mount instead of a table"},
	}
}

// daemonReport is the reply of one daemon to a status request, or why
// there is none.
type daemonReport struct {
	daemon control.Daemon
	status *control.Status
	err    error
}

// statusAction runs gosshfs status [--json].
func (e *environment) statusAction(c *cli.Context) error {
	if err := checkArgCount(c, "no arguments", 0); err != nil {
		return err
	}
	reports, err := collectReports(control.SocketDirs())
	if err != nil {
		return withExitCode(exitMount, err)
	}
	if c.Bool("json") {
		return writeStatusJSON(e.stdout, reports)
	}
	return writeStatusTable(e.stdout, reports, time.Now())
}

// collectReports requests the status of every daemon with a socket in dirs,
// all at once.
func collectReports(dirs []string) ([]daemonReport, error) {
	daemons, err := control.List(dirs)
	if err != nil {
		return nil, err
	}
	reports := make([]daemonReport, len(daemons))
	var wg sync.WaitGroup
	for i, daemon := range daemons {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
			defer cancel()
			status, err := control.QueryStatus(ctx, daemon.Socket)
			reports[i] = daemonReport{daemon: daemon, status: status, err: err}
		}()
	}
	wg.Wait()
	return reports, nil
}

// statusJSON is one element of gosshfs status --json. For a daemon that did
// not reply only pid, socket and error are set.
type statusJSON struct {
	*control.Status
	PID           int      `json:"pid"`
	Socket        string   `json:"socket"`
	CacheHitRatio *float64 `json:"cache_hit_ratio,omitempty"`
	Error         string   `json:"error,omitempty"`
}

func writeStatusJSON(w io.Writer, reports []daemonReport) error {
	out := make([]statusJSON, 0, len(reports))
	for _, r := range reports {
		item := statusJSON{Status: r.status, PID: r.daemon.PID, Socket: r.daemon.Socket}
		if r.err != nil {
			item.Error = r.err.Error()
		}
		if r.status != nil {
			if ratio, ok := r.status.CacheHitRatio(); ok {
				item.CacheHitRatio = &ratio
			}
		}
		out = append(out, item)
	}
	encoder := json.NewEncoder(w)
	encoder.SetIndent("", "  ")
	return encoder.Encode(out)
}

// writeStatusTable prints one row per mount, then the last error of each
// mount that has lost connections and each daemon that did not reply.
func writeStatusTable(w io.Writer, reports []daemonReport, now time.Time) error {
	if len(reports) == 0 {
		_, err := fmt.Fprintln(w, "no gosshfs mounts")
		return err
	}

	table := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if slices.ContainsFunc(reports, func(r daemonReport) bool { return r.status != nil }) {
		fmt.Fprintln(table, "MOUNTPOINT\tREMOTE\tSTATE\tUPTIME\tRECONNECTS\tRTT\tREAD\tWRITTEN\tCACHE HITS")
	}
	var notes []string
	for _, r := range reports {
		if r.status == nil {
			notes = append(notes, fmt.Sprintf("daemon %d (%s) did not reply: %v", r.daemon.PID, r.daemon.Socket, r.err))
			continue
		}
		s := r.status
		fmt.Fprintf(table, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n",
			s.MountPoint, s.Source, connectionState(s), formatUptime(now.Sub(s.Started)), s.Reconnects,
			formatRoundTrip(s), formatBytes(s.BytesRead), formatBytes(s.BytesWritten), formatHitRatio(s))
		if s.LastError != "" && s.Connected < s.Connections {
			notes = append(notes, fmt.Sprintf("%s: last connection error: %s", s.MountPoint, s.LastError))
		}
	}
	if err := table.Flush(); err != nil {
		return err
	}
	for _, note := range notes {
		if _, err := fmt.Fprintln(w, note); err != nil {
			return err
		}
	}
	return nil
}

// connectionState returns "connected N/M" while at least one connection
// is up and "disconnected 0/M" otherwise.
func connectionState(s *control.Status) string {
	if s.Connected == 0 {
		return fmt.Sprintf("disconnected 0/%d", s.Connections)
	}
	return fmt.Sprintf("connected %d/%d", s.Connected, s.Connections)
}

func formatRoundTrip(s *control.Status) string {
	if s.PingError != "" {
		return "-"
	}
	d := time.Duration(s.RoundTripSeconds * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}

func formatHitRatio(s *control.Status) string {
	ratio, ok := s.CacheHitRatio()
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", ratio*100)
}

// formatUptime returns d in at most two units, such as 3d04h, 2h05m or 42s.
func formatUptime(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	seconds := int64(d / time.Second)
	days, hours, minutes := seconds/86400, seconds/3600%24, seconds/60%60
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%02dh", days, hours)
	case hours > 0:
		return fmt.Sprintf("%dh%02dm", hours, minutes)
	case minutes > 0:
		return fmt.Sprintf("%dm%02ds", minutes, seconds%60)
	default:
		return fmt.Sprintf("%ds", seconds)
	}
}

// formatBytes returns n in bytes or in binary units (KiB, MiB, ...) with one
// decimal.
func formatBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	value := float64(n)
	for _, suffix := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		value /= unit
		if value < unit || suffix == "PiB" {
			return fmt.Sprintf("%.1f %s", value, suffix)
		}
	}
	panic("BUG: formatBytes fell through its units")
}
