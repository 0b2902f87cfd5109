package cloudtrail

import (
	"bytes"
	"testing"

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
	r := NewObjectReader(ReadOptions{EventSources: cfg.PushDownSources()})
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
			data, err := readBounded(bytes.NewReader(f), DefaultMaxObjectSize, make([]byte, 0, len(f)+1)) // the same copy the reader makes
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
