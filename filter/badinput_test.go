package filter

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/record"
)

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestBadInput(t *testing.T) {
	ev := readTestdata(t, "identity/iamuser.json")
	big := strings.Repeat("x", 5<<20)
	cases := []struct {
		name      string
		opts      map[string]string
		record    string
		wantError string // substring of the opsworks_error of the kept record
		wantGood  int    // good events emitted beside the error
		wantRaw   any    // the error record's opsworks_raw (a non-object element), if any
	}{
		{"Records not an array", nil, `{"Records":"oops"}`, "Records is a string, not an array", 0, nil},
		{"Records element not an object", nil, `{"Records":[42,` + ev + `]}`, "Records[0] is a uint, not an object", 1, float64(42)},
		{"deep JSON text", map[string]string{"source_key": "log"}, `{"log":` + jsonQuote(`{"Records":[`+nested(100)+`]}`) + `}`, "nesting deeper than 64 levels", 0, nil},
		{"deep structured record", nil, `{"Records":[` + nested(100) + `]}`, "nesting deeper than 64 levels", 0, nil},
		{"truncated JSON text", map[string]string{"source_key": "log"}, `{"log":` + jsonQuote(`{"Records":[{"eventSource":"opsworks.amazonaws.com"`) + `}`, "expected ',' or '}' after object value, found end of input", 0, nil},
		{"multi-MB value", nil, `{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"X","requestParameters":{"blob":"` + big + `"}},` + ev + `]}`, "exceeds max_event_size", 1, nil},
		{"eventbridge without event", nil, `{"detail-type":"AWS API Call via CloudTrail","detail":"nope"}`, "detail is not a CloudTrail event", 0, nil},
		{"cloudwatch bad message", nil, `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":"{\"eventSource\": oops}"},{"id":"2","message":` + jsonQuote(ev) + `}]}`, "logEvents[0].message: invalid JSON", 1, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProcessor(mustConfig(t, tc.opts), nil)
			_, recs := run(t, p, chunkFromJSON(t, tc.record))
			var errs, good int
			for _, r := range recs {
				if msg, ok := r.Body[FieldError].(string); ok {
					errs++
					if !strings.Contains(msg, tc.wantError) {
						t.Errorf("opsworks_error %q does not contain %q", msg, tc.wantError)
					}
					if raw := r.Body[record.FieldRaw]; raw != tc.wantRaw {
						t.Errorf("opsworks_raw = %#v, want %#v", raw, tc.wantRaw)
					}
					if r.Tag != "" {
						t.Errorf("error record emitted under %q without error_tag", r.Tag)
					}
					continue
				}
				good++
			}
			if tc.wantError != "" && errs != 1 {
				t.Fatalf("got %d error records, want 1: %v", errs, recs)
			}
			if good != tc.wantGood {
				t.Fatalf("got %d good events, want %d", good, tc.wantGood)
			}
		})
	}
}

// The invalid-UTF-8 case needs raw bytes a Go string literal in the table
// above cannot carry through jsonQuote, so it is built by hand.
func TestInvalidUTF8(t *testing.T) {
	text := []byte(`{"eventSource":"opsworks.amazonaws.com","eventName":"X","requestParameters":{"name":"bad` + "\xff\xfe" + `"}}`)
	carrier := record.Value{Kind: record.KindMap, Items: []record.Value{record.StringValue("log"), record.BytesValue(text)}}
	chunk := record.AppendRecord(nil, record.EventTime{Sec: 1}, nil, &carrier)
	p := NewProcessor(mustConfig(t, map[string]string{"source_key": "log"}), nil)
	_, recs := run(t, p, chunk)
	if len(recs) != 1 || !strings.Contains(recs[0].Body[FieldError].(string), "not valid UTF-8") {
		t.Fatalf("JSON text: %+v", recs)
	}

	// Structured (msgpack) event with an invalid string: flagged, naming the field.
	var a record.Arena
	ev, err := record.DecodeJSON([]byte(`{"eventSource":"opsworks.amazonaws.com","eventName":"X","requestParameters":{"name":"placeholder"}}`), 64, &a)
	if err != nil {
		t.Fatal(err)
	}
	ev.Get("requestParameters").Get("name").Str = []byte("bad\xff")
	chunk = record.AppendRecord(nil, record.EventTime{Sec: 1}, nil, &ev)
	p = NewProcessor(mustConfig(t, nil), nil)
	_, recs = run(t, p, chunk)
	if len(recs) != 1 || !strings.Contains(recs[0].Body[FieldError].(string), `field "name"`) {
		t.Fatalf("structured: %+v", recs)
	}
}

func TestErrorTagRoutesErrors(t *testing.T) {
	p := NewProcessor(mustConfig(t, map[string]string{"error_tag": "opsworks.error"}), nil)
	_, recs := run(t, p, chunkFromJSON(t, `{"Records":"oops"}`))
	if len(recs) != 1 || recs[0].Tag != "opsworks.error" || recs[0].Body["Records"] != "oops" {
		t.Fatalf("got %+v", recs)
	}
}

// Error records made upstream (the input's unreadable files) follow error_tag
// unchanged, like the filter's own.
func TestUpstreamErrorRecordsFollowErrorTag(t *testing.T) {
	rec := `{"opsworks_error":"truncated gzip: unexpected EOF","s3_bucket":"b","s3_key":"AWSLogs/x.json.gz"}`
	p := NewProcessor(mustConfig(t, map[string]string{"error_tag": "cloudtrail.error"}), nil)
	chunk := chunkFromJSON(t, rec)
	res, recs := run(t, p, chunk)
	if len(recs) != 1 || recs[0].Tag != "cloudtrail.error" || recs[0].Body["s3_key"] != "AWSLogs/x.json.gz" {
		t.Fatalf("got %+v", recs)
	}
	if string(res.Emits[0].Records) != string(chunk) {
		t.Fatal("the error record was changed")
	}
	p = NewProcessor(mustConfig(t, nil), nil)
	res, _ = run(t, p, chunk)
	if string(res.Keep) != string(chunk) {
		t.Fatal("without error_tag the record must stay in the stream unchanged")
	}
}

// Integrity records of the input (validate_integrity) get their own tag,
// tag_prefix + "integrity", unchanged; events keep their s3_integrity.
func TestIntegrityRecordsGetTheirOwnTag(t *testing.T) {
	rec := `{"integrity_status":"log_missing","s3_bucket":"b","s3_key":"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/30/x.json.gz","detail":"named by digest d, absent"}`
	for _, tc := range []struct {
		name string
		conf map[string]string
		tag  string
	}{
		{"default prefix", nil, "opsworks.integrity"},
		{"own prefix", map[string]string{"tag_prefix": "audit."}, "audit.integrity"},
		{"error_tag does not apply", map[string]string{"error_tag": "cloudtrail.error"}, "opsworks.integrity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewProcessor(mustConfig(t, tc.conf), nil)
			chunk := chunkFromJSON(t, rec)
			res, recs := run(t, p, chunk)
			if len(recs) != 1 || recs[0].Tag != tc.tag || string(res.Emits[0].Records) != string(chunk) || p.Stats.Integrity.Load() != 1 {
				t.Fatalf("got %+v", recs)
			}
		})
	}
	p := NewProcessor(mustConfig(t, map[string]string{"retag": "off"}), nil)
	if res, _ := run(t, p, chunkFromJSON(t, rec)); res.KeepN != 1 {
		t.Fatal("with retag off the record must stay in the stream")
	}
	ev := `{"eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks","eventTime":"2024-05-30T00:00:00Z","awsRegion":"us-east-1","userIdentity":{"type":"Root"},"s3_integrity":"log_modified"}`
	_, recs := run(t, NewProcessor(mustConfig(t, nil), nil), chunkFromJSON(t, ev))
	if len(recs) != 1 || recs[0].Tag != "opsworks.stacks" || recs[0].Body["s3_integrity"] != "log_modified" {
		t.Fatalf("event: %+v", recs)
	}
}

func TestUndecodableChunkIsKept(t *testing.T) {
	good := chunkFromJSON(t, readTestdata(t, "identity/iamuser.json"))
	chunk := append(append([]byte(nil), good...), 0x92, 0xd7) // truncated record
	var warned []string
	p := NewProcessor(mustConfig(t, nil), func(m string) { warned = append(warned, m) })
	var res Result
	if err := p.FilterChunk(chunk, &res); err != nil {
		t.Fatal(err)
	}
	if res.EmitCount() != 1 || string(res.Keep) != "\x92\xd7" {
		t.Fatalf("emits=%d keep=%q", res.EmitCount(), res.Keep)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "undecodable") {
		t.Fatalf("warnings %v", warned)
	}
}

func TestWarningsAreRateLimited(t *testing.T) {
	var warned []string
	p := NewProcessor(mustConfig(t, map[string]string{"warning_interval": "1h"}), func(m string) { warned = append(warned, m) })
	for i := 0; i < 5; i++ {
		run(t, p, chunkFromJSON(t, `{"Records":"oops"}`))
	}
	if len(warned) != 1 || p.Stats.Errors.Load() != 5 {
		t.Fatalf("warnings %d errors %d", len(warned), p.Stats.Errors.Load())
	}
}

func TestLegacyRecordFormat(t *testing.T) {
	var a record.Arena
	body, _ := record.DecodeJSON([]byte(readTestdata(t, "identity/iamuser.json")), 64, &a)
	chunk := append([]byte{0x92}, record.AppendMsgpack(nil, &record.Value{Kind: record.KindUint, Num: 1234})...) // [time, body]
	chunk = record.AppendMsgpack(chunk, &body)
	p := NewProcessor(mustConfig(t, nil), nil)
	_, recs := run(t, p, chunk)
	if len(recs) != 1 || recs[0].Body[FieldVariant] != VariantStacks {
		t.Fatalf("got %+v", recs)
	}
}

// TestCorpus runs every third-party CloudTrail sample through the filter with
// keep_other_events on: every event comes out once, flattened, nothing errors.
func TestCorpus(t *testing.T) {
	dir := sharedDir(t, "corpus/cloudtrail-samples")
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(files) < 100 {
		t.Fatalf("expected the 114-file corpus, found %d files", len(files))
	}
	p := NewProcessor(mustConfig(t, map[string]string{"keep_other_events": "on", "source_key": "log"}), nil)
	var events, nonEvents int
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.TrimSpace(line) == "" {
				continue
			}
			_, recs := run(t, p, chunkFromJSON(t, `{"log":`+jsonQuote(line)+`}`))
			var doc map[string]any
			if err := json.Unmarshal([]byte(line), &doc); err != nil {
				t.Fatalf("%s: corpus line is not JSON: %v", f, err)
			}
			_, hasSource := doc["eventSource"]
			_, hasName := doc["eventName"]
			isEvent := (hasSource && hasName) || doc["eventType"] == "AwsCloudTrailInsight"
			if !isEvent {
				nonEvents++ // the digest file passes through untouched
				if len(recs) != 1 || recs[0].Body["log"] != line {
					t.Errorf("%s: non-event line not passed through", filepath.Base(f))
				}
				continue
			}
			events++
			if len(recs) != 1 {
				t.Fatalf("%s: %d records for one event", filepath.Base(f), len(recs))
			}
			b := recs[0].Body
			if e, ok := b[FieldError]; ok {
				t.Errorf("%s: %v", filepath.Base(f), e)
			}
			if _, ok := b["userIdentity"]; ok {
				t.Errorf("%s: userIdentity still nested", filepath.Base(f))
			}
		}
		fh.Close()
	}
	if events < 120 {
		t.Fatalf("only %d events found in the corpus", events)
	}
	if got := p.Stats.Events.Load(); got != uint64(events) || p.Stats.Kept.Load() != uint64(events) {
		t.Fatalf("filter counted %d events and kept %d; the corpus has %d", got, p.Stats.Kept.Load(), events)
	}
	t.Logf("%d events, %d other documents; %s", events, nonEvents, p.Stats.String())
}
