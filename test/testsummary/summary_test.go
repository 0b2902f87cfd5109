package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files")

// Each testdata/NAME.jsonl is a `go test -json` stream; NAME.golden is what
// testsummary prints for it.
func TestSummaryGolden(t *testing.T) {
	inputs, err := filepath.Glob(filepath.Join("testdata", "*.jsonl"))
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, in := range inputs {
		t.Run(filepath.Base(in), func(t *testing.T) {
			f, err := os.Open(in)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var out bytes.Buffer
			s := newSummary(&out)
			if err := s.read(f, func() error { return nil }); err != nil {
				t.Fatal(err)
			}
			s.finish()
			golden := strings.TrimSuffix(in, ".jsonl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestSkipReason(t *testing.T) {
	for _, tc := range []struct {
		name   string
		output []string
		want   string
	}{
		{"none", []string{"=== RUN   TestX\n", "--- SKIP: TestX (0.00s)\n"}, "(no reason given)"},
		{"last log line wins", []string{"    x_test.go:1: first\n", "    x_test.go:2: the reason\n"}, "the reason"},
		{"continuation", []string{"    x_test.go:1: line one\n", "        line two\n", "--- SKIP: TestX (0.00s)\n"}, "line one line two"},
		{"log after the SKIP line (non-streamed)", []string{"--- SKIP: TestX (0.00s)\n", "    x_test.go:7: later\n"}, "later"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := skipReason(tc.output); got != tc.want {
				t.Errorf("skipReason = %q, want %q", got, tc.want)
			}
		})
	}
}
