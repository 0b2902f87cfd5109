// Command opsworks-trail runs the opsworks filter's Go core over CloudTrail
// files without Fluent Bit and prints the resulting records as NDJSON, so
// users can dry-run a configuration and debug their data.
//
//	opsworks-trail [flags] [PATH ...]
//	opsworks-trail enqueue [flags] s3://bucket/prefix --queue-url URL
//	opsworks-trail verify [flags] s3://bucket/prefix | DIR
//
// SOURCE is a CloudTrail log file (.json or .json.gz, gzip is detected by
// its magic bytes), an NDJSON file of events or log files, "-" / nothing for
// standard input, or an archive: s3://bucket/prefix or a directory holding a
// copy of one. Archives are read by the cloudtrail_s3 input's engine (date
// window with -since/-until, push-down, provenance fields), with a progress
// bar on stderr.
package main

import (
	"bufio"
	"errors"
	"flag"
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

// Exit codes: 0 all good, 1 usage or I/O failure, 2 some input could not be
// processed (those records are still printed, with opsworks_error).
const (
	exitOK       = 0
	exitFailure  = 1
	exitBadInput = 2
)

// keyValues is a repeatable key=value flag over a plugin's options: keys
// are spelled as in Fluent Bit (case-insensitive, stored lower-case), and
// an unknown or misspelled key is an error instead of being ignored.
type keyValues struct {
	m    config.MapGetter
	opts []config.Option
}

func newKeyValues(opts []config.Option) keyValues {
	return keyValues{m: config.MapGetter{}, opts: opts}
}

func (s keyValues) String() string { return fmt.Sprint(map[string]string(s.m)) }

func (s keyValues) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", kv)
	}
	k = strings.ToLower(strings.TrimSpace(k))
	if err := config.CheckKeys([]string{k}, s.opts); err != nil {
		return err
	}
	s.m[k] = v
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// runPrint is the default subcommand: print the OpsWorks events of the
// sources as NDJSON.
func runPrint(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEvents(args, stdin, stdout, stderr, false)
}

// runReport is `opsworks-trail report -o FILE SOURCE…`: the same sources
// and options as print, aggregated into one self-contained HTML report
// instead of printed (see report.go).
func runReport(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEvents(args, stdin, stdout, stderr, true)
}

// runEvents reads the sources through the filter and prints the records,
// or, with asReport, aggregates them into the report.
func runEvents(args []string, stdin io.Reader, stdout, stderr io.Writer, asReport bool) int {
	name := "opsworks-trail"
	if asReport {
		name = "opsworks-trail report"
	}
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	var reportFile *string
	if asReport {
		reportFile = fl.String("o", "", "the report's HTML file (required): self-contained, no network resources, prints to PDF")
	}
	fl.SetOutput(stderr)
	opts := newKeyValues(filter.Options)
	fl.Var(opts, "set", "filter option key=value, as in the [FILTER] section (repeatable), e.g. -set keep_other_events=on")
	inOpts := newKeyValues(input.Options)
	fl.Var(inOpts, "input", "cloudtrail_s3 input option key=value for archive sources (repeatable), e.g. -input region=us-east-1 -input accounts=111122223333")
	meta := fl.Bool("meta", false, "print {\"tag\",\"time\",\"record\"} per line instead of the bare record")
	quiet := fl.Bool("q", false, "do not print the summary on stderr")
	since := fl.String("since", "", "archive sources: read files delivered at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fl.String("until", "", "archive sources: read files delivered before this time (RFC 3339 or YYYY-MM-DD)")
	bar := fl.String("progress", "auto", "progress bar on stderr for archive sources: auto (when stderr is a terminal), on, off")
	verbose := fl.Bool("v", false, "show the input engine's info messages")
	fl.Usage = func() {
		if asReport {
			fmt.Fprintf(fl.Output(), "usage: opsworks-trail report -o FILE [flags] [SOURCE ...]\n\nWrites an audit report of the OpsWorks events of the sources: one self-contained HTML\nfile (counts by product, activity over time, principals, actions, failed calls,\ndestructive actions, servers and stacks, integrity). SOURCE as for print; with\n-input validate_integrity=on an archive's integrity verdicts are in the report.\n\n")
		} else {
			fmt.Fprintf(fl.Output(), "usage: opsworks-trail [print] [flags] [SOURCE ...]\n\nPrints the OpsWorks events of CloudTrail files as NDJSON.\nSOURCE: .json, .json.gz, NDJSON, several JSON documents in a row, - for stdin\n(the default), or an archive: s3://bucket/prefix or a directory.\nOther subcommands: opsworks-trail --help.\n\n")
		}
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	if asReport && *reportFile == "" {
		fmt.Fprintf(stderr, "%s: -o: the report's file is required\n", name)
		return exitFailure
	}
	if *bar != "auto" && *bar != "on" && *bar != "off" {
		fmt.Fprintf(stderr, "opsworks-trail: -progress: want auto, on or off, got %q\n", *bar)
		return exitFailure
	}
	cfg, err := loadConfig(opts.m)
	if err != nil {
		fmt.Fprintf(stderr, "opsworks-trail: %v\n", err)
		return exitFailure
	}
	recordCfg, err := loadRecordConfig(opts.m)
	if err != nil {
		fmt.Fprintf(stderr, "opsworks-trail: %v\n", err)
		return exitFailure
	}
	out := bufio.NewWriterSize(stdout, 1<<20)
	defer out.Flush()
	c := &cli{cfg: cfg, out: out, stderr: stderr, meta: *meta, inputOpts: inOpts.m, since: *since, until: *until,
		progress: *bar, verbose: *verbose}
	// Errors are reported per document below, with the file name, instead of
	// through the processor's rate-limited warnings.
	c.proc = filter.NewProcessor(cfg, nil)
	c.recordProc = filter.NewProcessor(recordCfg, nil)

	paths := fl.Args()
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	var rep *report
	if asReport {
		rep = newReport(paths)
		c.sink = rep.add
	}
	for _, p := range paths {
		if err := c.path(p, stdin); err != nil {
			out.Flush()
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return exitFailure
		}
	}
	if rep != nil {
		if err := writeReport(rep, *reportFile); err != nil {
			fmt.Fprintf(stderr, "%s: -o: %v\n", name, err)
			return exitFailure
		}
		if !*quiet {
			fmt.Fprintf(stderr, "%s: %d OpsWorks events from %s into %s\n", name, rep.events, strings.Join(paths, ", "), *reportFile)
		}
	}
	if !*quiet && c.docs > 0 {
		fmt.Fprintf(stderr, "opsworks-trail: %d documents, %d skipped; %s\n", c.docs, c.skipped, c.proc.Stats.String())
	}
	if c.proc.Stats.Errors.Load() > 0 || c.recordProc.Stats.Errors.Load() > 0 || c.skipped > 0 || c.archiveFailures > 0 {
		return exitBadInput
	}
	return exitOK
}

// loadConfig reads the filter options. The CLI always reads documents as
// text (source_key) so that a malformed file is printed back with its error,
// and keeps output in input order (retag off) while still reporting tags.
func loadConfig(opts config.MapGetter) (*filter.Config, error) {
	for _, k := range []string{"source_key", "retag"} {
		if _, ok := opts[k]; ok {
			return nil, fmt.Errorf("-set %s: not supported by the CLI (documents are read as JSON text and printed in input order)", k)
		}
	}
	g := config.MapGetter{"source_key": textKey, "retag": "off", "warning_interval": "0s"}
	for k, v := range opts {
		g[k] = v
	}
	return filter.LoadConfig(g)
}

const textKey = "log"

// loadRecordConfig is the filter configuration for archive sources, whose
// records are structured (as the input hands them to the filter).
func loadRecordConfig(opts config.MapGetter) (*filter.Config, error) {
	g := config.MapGetter{"retag": "off", "warning_interval": "0s"}
	for k, v := range opts {
		g[k] = v
	}
	return filter.LoadConfig(g)
}

type cli struct {
	cfg        *filter.Config
	proc       *filter.Processor // documents (files, stdin), read as JSON text
	recordProc *filter.Processor // archive records, structured
	out        *bufio.Writer
	stderr     io.Writer
	meta       bool
	docs       int
	skipped    int
	res        filter.Result
	line       []byte

	inputOpts       config.MapGetter
	since, until    string
	progress        string
	verbose         bool
	archiveFailures int64
	// sink, when set, takes the records instead of printing them (report).
	sink func(record.EventTime, *record.Value) error
}

func (c *cli) path(p string, stdin io.Reader) error {
	if p == "-" {
		return c.stream("stdin", stdin)
	}
	if strings.HasPrefix(p, "s3://") {
		return c.archiveSource(p)
	}
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if info.IsDir() {
		return c.archiveSource(p)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.stream(p, f)
}

func (c *cli) document(name string, text []byte) error {
	c.docs++
	now := time.Now()
	chunk := record.AppendTextRecord(nil, record.EventTime{Sec: now.Unix(), Nsec: int64(now.Nanosecond())}, textKey, text)
	if err := c.proc.FilterChunk(chunk, &c.res); err != nil {
		return err
	}
	if !c.res.Modified {
		c.skipped++
		fmt.Fprintf(c.stderr, "warning: %s: not a CloudTrail log file or event; skipped\n", name)
		return nil
	}
	return record.ForEachRecord(c.res.Keep, func(t record.EventTime, body *record.Value) error {
		if body.Get(filter.FieldError) != nil {
			msg := strings.TrimPrefix(body.Get(filter.FieldError).String(), textKey+": ")
			fmt.Fprintf(c.stderr, "error: %s: %s\n", name, msg)
		}
		return c.print(t, body)
	})
}

func (c *cli) print(t record.EventTime, body *record.Value) error {
	if c.sink != nil {
		return c.sink(t, body)
	}
	c.line = c.line[:0]
	if c.meta {
		c.line = append(c.line, `{"tag":`...)
		c.line = record.AppendJSON(c.line, &record.Value{Kind: record.KindString, Str: []byte(c.cfg.TagOf(body, "-"))})
		c.line = append(c.line, `,"time":"`...)
		c.line = time.Unix(t.Sec, t.Nsec).UTC().AppendFormat(c.line, time.RFC3339Nano)
		c.line = append(c.line, `","record":`...)
		c.line = record.AppendJSON(c.line, body)
		c.line = append(c.line, '}')
	} else {
		c.line = record.AppendJSON(c.line, body)
	}
	c.line = append(c.line, '\n')
	_, err := c.out.Write(c.line)
	if errors.Is(err, io.ErrClosedPipe) {
		return nil
	}
	return err
}
