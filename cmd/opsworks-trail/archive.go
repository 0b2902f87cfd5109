package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// Archive sources run the cloudtrail_s3 input's engine (package input), the
// same code as in_cloudtrail_s3.so: s3://bucket/prefix and directories (a
// copy of an archive, e.g. from `aws s3 sync`). Their records go through the
// filter as structured records, exactly as the input → filter pipeline does.

// archiveConfig builds the input configuration for one source.
func (c *cli) archiveConfig(src string) (*input.Config, error) {
	g := config.MapGetter{}
	for k, v := range c.inputOpts {
		g[k] = v
	}
	if c.since != "" {
		g["start_time"] = c.since
	}
	if c.until != "" {
		g["end_time"] = c.until
	}
	if rest, ok := strings.CutPrefix(src, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("%s: no bucket (want s3://bucket/prefix)", src)
		}
		g["bucket"] = bucket
		if prefix != "" {
			g["prefix"] = prefix
		}
	} else {
		g["path"] = src
	}
	// The CLI reads what the filter selects: the same push-down.
	if _, set := g["event_sources"]; !set {
		g["event_sources"] = strings.Join(c.cfg.EventSources, ",")
		if c.cfg.KeepOtherEvents {
			g["event_sources"] = "*"
		}
	}
	return input.LoadConfig(g)
}

// archiveSource reads one archive source to the end (a bounded backfill).
func (c *cli) archiveSource(src string) error {
	cfg, err := c.archiveConfig(src)
	if err != nil {
		return err
	}
	if cfg.Follow {
		return fmt.Errorf("-input follow=on: the CLI reads a bounded window; use the Fluent Bit input to follow a trail")
	}
	eng, err := input.NewEngine(cfg, input.Deps{Logf: c.engineLog})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := eng.Start(ctx); err != nil {
		return err
	}
	bar := newProgress(c.stderr, c.progress, src)
	for !eng.Done() {
		b := eng.Collect(0)
		if b == nil {
			bar.update(eng.Stats())
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err := c.records(b.Records); err != nil {
			eng.Stop()
			return err
		}
		eng.Commit(b)
		bar.update(eng.Stats())
	}
	sum := eng.Stop()
	bar.done(sum.Stats)
	c.archiveFailures += sum.ObjectsBad + sum.ObjectsFailed + sum.ErrorRecords
	return nil
}

// records filters a chunk of input records and prints the result.
func (c *cli) records(chunk []byte) error {
	if err := c.recordProc.FilterChunk(chunk, &c.res); err != nil {
		return err
	}
	out := chunk // nothing changed: the chunk goes on as it is
	if c.res.Modified {
		out = c.res.Keep
	}
	return record.ForEachRecord(out, func(t record.EventTime, body *record.Value) error {
		if e := body.Get(filter.FieldError); e != nil {
			fmt.Fprintf(c.stderr, "error: %s\n", e.String())
		}
		return c.print(t, body)
	})
}

// engineLog shows the engine's warnings and errors; its info lines
// (progress, summary) are replaced by the progress bar.
func (c *cli) engineLog(level int, format string, args ...any) {
	if level <= input.LogWarn || c.verbose {
		fmt.Fprintf(c.stderr, "%s: %s\n", [...]string{"", "error", "warning", "info", "debug"}[min(level, 4)], fmt.Sprintf(format, args...))
	}
}

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
