package e2e

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// captureLoki stands in for Loki's push API (POST /loki/api/v1/push). Fluent
// Bit's loki output always sends JSON (Content-Type application/json, gzip
// only with `compress gzip`):
//
//	{"streams":[{"stream":{label: value…},"values":[["<unix ns>","<line>"(, {metadata})]…]}]}
type captureLoki struct {
	mu       sync.Mutex
	entries  []lokiEntry
	problems []string
}

type lokiEntry struct {
	labels map[string]string
	ts     int64
	line   string
}

func newCaptureLoki(t *testing.T) (*captureLoki, *httptest.Server) {
	c := &captureLoki{}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	return c, srv
}

func (c *captureLoki) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/loki/api/v1/push" {
		c.problems = append(c.problems, fmt.Sprintf("unexpected request %s %s", r.Method, r.URL))
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		c.problems = append(c.problems, "Content-Type "+ct)
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.problems = append(c.problems, "bad gzip")
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	var push struct {
		Streams []struct {
			Stream map[string]string   `json:"stream"`
			Values [][]json.RawMessage `json:"values"`
		} `json:"streams"`
	}
	if err := json.NewDecoder(body).Decode(&push); err != nil {
		c.problems = append(c.problems, "bad push body: "+err.Error())
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	for _, s := range push.Streams {
		for _, v := range s.Values {
			var ts, line string
			if len(v) < 2 || json.Unmarshal(v[0], &ts) != nil || json.Unmarshal(v[1], &line) != nil {
				c.problems = append(c.problems, fmt.Sprintf("bad value %s", v))
				continue
			}
			n, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				c.problems = append(c.problems, "bad timestamp "+ts)
			}
			c.entries = append(c.entries, lokiEntry{labels: s.Stream, ts: n, line: line})
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (c *captureLoki) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// records rebuilds the filter's records from the entries: line + stream
// labels (Fluent Bit removes the keys it uses as labels from the line), minus
// the static job label. It checks the labels against schema/loki-labels.json
// and each entry's time against eventTime.
func (c *captureLoki) records(t *testing.T) map[string]map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) > 0 {
		t.Fatalf("malformed pushes: %v", c.problems)
	}
	static, dynamic := lokiLabelSet(t)
	out := map[string]map[string]any{}
	for _, e := range c.entries {
		rec := shipDecode(t, []byte(e.line))
		var names []string
		for k, v := range e.labels {
			names = append(names, k)
			if want, ok := static[k]; ok {
				if v != want {
					t.Errorf("label %s=%q, want %q", k, v, want)
				}
				continue
			}
			if !dynamic[k] {
				t.Errorf("label %s is not in schema/loki-labels.json", k)
				continue
			}
			if _, dup := rec[k]; dup {
				t.Errorf("label key %s is still in the line", k)
			}
			rec[k] = v
		}
		sort.Strings(names)
		if len(names) != len(static)+len(dynamic) {
			t.Errorf("stream labels %v, want exactly the label set", names)
		}
		id, _ := rec["eventID"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("event %s pushed twice", id)
		}
		et, err := time.Parse(time.RFC3339Nano, fmt.Sprint(rec["eventTime"]))
		if err != nil || et.UnixNano() != e.ts {
			t.Errorf("entry time %d for eventTime %v", e.ts, rec["eventTime"])
		}
		out[id] = rec
	}
	return out
}

// lokiLabelSet reads schema/loki-labels.json: static labels with their
// values, and the names of the labels taken from record keys.
func lokiLabelSet(t *testing.T) (map[string]string, map[string]bool) {
	t.Helper()
	var set struct {
		Static map[string]string `json:"static_labels"`
		Labels []struct {
			Name      string `json:"name"`
			RecordKey string `json:"record_key"`
		} `json:"labels"`
	}
	if err := json.Unmarshal(readFileBytes(t, filepath.Join(repoRoot(), "schema", "loki-labels.json")), &set); err != nil {
		t.Fatal(err)
	}
	dynamic := map[string]bool{}
	for _, l := range set.Labels {
		if l.Name != l.RecordKey {
			t.Fatalf("label %s from key %s: Fluent Bit's label_keys names a label after its key", l.Name, l.RecordKey)
		}
		dynamic[l.Name] = true
	}
	return set.Static, dynamic
}

// The shipped Loki pipelines, classic and YAML, against a push-API capture:
// every OpsWorks event arrives once, with exactly the documented labels, the
// entry time = eventTime, and line + labels = the filter's record (which
// validates against the JSON Schema). Errors go to the errors file.
func TestShippedLokiPipelines(t *testing.T) {
	bin := fluentBit(t)
	byFormat := map[string]map[string]map[string]any{}
	for _, ext := range []string{".conf", ".yaml"} {
		t.Run(strings.TrimPrefix(ext, "."), func(t *testing.T) {
			d := shipInstall(t, "loki"+ext)
			in := shipWriteInput(t, d.input)
			capture, srv := newCaptureLoki(t)
			errFile := filepath.Join(d.state, "errors", "cloudtrail-errors.ndjson")
			log := d.run(t, bin, shipEnv(nil, nil, srv), func() bool {
				return capture.count() >= len(in.events) && len(readPlainNDJSON(t, errFile)) >= len(in.errors)
			})
			got := capture.records(t)
			checkRecords(t, "loki"+ext, got, in.events)
			checkErrorsFile(t, errFile, in)
			if strings.Contains(log, "[error]") {
				t.Errorf("Fluent Bit logged errors:\n%s", shipLogTail(log))
			}
			streams := map[string]bool{}
			capture.mu.Lock()
			for _, e := range capture.entries {
				b, _ := json.Marshal(e.labels)
				streams[string(b)] = true
			}
			capture.mu.Unlock()
			t.Logf("%d entries in %d streams, by variant %v", len(got), len(streams), in.byVariant())
			byFormat[ext] = got
		})
	}
	a, b := byFormat[".conf"], byFormat[".yaml"]
	if a != nil && b != nil {
		for id, rec := range a {
			if shipCanonical(withoutKey(rec, "file_path")) != shipCanonical(withoutKey(b[id], "file_path")) {
				t.Errorf("%s differs between classic and YAML", id)
			}
		}
	}
}

// checkRecords: one record per OpsWorks event, valid, equal to the filter's.
func checkRecords(t *testing.T, what string, got, want map[string]map[string]any) {
	t.Helper()
	sch := shipEventSchema(t)
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
	}
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("%s: event %s missing", what, id)
		case sch.Validate(g) != nil:
			t.Errorf("%s: record %s does not validate: %v", what, id, sch.Validate(g))
		case shipCanonical(g) != shipCanonical(w):
			t.Errorf("%s: record %s differs from the filter's:\n got  %.600s\n want %.600s", what, id, shipCanonical(g), shipCanonical(w))
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatal("too many differences")
		}
	}
}

// The Loki output turns label values into strings; the filter's values for
// the label keys are strings already, so the round trip is exact. Guard that
// assumption on the real output, since it is what makes line + labels equal
// the record.
func TestLokiLabelKeysAreStrings(t *testing.T) {
	_, dynamic := lokiLabelSet(t)
	p := filepath.Join(t.TempDir(), "in.ndjson")
	in := shipWriteInput(t, p)
	for id, rec := range in.events {
		for k := range dynamic {
			if _, ok := rec[k].(string); !ok {
				t.Fatalf("event %s: label key %s is %T, not a string", id, k, rec[k])
			}
		}
	}
}
