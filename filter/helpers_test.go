package filter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// testRecord is a decoded output record.
type testRecord struct {
	Tag  string
	Time record.EventTime
	Body map[string]any
}

func mustConfig(t testing.TB, kv map[string]string) *Config {
	t.Helper()
	c, err := LoadConfig(config.MapGetter(kv))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return c
}

// chunkFromJSON packs each JSON document as a record body at time 1000.
func chunkFromJSON(t testing.TB, docs ...string) []byte {
	t.Helper()
	var out []byte
	for _, d := range docs {
		var a record.Arena
		v, err := record.DecodeJSON([]byte(d), 512, &a)
		if err != nil {
			t.Fatalf("test document: %v", err)
		}
		out = record.AppendRecord(out, record.EventTime{Sec: 1000}, nil, &v)
	}
	return out
}

// chunkFromBodies packs records carrying the given body maps (msgpack-encoded Values).
func decodeRecords(t testing.TB, tag string, buf []byte) []testRecord {
	t.Helper()
	var out []testRecord
	var a record.Arena
	for off := 0; off < len(buf); {
		rec, next, err := record.SplitRecord(buf, off, &a)
		if err != nil {
			t.Fatalf("output is not valid Fluent Bit events: %v", err)
		}
		if rec.Meta == nil {
			t.Fatalf("output record lacks [time, metadata] header")
		}
		var body record.Value
		if _, _, err := record.DecodeMsgpack(rec.Body, 0, 1000, &a, &body); err != nil {
			t.Fatalf("output body: %v", err)
		}
		var m map[string]any
		if body.Kind == record.KindMap {
			if err := json.Unmarshal(record.AppendJSON(nil, &body), &m); err != nil {
				t.Fatalf("output body is not valid JSON: %v", err)
			}
		}
		out = append(out, testRecord{Tag: tag, Time: rec.Time, Body: m})
		off = next
	}
	return out
}

// run filters the chunk and returns every output record, kept ones with tag "".
func run(t testing.TB, p *Processor, chunk []byte) (Result, []testRecord) {
	t.Helper()
	var res Result
	if err := p.FilterChunk(chunk, &res); err != nil {
		t.Fatal(err)
	}
	recs := decodeRecords(t, "", res.Keep)
	for _, e := range res.Emits {
		recs = append(recs, decodeRecords(t, e.Tag, e.Records)...)
	}
	return res, recs
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sharedDir is ../shared, where the seed documents and the third-party corpus live.
func sharedDir(t testing.TB, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "shared", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("%s not present (it sits beside the repository on the team's machines): %v", dir, err)
	}
	return dir
}

// seedExample extracts the JSON example from a seed document: from the first
// '{' to the last '}'.
func seedExample(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, "{"), strings.LastIndex(s, "}")
	if i < 0 || j < i {
		t.Fatalf("%s: no JSON example", path)
	}
	return s[i : j+1]
}

func jsonQuote(s string) string {
	v := record.StringValue(s)
	return string(record.AppendJSON(nil, &v))
}
