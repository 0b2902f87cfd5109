//go:build linux || darwin

package cloudtrail

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/tidwall/gjson"
)

// The baseline that keeps the hand-written splitter (split.go) honest: the
// same job done with gjson, benchmarked on the same corpus. It is test code
// only.

// gjsonSplitRecords does what splitRecords does with gjson: validate the
// whole document, then call fn with the raw bytes of each element of its
// first top-level "Records" array and, when source is set, the raw value of
// the element's first top-level string eventSource (nil otherwise). The
// bytes are slices of doc, as splitRecords gives them.
//
// gjson is given its best case: the document is read through a string
// that shares doc's memory (gjson.GetBytes would copy the Records array
// first), and the push-down's gjson lookup runs only when asked for.
func gjsonSplitRecords(doc []byte, source bool, fn func(event, source []byte)) error {
	if !gjson.ValidBytes(doc) {
		return errors.New("not valid JSON")
	}
	top := gjson.Parse(unsafe.String(unsafe.SliceData(doc), len(doc)))
	if !top.IsObject() {
		return errors.New("not an object")
	}
	records := top.Get("Records")
	switch {
	case !records.Exists():
		return errors.New(`no "Records"`)
	case !records.IsArray():
		return errors.New(`"Records" is not an array`)
	}
	records.ForEach(func(_, ev gjson.Result) bool {
		var src []byte
		if source && ev.IsObject() {
			if s := ev.Get("eventSource"); s.Type == gjson.String {
				src = doc[s.Index+1 : s.Index+len(s.Raw)-1]
			}
		}
		fn(doc[ev.Index:ev.Index+len(ev.Raw)], src)
		return true
	})
	return nil
}

// splitCorpus generates the log files the splitters are compared on, with
// this share of OpsWorks events. "files" are those of BenchmarkPushDown
// (20000 events over a day, 3 accounts and 6 regions: some 4700 files of
// 4 KB median); "bigfile" is one log file of 5000 events (a busy account's
// 5 minutes in one region, some 7 MB).
func splitCorpus(shape string, share float64) [][]byte {
	o := corpus.Options{Seed: 3, Events: 20000, OpsWorksShare: share, EventsPerFile: 500}
	if shape == "bigfile" {
		end := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
		o = corpus.Options{Seed: 3, Events: 5000, OpsWorksShare: share, EventsPerFile: 5000,
			Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"}, Start: end.Add(-5 * time.Minute), End: end}
	}
	var out [][]byte
	for _, f := range corpus.LogFiles(o) {
		out = append(out, f.Body)
	}
	return out
}

type splitEvent struct {
	event, source []byte
}

func splitAll(t *testing.T, doc []byte, gj bool) ([]splitEvent, error) {
	t.Helper()
	var out []splitEvent
	fn := func(ev, src []byte) { out = append(out, splitEvent{ev, src}) }
	if gj {
		return out, gjsonSplitRecords(doc, true, fn)
	}
	return out, splitRecords(doc, fn)
}

func sameEvents(a, b []splitEvent) error {
	if len(a) != len(b) {
		return fmt.Errorf("%d events, %d with gjson", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].event, b[i].event) {
			return fmt.Errorf("event %d: %q, %q with gjson", i, a[i].event, b[i].event)
		}
		if !bytes.Equal(a[i].source, b[i].source) || (a[i].source == nil) != (b[i].source == nil) {
			return fmt.Errorf("event %d: eventSource %q, %q with gjson", i, a[i].source, b[i].source)
		}
	}
	return nil
}

// TestGJSONSplitterEquivalent: on the benchmarks' corpus and on the
// splitter's test documents, the gjson baseline gives the same events
// (bytes) and eventSource values, and fails where splitRecords fails.
func TestGJSONSplitterEquivalent(t *testing.T) {
	cfg, err := filter.LoadConfig(config.MapGetter{"source_key": "log"})
	if err != nil {
		t.Fatal(err)
	}
	match := newSourceMatcher(cfg.PushDownSources())
	for _, mix := range []struct {
		shape        string
		share        float64
		events, kept int // kept by the push-down
	}{{"files", 1, 20000, 20000}, {"files", 0.01, 20000, 200}, {"bigfile", 1, 5000, 5000}, {"bigfile", 0.01, 5000, 50}} {
		share := mix.share
		files := splitCorpus(mix.shape, share)
		if mix.shape == "bigfile" && len(files) != 1 {
			t.Fatalf("bigfile: %d files", len(files))
		}
		events, kept := 0, 0
		for i, doc := range files {
			want, err := splitAll(t, doc, false)
			if err != nil {
				t.Fatal(err)
			}
			got, err := splitAll(t, doc, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := sameEvents(want, got); err != nil {
				t.Fatalf("%s, share %v, file %d: %v", mix.shape, share, i, err)
			}
			events += len(want)
			for _, e := range want {
				if match.keep(e.source) {
					kept++
				}
			}
		}
		if events != mix.events || kept != mix.kept {
			t.Fatalf("%s, share %v: %d events, %d kept; want %d, %d", mix.shape, share, events, kept, mix.events, mix.kept)
		}
	}
	docs, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	if len(docs) == 0 {
		t.Fatal("no testdata documents")
	}
	for _, p := range docs {
		doc, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, errWant := splitAll(t, doc, false)
		got, errGot := splitAll(t, doc, true)
		switch {
		case (errWant == nil) != (errGot == nil):
			t.Errorf("%s: error %v, %v with gjson", p, errWant, errGot)
		case errWant == nil:
			if err := sameEvents(want, got); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
}

// BenchmarkSplitters: the hand-written splitter (what ObjectReader.read
// runs) against the gjson baseline, on the corpus's many small log files
// and on one big file, with 100% and 1% OpsWorks events, keeping every
// event ("all") or only those the default event_sources select
// ("pushdown"). Bytes are the JSON of the log files. Besides MB/s (wall
// clock), cpuMB/s divides by the process's CPU time, which CPU-bound work
// of other processes on a shared machine does not inflate.
//
//	go test -run XXX -bench BenchmarkSplitters -count 5 ./archive
func BenchmarkSplitters(b *testing.B) {
	cfg, err := filter.LoadConfig(config.MapGetter{"source_key": "log"})
	if err != nil {
		b.Fatal(err)
	}
	match := newSourceMatcher(cfg.PushDownSources())
	splitters := []struct {
		name  string
		split func(doc []byte, pushDown bool, fn func(event, source []byte)) error
	}{
		// splitRecords always notes eventSource while it validates.
		{"handwritten", func(doc []byte, _ bool, fn func(event, source []byte)) error { return splitRecords(doc, fn) }},
		{"gjson", gjsonSplitRecords},
	}
	for _, mix := range []struct {
		shape, name string
		share       float64
	}{{"files", "opsworks100", 1}, {"files", "opsworks1", 0.01}, {"bigfile", "opsworks100", 1}, {"bigfile", "opsworks1", 0.01}} {
		files := splitCorpus(mix.shape, mix.share)
		for _, pushDown := range []bool{false, true} {
			mode := "all"
			if pushDown {
				mode = "pushdown"
			}
			for _, s := range splitters {
				b.Run(mix.shape+"/"+mix.name+"/"+mode+"/"+s.name, func(b *testing.B) {
					var kept [][]byte
					keep := func(ev, source []byte) {
						if !pushDown || match.keep(source) {
							kept = append(kept, ev)
						}
					}
					run := func() {
						for _, f := range files {
							kept = kept[:0]
							if err := s.split(f, pushDown, keep); err != nil {
								b.Fatal(err)
							}
						}
					}
					run() // grows kept, so that allocations are the splitter's
					b.SetBytes(totalSize(files))
					b.ReportAllocs()
					cpu := cpuTime(b)
					for b.Loop() {
						run()
					}
					cpu = cpuTime(b) - cpu
					b.ReportMetric(float64(totalSize(files))*float64(b.N)/cpu.Seconds()/1e6, "cpuMB/s")
				})
			}
		}
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
