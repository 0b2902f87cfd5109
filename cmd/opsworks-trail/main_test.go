package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

type line struct {
	Tag    string         `json:"tag"`
	Time   string         `json:"time"`
	Record map[string]any `json:"record"`
}

func runCLI(t *testing.T, stdin string, args ...string) (int, []line, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"-meta"}, args...), strings.NewReader(stdin), &out, &errb)
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, l)
		}
		lines = append(lines, ln)
	}
	return code, lines, errb.String()
}

func tags(lines []line) string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Tag)
	}
	return strings.Join(out, ",")
}

func TestCLI(t *testing.T) {
	ndjson, err := os.ReadFile("testdata/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		tags     string
		stderrIn string
	}{
		{"directory tree with gzip, plain and digest", []string{"testdata/trail"}, "", exitOK, "opsworks.stacks,opsworks.chef_automate", "2 documents"},
		{"ndjson file", []string{"testdata/events.ndjson"}, "", exitOK, "opsworks.stacks,opsworks.chef_automate", "3 documents"},
		{"stdin", nil, string(ndjson), exitOK, "opsworks.stacks,opsworks.chef_automate", ""},
		{"keep other events", []string{"-set", "keep_other_events=on", "testdata/events.ndjson"}, "", exitOK, "opsworks.stacks,-,opsworks.chef_automate", ""},
		{"malformed file", []string{"testdata/broken.json"}, "", exitBadInput, "-", "$.Records[0].eventVersion"},
		{"not CloudTrail", []string{"testdata/notcloudtrail.json"}, "", exitBadInput, "", "not a CloudTrail log file or event"},
		{"bad option", []string{"-set", "max_depth=x", "testdata/events.ndjson"}, "", exitFailure, "", "max_depth"},
		{"source_key not for the CLI", []string{"-set", "source_key=x"}, "", exitFailure, "", "-set source_key"},
		{"missing path", []string{"testdata/nope.json"}, "", exitFailure, "", "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, lines, stderr := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if got := tags(lines); got != tc.tags {
				t.Fatalf("tags %q, want %q", got, tc.tags)
			}
			if !strings.Contains(stderr, tc.stderrIn) {
				t.Fatalf("stderr does not mention %q:\n%s", tc.stderrIn, stderr)
			}
		})
	}
}

func TestCLIMalformedRecordKeepsText(t *testing.T) {
	_, lines, _ := runCLI(t, "", "testdata/broken.json")
	raw, _ := os.ReadFile("testdata/broken.json")
	if len(lines) != 1 || lines[0].Record["log"] != string(raw) || lines[0].Record["opsworks_error"] == nil {
		t.Fatalf("broken input must come back whole with its error: %+v", lines)
	}
}

func TestCLIEventTimeAndFlattening(t *testing.T) {
	_, lines, _ := runCLI(t, "", "testdata/trail")
	first := lines[0]
	if first.Time != "2021-03-04T05:06:07Z" || first.Record["userIdentity_userName"] != "Alice" {
		t.Fatalf("got %+v", first)
	}
}
