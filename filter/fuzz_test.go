package filter

import (
	"testing"

	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/fuzzseeds"
)

// fuzzSeeds are the testdata documents, the seed examples when present,
// and the shared extra documents.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds, err := fuzzseeds.Seeds("testdata/*/*.json", "../../shared/seeds/*.txt")
	if err != nil {
		f.Fatal(err)
	}
	return seeds
}

// FuzzFilterChunk feeds arbitrary bytes as a Fluent Bit chunk: no panic, and
// whatever comes out of a well-framed chunk is well-framed.
func FuzzFilterChunk(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		var a record.Arena
		if v, err := record.DecodeJSON(s, 64, &a); err == nil {
			f.Add(record.AppendRecord(nil, record.EventTime{Sec: 1}, nil, &v))
		}
	}
	p := NewProcessor(mustConfig(f, map[string]string{"keep_other_events": "on"}), nil)
	f.Fuzz(func(t *testing.T, chunk []byte) {
		var res Result
		if err := p.FilterChunk(chunk, &res); err != nil {
			t.Fatal(err)
		}
		if !framed(chunk) {
			return
		}
		if !framed(res.Keep) {
			t.Fatalf("kept output is not well-framed")
		}
		for _, e := range res.Emits {
			if !framed(e.Records) {
				t.Fatalf("emitted output for %s is not well-framed", e.Tag)
			}
		}
	})
}

// FuzzEventTransform fuzzes the JSON text path (source_key) end to end.
func FuzzEventTransform(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(string(s))
	}
	p := NewProcessor(mustConfig(f, map[string]string{"source_key": "log"}), nil)
	f.Fuzz(func(t *testing.T, text string) {
		carrier := record.Value{Kind: record.KindMap, Items: []record.Value{record.StringValue("log"), record.StringValue(text)}}
		chunk := record.AppendRecord(nil, record.EventTime{Sec: 7}, nil, &carrier)
		var res Result
		if err := p.FilterChunk(chunk, &res); err != nil {
			t.Fatal(err)
		}
		if !framed(res.Keep) {
			t.Fatal("kept output is not well-framed")
		}
		for _, e := range res.Emits {
			if !framed(e.Records) {
				t.Fatal("emitted output is not well-framed")
			}
		}
		if res.KeepN+res.EmitCount() == 0 && p.Stats.Dropped.Load() == 0 {
			t.Fatal("record vanished: nothing kept, emitted or counted as dropped")
		}
	})
}

func framed(b []byte) bool {
	var a record.Arena
	for off := 0; off < len(b); {
		_, next, err := record.SplitRecord(b, off, &a)
		if err != nil {
			return false
		}
		off = next
	}
	return true
}
