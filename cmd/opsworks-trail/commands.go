package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// command is a subcommand. run gets its own arguments; with ["-h"] it
// prints its usage and returns 0 (help SUBCOMMAND relies on that).
type command struct {
	name, summary string
	run           func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands is the dispatch table; the first is what runs without a
// subcommand name.
var commands = []command{
	{"print", "print the OpsWorks events of CloudTrail files or an archive as NDJSON (the default)", runPrint},
	{"verify", "check CloudTrail log file integrity: digest signatures and chain, log file hashes, files no digest names", func(a []string, _ io.Reader, o, e io.Writer) int { return runVerify(a, o, e) }},
	{"report", "write an audit report of the OpsWorks events: one self-contained HTML file", runReport},
	{"enqueue", "announce an archive's log files to an SQS queue, for a fleet of cloudtrail_s3 inputs", func(a []string, _ io.Reader, _, e io.Writer) int { return runEnqueue(a, e) }},
	{"help", "show the help of a subcommand: help SUBCOMMAND", nil},
	{"version", "show the version (also --version)", nil},
}

// version is stamped at build time where the build has no VCS information
// (a source tarball, a -buildvcs=false container build):
// go build -ldflags "-X main.version=v1.2.3" ./cmd/opsworks-trail
var version string

// checkedFluentBit are the Fluent Bit versions the plugins of this tree
// were last run against for real (README, "Supported Fluent Bit versions").
const checkedFluentBit = "4.0.14, 4.2.8, 5.1.1"

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			usage(stdout)
			return exitOK
		case "-version", "--version", "version":
			fmt.Fprint(stdout, versionText())
			return exitOK
		case "help":
			return help(args[1:], stdin, stdout, stderr)
		}
		for _, c := range commands {
			if c.name == args[0] && c.run != nil {
				return c.run(args[1:], stdin, stdout, stderr)
			}
		}
	}
	return runPrint(args, stdin, stdout, stderr)
}

func help(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] && c.run != nil {
			return c.run([]string{"-h"}, stdin, stdout, stdout)
		}
	}
	if args[0] == "help" || args[0] == "version" {
		usage(stdout)
		return exitOK
	}
	fmt.Fprintf(stderr, "opsworks-trail help: no subcommand %q; the subcommands are %s\n", args[0], names())
	return exitFailure
}

func names() string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

// usage is the top-level help: what the tool does, the subcommands, where
// each one's flags are.
func usage(w io.Writer) {
	fmt.Fprintf(w, `opsworks-trail: AWS OpsWorks audit events from CloudTrail, without Fluent Bit.

usage: opsworks-trail [flags] [SOURCE ...]          print events (the print subcommand)
       opsworks-trail SUBCOMMAND [flags] [ARGS]

SOURCE: a CloudTrail log file (.json or .json.gz), NDJSON (one event or log file
per line), several JSON documents in a row, - for stdin (the default), or an
archive: s3://bucket/prefix or a directory (a copy of one).

subcommands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nopsworks-trail help SUBCOMMAND shows its flags. Exit codes: 0 ok, 1 usage or I/O failure,\n2 bad input found (print, report) or tampering found (verify, or -input validate_integrity=on).\n")
}

// versionText: the module version and VCS revision from the build info, or
// the stamped version, and the Fluent Bit versions the plugins were run with.
func versionText() string {
	v, rev, when, dirty := version, "", "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = ", modified"
				}
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	out := "opsworks-trail " + v
	if rev != "" {
		out += fmt.Sprintf(" (revision %s%s%s)", rev, map[bool]string{true: ", " + when}[when != ""], dirty)
	}
	return fmt.Sprintf("%s\n%s %s/%s\nplugins checked with Fluent Bit %s\n", out, runtime.Version(), runtime.GOOS, runtime.GOARCH, checkedFluentBit)
}

// parseFlags parses a subcommand's flags: -h/--help is not an error (exit
// 0), anything else wrong is (exit 1). ok is false when the caller must
// return code.
func parseFlags(fl *flag.FlagSet, args []string) (code int, ok bool) {
	err := fl.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK, false
	case err != nil:
		return exitFailure, false
	}
	return 0, true
}
