package input

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

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
				fsys[f.Key] = &fstest.MapFile{Data: s3test.MustGzip(b, f.Body)}
				size += int64(len(f.Body))
			}
			set := config.MapGetter{"path": "/bench"}
			if bc.sources != "" {
				set["event_sources"] = bc.sources
			}
			cfg, err := LoadConfig(set)
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
