package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const logFileFixture = "testdata/trail/AWSLogs/111122223333/CloudTrail/us-east-1/2021/03/04/111122223333_CloudTrail_us-east-1_20210304T0005Z_bbbb.json"

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Directories outside the AWSLogs/ layout: the window applies to every file
// whose CloudTrail name carries a delivery time; undated files are read and
// said to be; NDJSON files are read; anything else is named as skipped.
func TestDirectoriesOutsideTheLayout(t *testing.T) {
	dir := t.TempDir()
	// Delivered 2021-03-04 according to its name, outside AWSLogs/.
	copyFile(t, logFileFixture, filepath.Join(dir, "some", "dir", "111122223333_CloudTrail_us-east-1_20210304T0005Z_bbbb.json"))
	n := func(args ...string) (int, int, string) {
		code, lines, stderr := runCLI(t, "", args...)
		return code, len(lines), stderr
	}
	code, all, stderr := n("-progress", "off", dir)
	if code != exitOK || all == 0 {
		t.Fatalf("dated file: exit %d, %d events\n%s", code, all, stderr)
	}
	if code, got, stderr := n("-progress", "off", "-until", "2021-01-01", dir); code != exitOK || got != 0 {
		t.Fatalf("-until before its delivery: exit %d, %d events (the window must apply)\n%s", code, got, stderr)
	}
	if code, got, _ := n("-progress", "off", "-since", "2021-03-04", "-until", "2021-03-05", dir); code != exitOK || got != all {
		t.Fatalf("window around its delivery: exit %d, %d events, want %d", code, got, all)
	}

	// An undated copy is read whatever the window, and said to be.
	copyFile(t, logFileFixture, filepath.Join(dir, "undated.json"))
	code, got, stderr := n("-progress", "off", "-until", "2021-01-01", dir)
	if code != exitOK || got != all || !strings.Contains(stderr, "1 files outside the CloudTrail layout have no delivery time") {
		t.Fatalf("undated file: exit %d, %d events (want %d)\n%s", code, got, all, stderr)
	}

	// NDJSON is read; other files are named by reason (-v: by name).
	copyFile(t, "testdata/events.ndjson", filepath.Join(dir, "events.ndjson"))
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, fromNDJSON, _ := n("testdata/events.ndjson")
	code, got, stderr = n("-progress", "off", "-v", dir)
	if code != exitOK || fromNDJSON == 0 || got != 2*all+fromNDJSON {
		t.Fatalf("with events.ndjson: exit %d, %d events, want %d\n%s", code, got, 2*all+fromNDJSON, stderr)
	}
	if !strings.Contains(stderr, "skipped: not .json or .json.gz: 1") || !strings.Contains(stderr, "README.txt") {
		t.Fatalf("README.txt not reported:\n%s", stderr)
	}
}
