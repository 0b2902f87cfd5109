package archive

import (
	"bytes"
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// benchFiles are realistic log files with 1% OpsWorks events, joined
// into one buffer per file.
func benchFiles(b *testing.B) [][]byte {
	var out [][]byte
	for _, f := range corpus.LogFiles(corpus.Options{Seed: 3, Events: 20000, OpsWorksShare: 0.01, EventsPerFile: 500}) {
		out = append(out, f.Body)
	}
	return out
}

func totalSize(files [][]byte) int64 {
	var n int64
	for _, f := range files {
		n += int64(len(f))
	}
	return n
}

// BenchmarkPushDown: split + eventSource push-down, then the filter on the
// kept events only (what the input does).
func BenchmarkPushDown(b *testing.B) {
	files := benchFiles(b)
	cfg, _ := filter.LoadConfig(config.MapGetter{"source_key": "log", "retag": "off"})
	r := NewObjectReader(ReadOptions{EventSources: PushDownSources(cfg.EventSources, cfg.KeepOtherEvents)})
	p := filter.NewProcessor(cfg, func(string) {})
	var res filter.Result
	var chunk []byte
	b.SetBytes(totalSize(files))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			out, err := r.Decode(bytes.NewReader(f), int64(len(f)))
			if err != nil {
				b.Fatal(err)
			}
			chunk = chunk[:0]
			for _, ev := range out.Events {
				chunk = record.AppendTextRecord(chunk, record.EventTime{Sec: 1}, "log", ev)
			}
			p.FilterChunk(chunk, &res)
		}
	}
}

// BenchmarkWholeFile: the whole log file as one record through the filter,
// which decodes every event (the alternative without the push-down).
func BenchmarkWholeFile(b *testing.B) {
	files := benchFiles(b)
	cfg, _ := filter.LoadConfig(config.MapGetter{"source_key": "log", "retag": "off", "max_event_size": "64M"})
	p := filter.NewProcessor(cfg, func(string) {})
	var res filter.Result
	var chunk []byte
	b.SetBytes(totalSize(files))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			data, err := readBounded(bytes.NewReader(f), DefaultMaxObjectSize, len(f)+1) // the same copy the reader makes
			if err != nil {
				b.Fatal(err)
			}
			chunk = record.AppendTextRecord(chunk[:0], record.EventTime{Sec: 1}, "log", data)
			p.FilterChunk(chunk, &res)
		}
	}
}

// BenchmarkSplitOnly is the scanner alone.
func BenchmarkSplitOnly(b *testing.B) {
	files := benchFiles(b)
	b.SetBytes(totalSize(files))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			if err := splitRecords(f, func(_, _ []byte) {}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkEngineLocal: the whole engine over a local tree of gzip files
// (list, read, push-down, records, ordered buffer, Collect, Commit), with
// 1% OpsWorks events and with the push-down off (every event a record).
// Bytes are uncompressed JSON.
func BenchmarkEngineLocal(b *testing.B) {
	for _, bc := range []struct{ name, sources string }{{"opsworks", ""}, {"all", "*"}} {
		b.Run(bc.name, func(b *testing.B) {
			files := corpus.LogFiles(corpus.Options{Seed: 3, Events: 20000, OpsWorksShare: 0.01, EventsPerFile: 500})
			fsys := fstest.MapFS{}
			var size int64
			for _, f := range files {
				fsys[f.Key] = &fstest.MapFile{Data: gzipped(b, f.Body)}
				size += int64(len(f.Body))
			}
			set := config.MapGetter{"path": "/bench"}
			if bc.sources != "" {
				set["event_sources"] = bc.sources
			}
			cfg, err := LoadInputConfig(set)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e, err := NewEngine(cfg, Deps{FS: fsys, Logf: func(int, string, ...any) {}, Now: fixedClock(time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC))})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Start(context.Background()); err != nil {
					b.Fatal(err)
				}
				for !e.Done() {
					if batch := e.Collect(0); batch != nil {
						e.Commit(batch)
					} else {
						time.Sleep(50 * time.Microsecond)
					}
				}
				e.Stop()
			}
		})
	}
}
