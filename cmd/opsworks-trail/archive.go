package main

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
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
	// Local files the archive listing leaves out: NDJSON is read below as
	// documents, everything else is named in the summary.
	var ndjson []string
	skipped := map[string][]string{}
	deps := input.Deps{Logf: c.engineLog, Skipped: func(p, reason string) {
		if isNDJSONName(p) {
			ndjson = append(ndjson, p)
			return
		}
		skipped[reason] = append(skipped[reason], p)
	}}
	eng, err := input.NewEngine(cfg, deps)
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
	c.archiveFailures += sum.ObjectsBad + sum.ObjectsFailed + sum.ErrorRecords + sum.Tampered() + sum.IntegrityIncomplete
	if line := sum.IntegrityLine(); line != "" {
		fmt.Fprintln(c.stderr, line) // -input validate_integrity=on: the verdict belongs with the run
	}
	if n := sum.ObjectsUndated; n > 0 && (c.since != "" || c.until != "") {
		fmt.Fprintf(c.stderr, "note: %d files outside the CloudTrail layout have no delivery time in their name: read whatever -since/-until\n", n)
	}
	for _, reason := range slices.Sorted(maps.Keys(skipped)) {
		fmt.Fprintf(c.stderr, "skipped: %s: %d\n", reason, len(skipped[reason]))
		if c.verbose {
			for _, p := range skipped[reason] {
				fmt.Fprintf(c.stderr, "  %s\n", filepath.Join(cfg.Path, p))
			}
		}
	}
	for _, p := range ndjson {
		if err := c.ndjsonFile(filepath.Join(cfg.Path, filepath.FromSlash(p))); err != nil {
			return err
		}
	}
	return nil
}

// isNDJSONName: files of documents the archive listing does not take
// (.ndjson, .jsonl, gzipped or not), read by the CLI one document at a time.
func isNDJSONName(p string) bool {
	p = strings.TrimSuffix(strings.ToLower(p), ".gz")
	return strings.HasSuffix(p, ".ndjson") || strings.HasSuffix(p, ".jsonl")
}

func (c *cli) ndjsonFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.stream(p, f)
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

// listConfig is the input configuration of an s3:// source for listing
// only: polling mode, the window from -since/-until.
func (c *cli) listConfig(src string) (*input.Config, error) {
	if _, set := c.inputOpts["event_sources"]; !set {
		c.inputOpts["event_sources"] = "*" // not used for listing (and no filter configuration to take it from)
	}
	return c.archiveConfig(src)
}
