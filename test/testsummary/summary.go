package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string // build-output and build-fail events
}

// testState is what is kept of one test (or subtest) while it runs.
type testState struct {
	output []string
	done   bool
}

// skip is one skipped test and the reason it gave.
type skip struct {
	pkg, test, reason string
}

// summary turns the event stream into plain go test output plus the skip
// summary.
type summary struct {
	w                       io.Writer
	tests                   map[string]*testState // key: package + "\x00" + test
	failedPkgs              map[string]bool
	skips                   []skip
	passed, failed, skipped int
	buildFailed             int
}

func newSummary(w io.Writer) *summary {
	return &summary{w: w, tests: map[string]*testState{}, failedPkgs: map[string]bool{}}
}

// read consumes the stream; flush is called after each line. A line that is
// not JSON (go test printing something of its own) is passed through.
func (s *summary) read(r io.Reader, flush func() error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintf(s.w, "%s\n", line)
		} else {
			s.event(e)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (s *summary) event(e event) {
	switch e.Action {
	case "build-output":
		io.WriteString(s.w, e.Output)
		return
	case "build-fail":
		s.buildFailed++
		return
	}
	if e.Test == "" {
		s.packageEvent(e)
		return
	}
	key := e.Package + "\x00" + e.Test
	t := s.tests[key]
	if t == nil {
		t = &testState{}
		s.tests[key] = t
	}
	switch e.Action {
	case "output":
		t.output = append(t.output, e.Output)
	case "pass":
		s.passed++
		t.done, t.output = true, nil
	case "fail":
		s.failed++
		t.done = true
		// A parent's output holds only its own lines: each subtest that
		// failed printed its own already.
		for _, o := range t.output {
			if !strings.HasPrefix(o, "=== ") { // RUN, PAUSE, CONT: -v noise
				io.WriteString(s.w, o)
			}
		}
		t.output = nil
	case "skip":
		s.skipped++
		t.done = true
		s.skips = append(s.skips, skip{pkg: e.Package, test: e.Test, reason: skipReason(t.output)})
		t.output = nil
	}
}

// packageEvent prints a package's own lines as go test does ("ok …",
// "FAIL …", "? … [no test files]", panics and timeouts), except the bare
// PASS that only -v shows.
func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		if e.Output != "PASS\n" {
			io.WriteString(s.w, e.Output)
		}
	case "fail":
		s.failedPkgs[e.Package] = true
		// A timeout or a crash ends tests that never reported: their
		// output tells where they were.
		prefix := e.Package + "\x00"
		keys := make([]string, 0)
		for k, t := range s.tests {
			if strings.HasPrefix(k, prefix) && !t.done && len(t.output) > 0 {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(s.w, "--- unfinished: %s\n", strings.TrimPrefix(k, prefix))
			for _, o := range s.tests[k].output {
				io.WriteString(s.w, o)
			}
			s.tests[k].done = true
		}
	}
}

// logLine is how testing prints a t.Log/t.Skip line in verbose mode:
// indented, "file.go:LINE: message".
var logLine = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

// skipReason is the last logged message of a skipped test (the t.Skip
// text), with its continuation lines, or "(no reason given)".
func skipReason(output []string) string {
	reason, in := []string(nil), false
	for _, o := range output {
		o = strings.TrimRight(o, "\n")
		switch {
		case logLine.MatchString(o):
			reason, in = []string{logLine.FindStringSubmatch(o)[1]}, true
		case strings.HasPrefix(o, "=== ") || strings.HasPrefix(o, "--- "):
			in = false
		case in && strings.HasPrefix(o, "        "):
			reason = append(reason, strings.TrimSpace(o))
		}
	}
	if len(reason) == 0 {
		return "(no reason given)"
	}
	return strings.Join(reason, " ")
}

// finish prints the skip summary and the closing count.
func (s *summary) finish() {
	if len(s.skips) > 0 {
		byReason := map[string][]skip{}
		var reasons []string
		for _, sk := range s.skips {
			if _, ok := byReason[sk.reason]; !ok {
				reasons = append(reasons, sk.reason)
			}
			byReason[sk.reason] = append(byReason[sk.reason], sk)
		}
		sort.SliceStable(reasons, func(i, j int) bool { return len(byReason[reasons[i]]) > len(byReason[reasons[j]]) })
		fmt.Fprintf(s.w, "\nSkipped: %d tests, for %d distinct reasons (what this run did not cover):\n", len(s.skips), len(reasons))
		for _, r := range reasons {
			group := byReason[r]
			fmt.Fprintf(s.w, "  - %s\n    %d: %s\n", r, len(group), names(group))
		}
	}
	if s.buildFailed > 0 {
		fmt.Fprintf(s.w, "\n%d packages did not build\n", s.buildFailed)
	}
	if len(s.failedPkgs) > 0 {
		pkgs := make([]string, 0, len(s.failedPkgs))
		for p := range s.failedPkgs {
			pkgs = append(pkgs, p)
		}
		sort.Strings(pkgs)
		fmt.Fprintf(s.w, "\nFailed packages: %s\n", strings.Join(pkgs, " "))
	}
	fmt.Fprintf(s.w, "\ntests: %d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}

// names lists the skipped tests as pkg.Test (the package's last path
// element), at most ten, then how many more.
func names(group []skip) string {
	var out []string
	for i, sk := range group {
		if i == 10 {
			out = append(out, fmt.Sprintf("and %d more", len(group)-10))
			break
		}
		pkg := sk.pkg[strings.LastIndex(sk.pkg, "/")+1:]
		out = append(out, pkg+"."+sk.test)
	}
	return strings.Join(out, ", ")
}
