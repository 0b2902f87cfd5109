package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/input"
)

// The progress line of archive sources and of enqueue, on stderr.

// progress draws a one-line progress bar on a terminal (or when forced).
type progress struct {
	w       io.Writer
	on      bool
	src     string
	last    time.Time
	started time.Time
}

func newProgress(w io.Writer, mode, src string) *progress {
	on := mode == "on"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				on = true
			}
		}
	}
	return &progress{w: w, on: on, src: src, started: time.Now()}
}

func (p *progress) line(s input.Stats) string {
	mb := float64(s.BytesUncompressed) / 1e6
	secs := time.Since(p.started).Seconds()
	done := s.ObjectsCommitted + s.ObjectsBad + s.ObjectsFailed
	return fmt.Sprintf("%s: %d/%d objects, %d/%d events kept, %.1f MB (%.1f MB/s), %s behind",
		p.src, done, s.ObjectsListed, s.EventsKept, s.EventsSeen, mb, mb/max(secs, 0.001), s.Lag.Round(time.Minute))
}

func (p *progress) update(s input.Stats) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[K%s", p.line(s))
}

// draw shows line as the progress line (at most five times a second).
func (p *progress) draw(line string) {
	if !p.on || time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, "\r\033[K%s", line)
}

// done prints the final line (always: it is the run's summary).
func (p *progress) done(s input.Stats) {
	prefix := ""
	if p.on {
		prefix = "\r\033[K"
	}
	fmt.Fprintf(p.w, "%s%s, done in %s", prefix, p.line(s), time.Since(p.started).Round(time.Millisecond))
	if n := s.ObjectsBad + s.ObjectsFailed; n > 0 {
		fmt.Fprintf(p.w, "; %d objects unreadable: %v", n, s.Failures)
	}
	fmt.Fprintln(p.w)
}

// enqueued draws the enqueue progress line (always the final one).
func (p *progress) enqueued(s cloudtrail.EnqueueStats, final bool) {
	if !final && (!p.on || time.Since(p.last) < 200*time.Millisecond) {
		return
	}
	p.last = time.Now()
	secs := max(time.Since(p.started).Seconds(), 0.001)
	line := fmt.Sprintf("%s: %d files listed, %d announced (%.0f/s)", p.src, s.Listed, s.Sent, float64(s.Sent)/secs)
	if !s.Newest.IsZero() {
		line += ", up to " + s.Newest.UTC().Format(time.RFC3339)
	}
	switch {
	case p.on && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	case p.on:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	case final:
		fmt.Fprintln(p.w, line)
	}
}
