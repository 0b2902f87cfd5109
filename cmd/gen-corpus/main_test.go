package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-events", "50", "-opsworks-share", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 50 || !strings.Contains(lines[0], `"eventSource":"opsworks`) {
		t.Fatalf("ndjson: %d lines, first %.80s", len(lines), lines[0])
	}
	out.Reset()
	if err := run([]string{"-events", "50", "-format", "records"}, &out); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var doc struct{ Records []json.RawMessage }
		if err := json.Unmarshal([]byte(l), &doc); err != nil {
			t.Fatalf("records line is not a log file: %v", err)
		}
		n += len(doc.Records)
	}
	if n != 50 {
		t.Fatalf("records hold %d events, want 50", n)
	}
	dir := t.TempDir()
	if err := run([]string{"-events", "50", "-format", "archive", "-gzip", "-out", dir}, &out); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "AWSLogs", "*", "CloudTrail", "*", "*", "*", "*", "*.json.gz")); len(m) == 0 {
		t.Fatal("archive wrote no .json.gz files")
	}
	file := filepath.Join(dir, "events.ndjson")
	if err := run([]string{"-events", "5", "-out", file}, &out); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(file); bytes.Count(b, []byte("\n")) != 5 {
		t.Fatal("-out file does not hold 5 lines")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-format", "xml"},
		{"-opsworks-share", "1.5"},
		{"-format", "archive"},
		{"-start", "yesterday"},
		{"extra"},
	} {
		if err := run(args, new(bytes.Buffer)); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
