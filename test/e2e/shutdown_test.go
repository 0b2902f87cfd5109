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
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
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

// exitConf is cloudtrail_s3 (exit_on_eof on, inputKeys) → opsworks (retag
// on) → one file output for everything: the re-tagged events, whatever
// stays under the incoming tag and the error records.
func exitConf(p *pipeline, in, filterSO, inputKeys, out string) string {
	writePlugins(p, in, filterSO)
	keys := sectionLines(inputKeys)
	return fmt.Sprintf(`[SERVICE]
    Flush        1
    Grace        10
    Log_Level    info
    plugins_file %s

[INPUT]
    Name         cloudtrail_s3
    Tag          cloudtrail
    exit_on_eof  on
%s
[FILTER]
    Name   opsworks
    Match  cloudtrail

[OUTPUT]
    Name   file
    Match  *
    Path   %s
    File   %s
`, p.path("plugins.conf"), keys, p.dir, out)
}

// exitRun runs conf until Fluent Bit ends by itself and returns its exit
// code, its log and the OpsWorks events of out by eventID (error records
// are counted apart).
func exitRun(t *testing.T, bin string, p *pipeline, conf, out string, want map[string]bool) (code int, log string, seen map[string]int, errorRecords int) {
	t.Helper()
	cfg := p.write("fluent-bit.conf", conf)
	start := time.Now()
	b, err, stopped := runToExit(bin, cfg, 120*time.Second)
	log = string(b)
	if !stopped {
		t.Fatalf("Fluent Bit did not end by itself with exit_on_eof on\n%s", log)
	}
	seen = map[string]int{}
	for _, e := range readOutput(t, p.path(out)) {
		if e.Body["opsworks_error"] != nil {
			errorRecords++
			continue
		}
		id, _ := e.Body["eventID"].(string)
		if !want[id] {
			t.Fatalf("unexpected record %v", e.Body)
		}
		seen[id]++
	}
	t.Logf("ended by itself after %s with exit code %d", time.Since(start).Round(100*time.Millisecond), exitCode(err))
	if strings.Contains(log, "did not accept the stop request") {
		t.Fatalf("the input took its stop request for a failure\n%s", log)
	}
	return exitCode(err), log, seen, errorRecords
}

// checkAll fails unless seen holds every wanted event exactly once.
func checkAll(t *testing.T, what string, want map[string]bool, seen map[string]int, log string) {
	t.Helper()
	dup := 0
	for _, n := range seen {
		dup += n - 1
	}
	t.Logf("%s: expected %d, delivered %d, duplicated %d", what, len(want), len(seen), dup)
	if len(seen) != len(want) || dup != 0 {
		t.Fatalf("%s: %d of %d OpsWorks events delivered, %d duplicated\n%s", what, len(seen), len(want), dup, log)
	}
}

// cloudtrail_s3 with exit_on_eof: a bounded backfill ends Fluent Bit by
// itself once everything was collected and committed, the re-tagged events
// still reach the output, and the exit code says whether the record is
// complete (0) or objects were unusable (2). A second run over the same
// state_dir reads nothing and ends at once.
func TestRealFluentBitInputExitOnEOF(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)

	t.Run("local", func(t *testing.T) {
		archive, want := localArchive(t, corpus.Options{Seed: 31, Events: 4000, OpsWorksShare: 0.2, EventsPerFile: 20})
		for run := 1; run <= 3; run++ {
			p := newPipeline(t)
			state := t.TempDir()
			keys := fmt.Sprintf("path %s\nstate_dir %s\nbatch_size 512K", archive, state)
			code, log, seen, _ := exitRun(t, bin, p, exitConf(p, in, filterSO, keys, "events.out"), "events.out", want)
			if code != 0 {
				t.Fatalf("run %d: exit code %d, want 0\n%s", run, code, log)
			}
			checkAll(t, fmt.Sprintf("run %d", run), want, seen, log)
			if run == 3 {
				p2 := newPipeline(t)
				start := time.Now()
				code, log, seen, _ = exitRun(t, bin, p2, exitConf(p2, in, filterSO, keys, "again.out"), "again.out", want)
				if code != 0 || len(seen) != 0 {
					t.Fatalf("second run over the same state_dir: exit %d, %d events; want 0 and none\n%s", code, len(seen), log)
				}
				if d := time.Since(start); d > 30*time.Second {
					t.Fatalf("second run took %s to end", d)
				}
			}
		}
	})

	t.Run("minio", func(t *testing.T) {
		srv := s3test.MinIO(t)
		srv.CreateBucket(t, "trail")
		o := corpus.Options{Seed: 32, Events: 3000, OpsWorksShare: 0.2, EventsPerFile: 25}
		files := corpus.LogFiles(o)
		srv.UploadArchive(t, "trail", files, true)
		want := opsworksIDs(t, files)
		t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
		t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		p := newPipeline(t)
		keys := fmt.Sprintf("bucket trail\nregion us-east-1\nendpoint %s\nforce_path_style on\nstate_dir %s", srv.Endpoint, t.TempDir())
		code, log, seen, _ := exitRun(t, bin, p, exitConf(p, in, filterSO, keys, "events.out"), "events.out", want)
		if code != 0 {
			t.Fatalf("exit code %d, want 0\n%s", code, log)
		}
		checkAll(t, "minio", want, seen, log)
	})

	t.Run("unusable object", func(t *testing.T) {
		archive, want := localArchive(t, corpus.Options{Seed: 33, Events: 1500, OpsWorksShare: 0.2, EventsPerFile: 20})
		bad := filepath.Join(archive, "AWSLogs", "111122223333", "CloudTrail", "us-east-1", "2024", "05", "31",
			"111122223333_CloudTrail_us-east-1_20240531T2355Z_broken.json.gz")
		if err := os.MkdirAll(filepath.Dir(bad), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad, []byte("not gzip"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := newPipeline(t)
		keys := fmt.Sprintf("path %s\nstate_dir %s", archive, t.TempDir())
		code, log, seen, errs := exitRun(t, bin, p, exitConf(p, in, filterSO, keys, "events.out"), "events.out", want)
		if code != 2 || errs != 1 {
			t.Fatalf("exit code %d and %d error records, want 2 and 1\n%s", code, errs, log)
		}
		checkAll(t, "unusable object", want, seen, log)
	})
}

// SIGTERM in the middle of a backfill (memory buffering, retag on): Fluent
// Bit's Grace period delivers what the input had handed over, the input
// commits exactly that, and a restart with exit_on_eof delivers the rest:
// no event is missing, and none is duplicated.
func TestRealFluentBitInputSIGTERMMidRun(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	archive, want := localArchive(t, corpus.Options{Seed: 34, Events: 6000, OpsWorksShare: 0.2, EventsPerFile: 20})
	state := t.TempDir()
	for run := 1; run <= 3; run++ {
		p := newPipeline(t)
		// workers 1 and small batches keep the run long enough to stop it midway.
		keys := fmt.Sprintf("path %s\nstate_dir %s\nbatch_size 48K\nworkers 1", archive, state)
		conf := strings.Replace(exitConf(p, in, filterSO, keys, "first.out"), "    exit_on_eof  on\n", "", 1)
		log := p.run(bin, conf, func() bool { return countLines(p.path("first.out")) >= len(want)/(2+run) })
		first := deliveredIDs(t, p.path("first.out"), want)
		if len(first) == 0 || len(first) >= len(want) {
			t.Fatalf("run %d: SIGTERM came at %d of %d events; the test needs it mid-run\n%s", run, len(first), len(want), log)
		}
		if !strings.Contains(log, "stopped") {
			t.Fatalf("run %d: no stop summary from the input\n%s", run, log)
		}
		p2 := newPipeline(t)
		code, log2, rest, _ := exitRun(t, bin, p2, exitConf(p2, in, filterSO, fmt.Sprintf("path %s\nstate_dir %s", archive, state), "second.out"), "second.out", want)
		if code != 0 {
			t.Fatalf("run %d: restart exit code %d\n%s", run, code, log2)
		}
		all := map[string]int{}
		for id, n := range first {
			all[id] += n
		}
		for id, n := range rest {
			all[id] += n
		}
		checkAll(t, fmt.Sprintf("run %d (%d before SIGTERM, %d after the restart)", run, len(first), len(rest)), want, all, log+log2)
		// The next run starts over from an empty checkpoint.
		if err := os.RemoveAll(state); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(state, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// A small emitter_mem_buf_limit and a slow flush: the emitter pauses, the
// filter's direct append is refused and in_emitter_add_record registers
// the input, which is then paused with the emitter. Every event arrives,
// under its variant's tag or (refused) under the incoming tag, and
// exit_on_eof still ends the run with everything delivered.
func TestRealFluentBitEmitterPressure(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	archive, want := localArchive(t, corpus.Options{Seed: 35, Events: 1500, OpsWorksShare: 1, EventsPerFile: 40})
	p := newPipeline(t)
	conf := exitConf(p, in, filterSO, fmt.Sprintf("path %s\nbatch_size 256K", archive), "events.out")
	conf = strings.Replace(conf, "    Flush        1\n", "    Flush        3\n", 1)
	conf = strings.Replace(conf, "    Match  cloudtrail\n", "    Match  cloudtrail\n    emitter_mem_buf_limit 100K\n", 1)
	code, log, seen, _ := exitRun(t, bin, p, conf, "events.out", want)
	if code != 0 {
		t.Fatalf("exit code %d\n%s", code, log)
	}
	checkAll(t, "emitter under pressure", want, seen, log)
	if !strings.Contains(log, "emitter_for_opsworks.0 paused") || strings.Contains(log, "emitter_refused=0 emitter_lost=0") {
		t.Fatalf("the emitter never refused or queued: the test did not exercise the fallback\n%s", log)
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "emitter_refused=") {
			t.Log(strings.TrimSpace(l))
		}
	}
}

// A filesystem emitter and an output with storage.total_limit_size: when the
// limit is reached Fluent Bit evicts chunks of other inputs to make room for
// the emitter's. The filter never appends from inside the source chunk's
// filter pass (where that eviction could free the chunk being filtered), so
// the run ends normally; what Fluent Bit's own limit evicts is its choice.
func TestRealFluentBitFilesystemEmitterWithTotalLimit(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	archive, want := localArchive(t, corpus.Options{Seed: 36, Events: 2000, OpsWorksShare: 1, EventsPerFile: 40})
	p := newPipeline(t)
	conf := exitConf(p, in, filterSO, fmt.Sprintf("path %s\nbatch_size 256K\nstorage.type filesystem", archive), "events.out")
	conf = strings.Replace(conf, "    Log_Level    info\n", fmt.Sprintf("    Log_Level    info\n    storage.path %s\n", t.TempDir()), 1)
	conf = strings.Replace(conf, "    Match  cloudtrail\n", "    Match  cloudtrail\n    emitter_storage.type filesystem\n", 1)
	conf = strings.Replace(conf, "    Match  *\n", "    Match  *\n    storage.total_limit_size 200K\n", 1)
	conf = strings.Replace(conf, "    Flush        1\n", "    Flush        2\n", 1)
	cfg := p.write("fluent-bit.conf", conf)
	out, err, stopped := runToExit(bin, cfg, 120*time.Second)
	if !stopped {
		t.Fatalf("Fluent Bit did not end by itself\n%s", out)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() < 0 {
		t.Fatalf("Fluent Bit died of a signal: %v\n%s", err, out)
	}
	if exitCode(err) != 0 {
		t.Fatalf("exit %d\n%s", exitCode(err), out)
	}
	seen := deliveredIDs(t, p.path("events.out"), want)
	t.Logf("delivered %d of %d with storage.total_limit_size 200K (Fluent Bit evicts the rest by design)", len(seen), len(want))
}
