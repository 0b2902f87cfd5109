package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exit_on_eof through the stand-in proxy: the input asks the engine to stop
// (flb_engine_exit_status on the configuration it found through the
// executable's ctx and checked against its instance) once the window is
// read and every batch committed, with 0 when everything was delivered and
// 2 when an object was unusable; a second run over the same state ends at
// once; without a usable engine context init fails instead of never
// ending.
func TestInputExitOnEOF(t *testing.T) {
	inputArtifacts(t)
	dir, files := writeLocalArchive(t, testArchive())
	want := opsworksEventIDs(t, files)
	state := t.TempDir()
	props := map[string]string{"path": dir, "state_dir": state, "batch_size": "8K", "exit_on_eof": "on"}
	// No --idle-exit: only exit_on_eof can end the run before 1,500 ticks.
	const noIdle = "0"

	first := runInput(t, nil, props, "--idle-exit", noIdle)
	if first.exit != 0 || !strings.Contains(first.log, "engine_exit 0\n") || strings.Contains(first.log, "violation") {
		t.Fatalf("exit %d, want 0 after engine_exit 0:\n%s", first.exit, first.log)
	}
	if !strings.Contains(first.log, "exit_on_eof: the window is read and committed, every object was delivered") ||
		strings.Contains(first.log, "did not accept the stop request") {
		t.Fatalf("missing exit_on_eof log line, or a stop taken for a failure:\n%s", first.log)
	}
	// The stop came after the last collect: nothing was collected once the
	// engine was asked to stop.
	if i, j := strings.LastIndex(first.log, "collect "), strings.Index(first.log, "engine_exit"); i > j {
		t.Fatalf("collected after the stop request:\n%s", first.log)
	}
	assertExactlyOnce(t, want, deliveredIDs(t, first.records, "file_path"))

	again := runInput(t, nil, props, "--idle-exit", noIdle)
	if again.exit != 0 || !strings.Contains(again.log, "engine_exit 0\n") || len(again.records) != 0 {
		t.Fatalf("second run: exit %d, %d records, want 0 and none:\n%s", again.exit, len(again.records), again.log)
	}
	if n := strings.Count(again.log, "\n"); strings.Contains(again.log, "collect ") || n > 40 {
		t.Fatalf("second run did more than stop:\n%s", again.log)
	}

	// An unusable object: everything else is delivered, the exit code is 2.
	bad := filepath.Join(dir, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2024", "05", "31",
		"111122223333_CloudTrail_us-east-1_20240531T2355Z_broken.json.gz")
	if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	props["state_dir"] = t.TempDir()
	broken := runInput(t, nil, props, "--idle-exit", noIdle)
	if broken.exit != 2 || !strings.Contains(broken.log, "engine_exit 2\n") || !strings.Contains(broken.log, "were unusable") {
		t.Fatalf("exit %d, want 2 with an unusable object:\n%s", broken.exit, broken.log)
	}
	var events []map[string]any
	for _, r := range broken.records {
		if r["opsworks_error"] == nil {
			events = append(events, r)
		}
	}
	assertExactlyOnce(t, want, deliveredIDs(t, events, "file_path"))

	// No usable engine: init fails with the reason, before reading anything.
	for name, extra := range map[string][]string{
		"no context":        {"--no-lib-ctx"},
		"another's context": {"--config-offset", "-1"},
		"hot reload":        {"--reloading"},
	} {
		r := runInput(t, nil, props, append([]string{"--ticks", "5"}, extra...)...)
		if r.exit != 3 || !strings.Contains(r.log, "exit_on_eof: cannot stop Fluent Bit from this input") {
			t.Errorf("%s: exit %d, want an init failure naming exit_on_eof:\n%s", name, r.exit, r.log)
		}
	}

	// A followed archive has no end.
	props["follow"] = "on"
	r := runInput(t, nil, props, "--ticks", "3")
	if r.exit != 3 || !strings.Contains(r.log, "exit_on_eof: cannot be combined with follow on") {
		t.Fatalf("follow on: exit %d:\n%s", r.exit, r.log)
	}
}
