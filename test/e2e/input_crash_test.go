package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// crashConf is the crash-safe configuration the README documents: the
// input's and the filter's emitter's chunks on disk (storage.path,
// storage.type filesystem, emitter_storage.type filesystem) and the
// input's checkpoint in state_dir.
func crashConf(p *pipeline, in, filterSO, archive, state, storage, outFile, retag string) string {
	match := "opsworks.*"
	if retag == "off" {
		match = "cloudtrail"
	}
	writePlugins(p, in, filterSO)
	return fmt.Sprintf(`[SERVICE]
    Flush         1
    Grace         3
    Log_Level     info
    plugins_file  %s
    storage.path  %s
    storage.sync  full

[INPUT]
    Name          cloudtrail_s3
    Tag           cloudtrail
    path          %s
    state_dir     %s
    batch_size    128K
    workers       1
    storage.type  filesystem

[FILTER]
    Name                  opsworks
    Match                 cloudtrail
    retag                 %s
    emitter_storage.type  filesystem

[OUTPUT]
    Name   file
    Match  %s
    Path   %s
    File   %s
`, p.path("plugins.conf"), storage, archive, state, retag, match, p.dir, outFile)
}

// SIGKILL in the middle of a backfill, then a restart with the same
// state_dir and storage.path: with the crash-safe configuration (the
// input's and the emitter's chunks on disk) every OpsWorks event reaches
// the output at least once, retag on or off. Before the plugin delayed its
// commits past Fluent Bit's ring buffer, 80 of 1,200 were lost here.
func TestRealFluentBitInputKillAndRestart(t *testing.T) {
	for _, retag := range []string{"on", "off"} {
		t.Run("retag "+retag, func(t *testing.T) { killAndRestart(t, retag) })
	}
}

func killAndRestart(t *testing.T, retag string) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	o := corpus.Options{Seed: 11, Events: 4000, OpsWorksShare: 0.3, EventsPerFile: 20}
	archive, want := localArchive(t, o)
	state, storage := t.TempDir(), t.TempDir()
	p := newPipeline(t)
	conf := p.write("fluent-bit.conf", crashConf(p, in, filterSO, archive, state, storage, "first.out", retag))
	first, second := p.path("first.out"), p.path("second.out")

	// First run: killed once part of the archive reached the output.
	logFile, err := os.Create(p.path("fluent-bit-1.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(40 * time.Second)
	for countLines(first) < len(want)/4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	firstEvents := readKilledOutput(t, first)
	before := len(firstEvents)
	if before == 0 || before >= len(want) {
		log1, _ := os.ReadFile(p.path("fluent-bit-1.log"))
		t.Fatalf("the kill came at %d of %d events: the test needs it mid-run\n%s", before, len(want), log1)
	}

	// Second run: the backlog on disk and the rest of the archive.
	ids := func() map[string]int {
		n := map[string]int{}
		for _, e := range append(append([]outRecord(nil), firstEvents...), readKilledOutput(t, second)...) {
			id, _ := e.Body["eventID"].(string)
			n[id]++
		}
		return n
	}
	log := p.run(bin, crashConf(p, in, filterSO, archive, state, storage, "second.out", retag), func() bool {
		return strings.Contains(readLog(p), "backfill finished") && len(ids()) >= len(want)
	})
	got := append(firstEvents, readOutput(t, second)...)
	seen := map[string]int{}
	for _, e := range got {
		id, _ := e.Body["eventID"].(string)
		if !want[id] {
			t.Fatalf("unexpected event %q", id)
		}
		seen[id]++
	}
	dup := len(got) - len(seen)
	t.Logf("expected %d, delivered %d distinct (%d lines, %d duplicates); %d had reached the output before the kill",
		len(want), len(seen), len(got), dup, before)
	if len(seen) != len(want) {
		t.Fatalf("after SIGKILL and restart %d of %d OpsWorks events were delivered\n%s", len(seen), len(want), log)
	}
}

// readKilledOutput is readOutput of a file whose writer may have been
// killed mid-line: a last line without its newline is left out (it was
// not delivered whole).
func readKilledOutput(t *testing.T, path string) []outRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	whole := b[:strings.LastIndexByte(string(b), '\n')+1]
	tmp := path + ".whole"
	if err := os.WriteFile(tmp, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	return readOutput(t, tmp)
}
