// Command gen-corpus writes a synthetic, deterministic CloudTrail corpus (see
// package test/corpus) as NDJSON events, NDJSON log-file objects, or an S3-style
// archive of log files.
//
//	gen-corpus -events 25000 -opsworks-share 0.01 -out events.ndjson
//	gen-corpus -format records -out files.ndjson
//	gen-corpus -format archive -gzip -out ./trail
package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen-corpus:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen-corpus", flag.ContinueOnError)
	var (
		o        corpus.Options
		format   = fs.String("format", "ndjson", "ndjson (one event per line), records (one {\"Records\":[…]} log file per line) or archive (log files under -out)")
		out      = fs.String("out", "-", "output file, - for stdout; the directory for -format archive")
		gz       = fs.Bool("gzip", false, "gzip the output (archive: .json.gz files; otherwise the whole stream)")
		start    = fs.String("start", "", "earliest eventTime, RFC 3339 (default: end minus 24h)")
		end      = fs.String("end", "", "latest eventTime, RFC 3339 (default 2024-06-01T00:00:00Z)")
		accounts = fs.String("accounts", "", "comma-separated account IDs")
		regions  = fs.String("regions", "", "comma-separated regions")
	)
	fs.IntVar(&o.Events, "events", 1000, "number of events")
	fs.Float64Var(&o.OpsWorksShare, "opsworks-share", 0.05, "fraction of OpsWorks events, 0..1")
	fs.Int64Var(&o.Seed, "seed", 1, "random seed; the same flags and seed give the same bytes")
	fs.IntVar(&o.EventsPerFile, "events-per-file", 100, "most events per log file (records, archive)")
	fs.StringVar(&o.OrgID, "org-id", "", "organization ID (o-…) for the organization-trail key layout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.OpsWorksShare < 0 || o.OpsWorksShare > 1 {
		return fmt.Errorf("-opsworks-share must be between 0 and 1, got %v", o.OpsWorksShare)
	}
	var err error
	if o.Start, err = parseTime("start", *start); err != nil {
		return err
	}
	if o.End, err = parseTime("end", *end); err != nil {
		return err
	}
	o.Accounts, o.Regions = splitList(*accounts), splitList(*regions)
	switch *format {
	case "archive":
		if *out == "-" {
			return errors.New("-format archive needs -out DIR")
		}
		n, err := corpus.WriteArchive(*out, o, *gz)
		if err == nil {
			fmt.Fprintf(os.Stderr, "gen-corpus: wrote %d log files under %s\n", n, *out)
		}
		return err
	case "ndjson", "records":
		return writeStream(*out, *gz, stdout, func(w io.Writer) error { return writeLines(w, *format, o) })
	}
	return fmt.Errorf("-format must be ndjson, records or archive, got %q", *format)
}

func writeLines(w io.Writer, format string, o corpus.Options) error {
	if format == "ndjson" {
		return corpus.WriteNDJSON(w, o)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, f := range corpus.LogFiles(o) {
		bw.Write(f.Body)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// writeStream opens the output (stdout for "-"), optionally gzipped, and
// closes everything in order so a short write is reported.
func writeStream(path string, gz bool, stdout io.Writer, write func(io.Writer) error) (err error) {
	w := stdout
	if path != "-" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}()
		w = f
	}
	if !gz {
		return write(w)
	}
	zw := gzip.NewWriter(w)
	if err := write(zw); err != nil {
		return err
	}
	return zw.Close()
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("-%s: %v", name, err)
	}
	return t, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
