// Package schema holds the contracts of the filter's output for the backends
// (JSON Schema, Elasticsearch/OpenSearch index templates, Loki labels). It has
// no Go code of its own: its tests check the files against REAL filter output
// (package filter over the generated corpus, the sample trail and bad input),
// so a change in the filter that a backend would choke on fails here, in CI.
package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// here is this package's directory, so tests work from any working directory.
func here() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

func repoRoot() string { return filepath.Join(here(), "..") }

// testRecord is one output record of the filter: its tag and its JSON body
// decoded with json.Number, exactly what the CLI prints and Fluent Bit ships.
type testRecord struct {
	Tag  string
	Body map[string]any
}

// run feeds chunk to a fresh processor with opts and returns every record it
// produced: re-emitted (tagged) ones and those kept in the stream (tagged
// with "-", as the CLI does).
func run(t testing.TB, opts map[string]string, chunk []byte) []testRecord {
	t.Helper()
	cfg, err := filter.LoadConfig(config.MapGetter(opts))
	if err != nil {
		t.Fatal(err)
	}
	p := filter.NewProcessor(cfg, nil)
	var res filter.Result
	if err := p.FilterChunk(chunk, &res); err != nil {
		t.Fatal(err)
	}
	var out []testRecord
	collect := func(tag string, recs []byte) {
		err := record.ForEachRecord(recs, func(_ record.EventTime, body *record.Value) error {
			out = append(out, testRecord{Tag: tag, Body: decodeJSON(t, record.AppendJSON(nil, body))})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range res.Emits {
		collect(e.Tag, e.Records)
	}
	if res.Modified {
		collect("-", res.Keep)
	}
	return out
}

func decodeJSON(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("filter output is not a JSON object: %v: %s", err, b)
	}
	return m
}

// textChunk packs each document as {"log": text}: tail without a parser.
func textChunk(docs ...[]byte) []byte {
	var c []byte
	for _, d := range docs {
		c = record.AppendTextRecord(c, record.EventTime{Sec: 1717200000}, "log", d)
	}
	return c
}

// valueChunk packs each JSON document as a structured record: tail with the
// json parser, or the cloudtrail_s3 input.
func valueChunk(t testing.TB, docs ...[]byte) []byte {
	t.Helper()
	var c []byte
	for _, d := range docs {
		v, err := record.DecodeJSON(d, 1000, record.NewArena())
		if err != nil {
			t.Fatalf("test document is not JSON: %v: %.200s", err, d)
		}
		c = record.AppendValueRecord(c, record.EventTime{Sec: 1717200000}, &v)
	}
	return c
}

var textOpts = map[string]string{"source_key": "log"}

var (
	realOnce sync.Once
	realRecs []testRecord
)

// realOutput is the filter's output over everything realistic this
// repository has, in every input shape the filter accepts:
//   - the generated corpus (every identity type, every variant rule, planted
//     secrets): single events as JSON text, and log files as structured
//     records carrying the provenance fields the cloudtrail_s3 input adds;
//   - the filter's own per-identity and per-variant test events;
//   - the bundled sample trail, read as the CLI reads it.
func realOutput(t testing.TB) []testRecord {
	t.Helper()
	realOnce.Do(func() {
		opts := corpus.Options{Seed: 8, Events: 20000, OpsWorksShare: 0.5}
		realRecs = append(realRecs, run(t, textOpts, textChunk(corpus.Events(opts)...))...)

		var files [][]byte
		for i, f := range corpus.LogFiles(corpus.Options{Seed: 9, Events: 5000, OpsWorksShare: 0.5}) {
			// As the S3 input delivers a log file: the Records object plus
			// provenance beside it, which the filter copies into each event.
			// Every other file, so both shapes are covered. A fresh slice:
			// appending to f.Body[:len-1] would overwrite its final brace.
			if i%2 == 0 {
				var body []byte
				body = append(body, bytes.TrimSuffix(f.Body, []byte("}"))...)
				body = append(body, `,"s3_bucket":"trail-bucket","s3_key":`+jsonString(f.Key)+`}`...)
				files = append(files, body)
			} else {
				files = append(files, f.Body)
			}
		}
		// ecs_fields on here, so the derived ECS fields are covered too.
		realRecs = append(realRecs, run(t, map[string]string{"ecs_fields": "on"}, valueChunk(t, files...))...)

		var events [][]byte
		for _, dir := range []string{"identity", "variant"} {
			for _, f := range glob(t, filepath.Join(repoRoot(), "filter", "testdata", dir), ".json") {
				events = append(events, readFile(t, f))
			}
		}
		realRecs = append(realRecs, run(t, textOpts, textChunk(events...))...)
		realRecs = append(realRecs, sampleTrail(t)...)
	})
	if len(realRecs) == 0 {
		t.Fatal("the filter produced no records")
	}
	return realRecs
}

// sampleTrail runs examples/sample-trail the way the CLI does: each file as
// JSON text, retag off (tags reported through TagOf).
func sampleTrail(t testing.TB) []testRecord {
	t.Helper()
	files := glob(t, filepath.Join(repoRoot(), "examples", "sample-trail"), ".json")
	var docs [][]byte
	for _, f := range files {
		docs = append(docs, readFile(t, f))
	}
	return run(t, map[string]string{"source_key": "log", "retag": "off"}, textChunk(docs...))
}

// glob lists the files under dir with the suffix, sorted; none is an error.
func glob(t testing.TB, dir, suffix string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() && strings.HasSuffix(p, suffix) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %s files under %s", suffix, dir)
	}
	sort.Strings(out)
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSON(t testing.TB, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(here(), name)), &m); err != nil {
		t.Fatalf("%s is not valid JSON: %v", name, err)
	}
	return m
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

var (
	schemaOnce sync.Once
	schemaVal  *jsonschema.Schema
	schemaErr  error
)

// eventSchema compiles opsworks-event.schema.json with format assertions on
// (by default draft 2020-12 treats "format" as an annotation only).
func eventSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	schemaOnce.Do(func() {
		f, err := os.Open(filepath.Join(here(), "opsworks-event.schema.json"))
		if err != nil {
			schemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		const url = "https://github.com/opsworks-trail/opsworks-trail/schema/opsworks-event.schema.json"
		if schemaErr = c.AddResource(url, doc); schemaErr != nil {
			return
		}
		schemaVal, schemaErr = c.Compile(url)
	})
	if schemaErr != nil {
		t.Fatalf("opsworks-event.schema.json: %v", schemaErr)
	}
	return schemaVal
}
