package filter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// The fast paths (a single event dropped by its eventSource undecoded, log
// files whose events are picked from the msgpack) must give exactly what the
// full decode gives: the same bytes kept and emitted, the same counters.

// fastPathConfigs are the configurations the differential tests run under.
var fastPathConfigs = []map[string]string{
	nil,
	{"retag": "off"},
	{"keep_other_events": "on"},
	{"event_sources": "opsworks-cm.amazonaws.com,s3.amazonaws.com", "error_tag": "bad"},
	{"max_event_size": "2K", "max_depth": "6"},
	{"ecs_fields": "on", "redact": "off"},
}

// sameAsFullDecode filters chunk with the fast paths and with the full decode
// and fails on any difference.
func sameAsFullDecode(t testing.TB, cfg map[string]string, chunk []byte) {
	t.Helper()
	fast := NewProcessor(mustConfig(t, cfg), nil)
	full := NewProcessor(mustConfig(t, cfg), nil)
	full.fullDecode = true
	var rf, rr Result
	if err := fast.FilterChunk(chunk, &rf); err != nil {
		t.Fatal(err)
	}
	if err := full.FilterChunk(chunk, &rr); err != nil {
		t.Fatal(err)
	}
	if rf.Modified != rr.Modified || rf.KeepN != rr.KeepN || !bytes.Equal(rf.Keep, rr.Keep) {
		t.Fatalf("config %v: kept records differ: fast %d records (modified %v), full %d (modified %v)\nfast %q\nfull %q",
			cfg, rf.KeepN, rf.Modified, rr.KeepN, rr.Modified, rf.Keep, rr.Keep)
	}
	if len(rf.Emits) != len(rr.Emits) {
		t.Fatalf("config %v: emitted under %d tags, full decode %d", cfg, len(rf.Emits), len(rr.Emits))
	}
	for i := range rf.Emits {
		a, b := &rf.Emits[i], &rr.Emits[i]
		if a.Tag != b.Tag || a.Count != b.Count || !bytes.Equal(a.Records, b.Records) {
			t.Fatalf("config %v: emitted records differ: fast %s×%d, full %s×%d", cfg, a.Tag, a.Count, b.Tag, b.Count)
		}
	}
	if fs, rs := fast.Stats.String(), full.Stats.String(); fs != rs {
		t.Fatalf("config %v: counters differ:\nfast %s\nfull %s", cfg, fs, rs)
	}
}

// logFileChunk packs events as {"Records": [...]} records of at most per
// events, with extra top-level JSON fields (e.g. provenance) when given.
func logFileChunk(t testing.TB, events [][]byte, per int, extra string) []byte {
	t.Helper()
	var docs []string
	for i := 0; i < len(events); i += per {
		var b strings.Builder
		b.WriteString(`{"Records":[`)
		for j, e := range events[i:min(i+per, len(events))] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(e)
		}
		b.WriteString("]" + extra + "}")
		docs = append(docs, b.String())
	}
	return chunkFromJSON(t, docs...)
}

func TestFastPathMatchesFullDecodeOnCorpus(t *testing.T) {
	for _, share := range []float64{1, 0.3, 0.01} {
		events := corpus.Events(corpus.Options{Seed: 7, Events: 600, OpsWorksShare: share})
		var single []string
		for _, e := range events {
			single = append(single, string(e))
		}
		chunks := map[string][]byte{
			"event":                 chunkFromJSON(t, single...),
			"logfile":               logFileChunk(t, events, 250, ""),
			"logfile+carrier":       logFileChunk(t, events, 100, `,"s3_bucket":"b","s3_key":"k","opsworks_variant":"x"`),
			"logfile carrier first": chunkFromJSON(t, `{"s3_key":"k","Records":[`+string(bytes.Join(events[:20], []byte(",")))+`]}`),
		}
		for name, chunk := range chunks {
			for _, cfg := range fastPathConfigs {
				t.Run(fmt.Sprintf("share=%g/%s/%v", share, name, cfg), func(t *testing.T) {
					sameAsFullDecode(t, cfg, chunk)
				})
			}
		}
	}
}

// TestFastPathMatchesFullDecodeOnEdgeCases covers what the fast paths must
// hand to the full decode, or treat as it would.
func TestFastPathMatchesFullDecodeOnEdgeCases(t *testing.T) {
	ev := readTestdata(t, "identity/iamuser.json")
	other := `{"eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"Root"}}`
	badUTF8 := func(doc string) []byte { // doc with its first "BAD" replaced by invalid UTF-8
		var a record.Arena
		v, err := record.DecodeJSON([]byte(doc), 512, &a)
		if err != nil {
			t.Fatal(err)
		}
		b := record.AppendRecord(nil, record.EventTime{Sec: 1000}, nil, &v)
		return bytes.Replace(b, []byte("BAD"), []byte{'B', 0xff, 'D'}, 1)
	}
	chunks := map[string][]byte{
		"Records not an array":        chunkFromJSON(t, `{"Records":"oops"}`),
		"element not an object":       chunkFromJSON(t, `{"Records":[42,`+ev+`,`+other+`]}`),
		"deep element":                chunkFromJSON(t, `{"Records":[`+other+`,`+nested(100)+`,`+ev+`]}`),
		"deep dropped element":        chunkFromJSON(t, `{"Records":[`+ev+`,{"eventSource":"s3.amazonaws.com","x":`+nested(70)+`}]}`),
		"deep single event":           chunkFromJSON(t, `{"eventSource":"s3.amazonaws.com","eventName":"X","x":`+nested(70)+`}`),
		"deep carrier field":          chunkFromJSON(t, `{"Records":[`+ev+`],"x":`+nested(70)+`}`),
		"empty Records":               chunkFromJSON(t, `{"Records":[]}`, `{"Records":[],"s3_key":"k"}`),
		"two Records keys":            chunkFromJSON(t, `{"Records":[`+other+`],"Records":[`+ev+`]}`, `{"Records":"x","Records":[`+ev+`]}`),
		"Records after eventName":     chunkFromJSON(t, `{"eventSource":"s3.amazonaws.com","eventName":"X","Records":[`+ev+`]}`),
		"duplicate eventSource":       chunkFromJSON(t, `{"eventSource":"opsworks.amazonaws.com","eventSource":"s3.amazonaws.com","eventName":"X"}`, `{"Records":[{"eventSource":"opsworks.amazonaws.com","eventSource":"s3.amazonaws.com","eventName":"X"}]}`),
		"eventSource not a string":    chunkFromJSON(t, `{"eventSource":5,"eventName":"X"}`, `{"Records":[{"eventSource":["opsworks.amazonaws.com"],"eventName":"X"},{"eventName":"X"}]}`),
		"bad UTF-8 in kept event":     badUTF8(`{"Records":[` + other + `,{"eventSource":"opsworks.amazonaws.com","eventName":"X","userAgent":"BAD"}]}`),
		"bad UTF-8 in dropped event":  badUTF8(`{"Records":[{"eventSource":"s3.amazonaws.com","eventName":"X","userAgent":"BAD"},` + ev + `]}`),
		"bad UTF-8 in carrier":        badUTF8(`{"Records":[` + ev + `],"s3_key":"BAD"}`),
		"integrity and error records": chunkFromJSON(t, `{"integrity_status":"log_missing","Records":[`+ev+`]}`, `{"opsworks_error":"x","Records":[`+ev+`]}`, `{"integrity_status":"log_missing"}`),
		"carried fields": chunkFromJSON(t,
			`{"eventSource":"opsworks.amazonaws.com","eventName":"X","eventTime":{"not":"a time"},"tlsDetails":{"a":[1,{"b":2}]},"resources":[{"ARN":"x"}],"empty":{},"list":[]}`,
			`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"X","resources":[{"ARN":"x"}],"userIdentity":[1]}]}`),
		"deep carried field":                       chunkFromJSON(t, `{"eventSource":"opsworks.amazonaws.com","eventName":"X","tlsDetails":`+nested(70)+`}`, `{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"X","tlsDetails":`+nested(70)+`}]}`),
		"bad UTF-8 in a carried field":             badUTF8(`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"X","tlsDetails":{"v":["BAD"]}}]}`),
		"bad UTF-8 in a carried field of an event": badUTF8(`{"eventSource":"opsworks.amazonaws.com","eventName":"X","tlsDetails":{"BAD":1}}`),
		"mixed shapes":                             chunkFromJSON(t, ev, other, `{"Records":[`+ev+`,`+other+`]}`, `{"log":"text"}`, `[1,2]`),
	}
	// A map key that is not a string, before the Records and eventSource keys.
	var a record.Arena
	v, err := record.DecodeJSON([]byte(`{"Records":[`+other+`,`+ev+`]}`), 64, &a)
	if err != nil {
		t.Fatal(err)
	}
	evv, err := record.DecodeJSON([]byte(ev), 64, &a)
	if err != nil {
		t.Fatal(err)
	}
	intKey := func(m record.Value) *record.Value {
		items := append([]record.Value{{Kind: record.KindUint, Num: 7}, record.StringValue("seven")}, m.Items...)
		return &record.Value{Kind: record.KindMap, Items: items}
	}
	v.Items[1].Items[1] = *intKey(v.Items[1].Items[1])
	chunks["non-string keys"] = record.AppendRecord(record.AppendRecord(nil, record.EventTime{Sec: 1}, nil, intKey(v)), record.EventTime{Sec: 1}, nil, intKey(evv))
	for name, chunk := range chunks {
		for _, cfg := range fastPathConfigs {
			t.Run(fmt.Sprintf("%s/%v", name, cfg), func(t *testing.T) {
				sameAsFullDecode(t, cfg, chunk)
			})
		}
	}
}

// FuzzFastPathMatchesFullDecode: on any chunk the fast paths and the full
// decode give the same output. Seeds: the fuzz seed documents as single
// events and inside log files.
func FuzzFastPathMatchesFullDecode(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		var a record.Arena
		v, err := record.DecodeJSON(s, 64, &a)
		if err != nil {
			continue
		}
		f.Add(record.AppendRecord(nil, record.EventTime{Sec: 1}, nil, &v), uint8(0))
		file := record.Value{Kind: record.KindMap, Items: []record.Value{record.StringValue("Records"), {Kind: record.KindArray, Items: []record.Value{v, v}}}}
		f.Add(record.AppendRecord(nil, record.EventTime{Sec: 1}, nil, &file), uint8(1))
	}
	f.Fuzz(func(t *testing.T, chunk []byte, config uint8) {
		sameAsFullDecode(t, fastPathConfigs[int(config)%len(fastPathConfigs)], chunk)
	})
}
