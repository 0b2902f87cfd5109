package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/input"
)

// The progress line of archive sources and of enqueue, on stderr.

// progress draws a one-line progress bar on a terminal (or when forced).
type progress struct {
	mu      sync.Mutex
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
	return progressLine(p.src, s, time.Since(p.started))
}

// progressLine is the archive progress of a bounded run (the CLI never
// follows a trail, so there is no "behind"): while the listing goes on,
// what is done so far; once it is over, objects and bytes done of the
// totals, a percentage and an estimate of the time left, from the bytes
// read so far.
func progressLine(src string, s input.Stats, elapsed time.Duration) string {
	secs := max(elapsed.Seconds(), 0.001)
	done := s.ObjectsCommitted + s.ObjectsBad + s.ObjectsFailed
	rate := float64(s.BytesRead) / 1e6 / secs
	events := fmt.Sprintf("%d/%d events kept", s.EventsKept, s.EventsSeen)
	if !s.ListingDone {
		return fmt.Sprintf("%s: listing, %d objects so far, %d done, %s, %.1f MB read (%.1f MB/s)",
			src, s.ObjectsListed, done, events, float64(s.BytesRead)/1e6, rate)
	}
	line := fmt.Sprintf("%s: %d/%d objects, %.1f/%.1f MB", src, done, s.ObjectsListed, float64(s.BytesRead)/1e6, float64(s.BytesListed)/1e6)
	if s.BytesListed > 0 {
		line += fmt.Sprintf(" (%.0f%%)", 100*min(float64(s.BytesRead)/float64(s.BytesListed), 1))
	}
	line += fmt.Sprintf(", %s, %.1f MB/s", events, rate)
	if left := s.BytesListed - s.BytesRead; left > 0 && s.BytesRead > 0 {
		eta := time.Duration(float64(left) / float64(s.BytesRead) * float64(elapsed))
		line += ", ETA " + eta.Round(time.Second).String()
	}
	return line
}

// show writes the progress line line() makes, at most five times a second
// unless final. It is safe for concurrent use: enqueue's senders and
// verify's workers report from several goroutines.
func (p *progress) show(final bool, write func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !final && (!p.on || time.Since(p.last) < 200*time.Millisecond) {
		return
	}
	p.last = time.Now()
	write()
}

func (p *progress) update(s input.Stats) {
	p.show(false, func() { fmt.Fprintf(p.w, "\r\033[K%s", p.line(s)) })
}

// draw shows line as the progress line.
func (p *progress) draw(line string) {
	p.show(false, func() { fmt.Fprintf(p.w, "\r\033[K%s", line) })
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
	p.show(final, func() {
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
	})
}
