package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// shutdownRuns is how many times each shutdown scenario runs: a loss at
// shutdown is a race, so one clean run proves little.
const shutdownRuns = 5

// ndjsonLogFiles writes o's log files as NDJSON, one CloudTrail log file per
// line, spread over n files (the shape `aws s3 cp … - | gzip -dc` produces
// and the README's tail pipeline reads), and returns the glob and the
// OpsWorks eventIDs.
func ndjsonLogFiles(t *testing.T, o corpus.Options, n int) (string, map[string]bool) {
	t.Helper()
	dir := t.TempDir()
	files := corpus.LogFiles(o)
	var bufs = make([]bytes.Buffer, n)
	for i, f := range files {
		if err := json.Compact(&bufs[i%n], f.Body); err != nil {
			t.Fatal(err)
		}
		bufs[i%n].WriteByte('\n')
	}
	for i := range bufs {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%02d.ndjson", i)), bufs[i].Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "*.ndjson"), opsworksIDs(t, files)
}

// tailExitConf is tail (exit_on_eof) → opsworks (retag on, defaults) →
// file, with the incoming tag routed to the same file as the README says
// (records the emitter cannot take stay under it).
func tailExitConf(p *pipeline, so, glob, out string) string {
	return header(p, so) + fmt.Sprintf(`
[INPUT]
    Name            tail
    Path            %s
    Tag             ct
    Parser          json
    Read_from_Head  on
    Exit_On_Eof     on
    Buffer_Max_Size 1M
    Buffer_Chunk_Size 256K

[FILTER]
    Name   opsworks
    Match  ct

[OUTPUT]
    Name   file
    Match_Regex ^(opsworks\..*|ct)$
    Path   %s
    File   %s
`, glob, p.dir, out)
}

// deliveredIDs counts the OpsWorks events of a file output by eventID and
// checks that nothing else is in it.
func deliveredIDs(t *testing.T, path string, want map[string]bool) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, e := range readOutput(t, path) {
		id, _ := e.Body["eventID"].(string)
		if !want[id] {
			t.Fatalf("%s: unexpected record %v", path, e.Body)
		}
		if e.Tag != "opsworks."+fmt.Sprint(e.Body["opsworks_variant"]) && e.Tag != "ct" {
			t.Fatalf("%s: event %s under tag %s", path, id, e.Tag)
		}
		seen[id]++
	}
	return seen
}

// tail with Exit_On_Eof ends Fluent Bit as soon as the files are read; the
// events the filter re-tagged must still reach the output. Fluent Bit's
// emitter queues them and loses the queue when the engine pauses its
// inputs (measured before the filter appended them itself: 168 of 733
// missing on an idle machine; rewrite_tag loses them too).
func TestRealFluentBitTailExitOnEOFLosesNothing(t *testing.T) {
	bin := fluentBit(t)
	so := pluginSO(t)
	glob, want := ndjsonLogFiles(t, corpus.Options{Seed: 21, Events: 6000, OpsWorksShare: 0.12, EventsPerFile: 250}, 30)
	for run := 1; run <= shutdownRuns; run++ {
		p := newPipeline(t)
		cfg := p.write("fluent-bit.conf", tailExitConf(p, so, glob, "events.out"))
		out, err, stopped := runToExit(bin, cfg, 60*time.Second)
		if !stopped {
			t.Fatalf("run %d: Fluent Bit did not exit by itself\n%s", run, out)
		}
		if err != nil {
			t.Fatalf("run %d: exit: %v\n%s", run, err, out)
		}
		seen := deliveredIDs(t, p.path("events.out"), want)
		dup := 0
		for _, n := range seen {
			dup += n - 1
		}
		t.Logf("run %d: expected %d, delivered %d, duplicated %d", run, len(want), len(seen), dup)
		if len(seen) != len(want) || dup != 0 {
			t.Fatalf("run %d: %d of %d OpsWorks events delivered (%d duplicated) at Exit_On_Eof\n%s", run, len(seen), len(want), dup, out)
		}
		if strings.Contains(string(out), "emitter refused") {
			t.Logf("run %d: the emitter refused records (kept under the incoming tag):\n%s", run, out)
		}
	}
}

// exitCode is the process's exit status from a runToExit error.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
