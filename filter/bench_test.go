package filter_test

import (
	"fmt"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// benchChunk builds a chunk of generated events in one of the input shapes.
func benchChunk(b *testing.B, share float64, shape string) ([]byte, int) {
	b.Helper()
	events := corpus.Events(corpus.Options{Seed: 42, Events: 2000, OpsWorksShare: share})
	var chunk []byte
	a := record.NewArena()
	t := record.EventTime{Sec: 1700000000}
	switch shape {
	case "event": // one structured event per record (tail + json parser, cloudtrail_s3)
		for _, e := range events {
			v, err := record.DecodeJSON(e, 64, a)
			if err != nil {
				b.Fatal(err)
			}
			chunk = record.AppendValueRecord(chunk, t, &v)
		}
	case "logfile": // structured {"Records": [100 events]} per record
		for i := 0; i < len(events); i += 100 {
			doc := []byte(`{"Records":[`)
			for j, e := range events[i : i+100] {
				if j > 0 {
					doc = append(doc, ',')
				}
				doc = append(doc, e...)
			}
			doc = append(doc, "]}"...)
			v, err := record.DecodeJSON(doc, 64, a)
			if err != nil {
				b.Fatal(err)
			}
			chunk = record.AppendValueRecord(chunk, t, &v)
		}
	case "text": // one event as JSON text per record (tail without parser, source_key log)
		for _, e := range events {
			chunk = record.AppendTextRecord(chunk, t, "log", e)
		}
	}
	return chunk, len(events)
}

// BenchmarkFilterChunk reports ns and allocations per CloudTrail event for
// each input shape, on an all-OpsWorks and a 1%-OpsWorks event mix.
func BenchmarkFilterChunk(b *testing.B) {
	for _, share := range []float64{1, 0.01} {
		for _, shape := range []string{"event", "logfile", "text"} {
			b.Run(fmt.Sprintf("opsworks=%g%%/%s", share*100, shape), func(b *testing.B) {
				chunk, n := benchChunk(b, share, shape)
				opts := config.MapGetter{}
				if shape == "text" {
					opts["source_key"] = "log"
				}
				cfg, err := filter.LoadConfig(opts)
				if err != nil {
					b.Fatal(err)
				}
				p := filter.NewProcessor(cfg, nil)
				var res filter.Result
				b.SetBytes(int64(len(chunk)))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := p.FilterChunk(chunk, &res); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				per := float64(b.N * n)
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/per, "ns/event")
				if res.EmitCount() == 0 {
					b.Fatal("nothing emitted")
				}
			})
		}
	}
}
