package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

var (
	inputOnce sync.Once
	inputSO   string
	inputErr  error
)

// inputPluginSO builds in_cloudtrail_s3.so once per test run.
func inputPluginSO(t *testing.T) string {
	t.Helper()
	inputOnce.Do(func() {
		dir, err := os.MkdirTemp("", "opsworks-e2e-in-*")
		if err != nil {
			inputErr = err
			return
		}
		inputSO = filepath.Join(dir, "in_cloudtrail_s3.so")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", inputSO, "./plugin/cloudtrail_s3")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			inputErr = fmt.Errorf("building the input plugin: %v\n%s", err, out)
		}
	})
	if inputErr != nil {
		t.Fatal(inputErr)
	}
	return inputSO
}

// opsworksIDs returns the eventIDs and variants' sources of the archive's OpsWorks events.
func opsworksIDs(t *testing.T, files []corpus.File) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, f := range files {
		var doc struct{ Records []map[string]any }
		if err := json.Unmarshal(f.Body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, ev := range doc.Records {
			if s := ev["eventSource"]; s == "opsworks.amazonaws.com" || s == "opsworks-cm.amazonaws.com" {
				ids[ev["eventID"].(string)] = true
			}
		}
	}
	return ids
}

// localArchive writes o's archive (gzipped, real key layout) and returns its
// directory and the eventIDs of its OpsWorks events.
func localArchive(t *testing.T, o corpus.Options) (string, map[string]bool) {
	t.Helper()
	dir := t.TempDir()
	if _, err := corpus.WriteArchive(dir, o, true); err != nil {
		t.Fatal(err)
	}
	return dir, opsworksIDs(t, corpus.LogFiles(o))
}

// assertOnce checks that events hold every wanted eventID exactly once and
// nothing else; check, when set, inspects each event.
func assertOnce(t *testing.T, want map[string]bool, events []outRecord, log string, check func(outRecord)) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range events {
		id, _ := e.Body["eventID"].(string)
		if !want[id] || seen[id] {
			t.Fatalf("unexpected or duplicate event %s", id)
		}
		seen[id] = true
		if check != nil {
			check(e)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("delivered %d of %d OpsWorks events\n%s", len(seen), len(want), log)
	}
}

// writePlugins writes the plugins.conf that loads both plugins.
func writePlugins(p *pipeline, in, filterSO string) {
	p.write("plugins.conf", fmt.Sprintf("[PLUGINS]\n    Path %s\n    Path %s\n", in, filterSO))
}

// sectionLines indents "key value" lines as the keys of a section.
func sectionLines(keys string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(keys), "\n") {
		b.WriteString("    " + strings.TrimSpace(line) + "\n")
	}
	return b.String()
}

// inputConf is cloudtrail_s3 (with inputKeys, "key value" lines) →
// opsworks → file events.out, with both plugins loaded.
func inputConf(p *pipeline, in, filterSO, inputKeys string) string {
	writePlugins(p, in, filterSO)
	keys := sectionLines(inputKeys)
	return fmt.Sprintf(`[SERVICE]
    Flush        0.2
    Grace        3
    Log_Level    info
    plugins_file %s

[INPUT]
    Name        cloudtrail_s3
    Tag         cloudtrail
%s
[FILTER]
    Name   opsworks
    Match  cloudtrail

[OUTPUT]
    Name   file
    Match  opsworks.*
    Path   %s
    File   events.out
`, p.path("plugins.conf"), keys, p.dir)
}

// inputPipeline reads a local archive.
func inputPipeline(p *pipeline, in, filterSO, archive, state string) string {
	return inputConf(p, in, filterSO, fmt.Sprintf("path %s\nstate_dir %s\nbatch_size 64K", archive, state))
}

// cloudtrail_s3 → opsworks → file in real Fluent Bit: every OpsWorks event of
// the archive once, tagged by variant, with its source file; a restart with
// the same state_dir delivers nothing again.
func TestRealFluentBitInputLocalArchive(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	o := corpus.Options{Seed: 5, Events: 2000, OpsWorksShare: 0.15, EventsPerFile: 25}
	archive, want := localArchive(t, o)
	state := t.TempDir()

	p := newPipeline(t)
	log := p.run(bin, inputPipeline(p, in, filterSO, archive, state), func() bool {
		return countLines(p.path("events.out")) >= len(want) && strings.Contains(readLog(p), "backfill finished")
	})
	assertOnce(t, want, readOutput(t, p.path("events.out")), log, func(e outRecord) {
		if e.Tag != "opsworks."+fmt.Sprint(e.Body["opsworks_variant"]) {
			t.Fatalf("tag %s vs variant %v", e.Tag, e.Body["opsworks_variant"])
		}
		if fp, _ := e.Body["file_path"].(string); !strings.HasPrefix(fp, "AWSLogs/") {
			t.Fatalf("file_path provenance missing: %v", e.Body)
		}
	})

	p2 := newPipeline(t)
	log2 := p2.run(bin, inputPipeline(p2, in, filterSO, archive, state), func() bool {
		return strings.Contains(readLog(p2), "backfill finished")
	})
	if n := countLines(p2.path("events.out")); n != 0 {
		t.Fatalf("restart re-sent %d events\n%s", n, log2)
	}
}

func readLog(p *pipeline) string {
	b, _ := os.ReadFile(p.path("fluent-bit.log"))
	return string(b)
}

// cloudtrail_s3 in S3 mode against a real MinIO, in real Fluent Bit.
func TestRealFluentBitInputMinIO(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, "trail")
	o := corpus.Options{Seed: 6, Events: 2000, OpsWorksShare: 0.15, EventsPerFile: 25, OrgID: "o-e2etest123"}
	files := corpus.LogFiles(o)
	srv.UploadArchive(t, "trail", files, true)
	want := opsworksIDs(t, files)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	p := newPipeline(t)
	conf := inputConf(p, in, filterSO, fmt.Sprintf(`bucket trail
		org_id o-e2etest123
		region us-east-1
		endpoint %s
		force_path_style on
		state_dir %s`, srv.Endpoint, t.TempDir()))
	log := p.run(bin, conf, func() bool {
		return countLines(p.path("events.out")) >= len(want) && strings.Contains(readLog(p), "backfill finished")
	})
	assertOnce(t, want, readOutput(t, p.path("events.out")), log, func(e outRecord) {
		if e.Body["s3_bucket"] != "trail" || !strings.HasPrefix(fmt.Sprint(e.Body["s3_key"]), "AWSLogs/o-e2etest123/") {
			t.Fatalf("provenance: %v", e.Body)
		}
	})
	if strings.Contains(log, srv.SecretKey) {
		t.Fatal("the secret key appears in Fluent Bit's log")
	}
}

// Backpressure: records wait in the input's buffer (retag off, a slow flush)
// until Mem_Buf_Limit is reached; Fluent Bit pauses the input
// (FLBPluginInputPause), flushes, resumes it (FLBPluginInputResume). The input
// stops reading while paused and continues; every event arrives exactly once.
// (What the filter's emitter refuses under pressure is tested by the harness.)
func TestRealFluentBitInputBackpressure(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	o := corpus.Options{Seed: 7, Events: 1500, OpsWorksShare: 1, EventsPerFile: 40}
	archive, want := localArchive(t, o)
	p := newPipeline(t)
	writePlugins(p, in, filterSO)
	conf := fmt.Sprintf(`[SERVICE]
    Flush        3
    Grace        4
    Log_Level    info
    plugins_file %s

[INPUT]
    Name           cloudtrail_s3
    Tag            cloudtrail
    path           %s
    batch_size     256K
    Mem_Buf_Limit  300K

[FILTER]
    Name   opsworks
    Match  cloudtrail
    retag  off

[OUTPUT]
    Name   file
    Match  cloudtrail
    Path   %s
    File   events.out
`, p.path("plugins.conf"), archive, p.dir)
	log := p.run(bin, conf, func() bool { return countLines(p.path("events.out")) >= len(want) })
	assertOnce(t, want, readOutput(t, p.path("events.out")), log, nil)
	if !strings.Contains(log, "cloudtrail_s3.0 paused") || !strings.Contains(log, "cloudtrail_s3.0 resume") {
		t.Fatalf("Fluent Bit never paused and resumed the input; the test does not exercise backpressure:\n%s", log)
	}
}
