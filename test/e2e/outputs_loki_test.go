package e2e

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/internal/audit"
	"github.com/opsworks-trail/opsworks-trail/test/lokitest"
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
	return lokiRecords(t, c.entries)
}

// lokiRecords rebuilds records from Loki entries (pushed or queried back):
// line + stream labels, minus the static labels, checking the labels against
// schema/loki-labels.json and each entry's time against eventTime.
func lokiRecords(t *testing.T, entries []lokiEntry) map[string]map[string]any {
	t.Helper()
	static, dynamic := lokiLabelSet(t)
	out := map[string]map[string]any{}
	for _, e := range entries {
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

// The shipped Loki pipelines, classic and YAML, reading the MinIO archive,
// against a push-API capture: every OpsWorks event arrives once, with exactly
// the documented labels, the entry time = eventTime, and line + labels = the
// CLI's record (which validates against the JSON Schema). The broken event
// goes to the errors file.
func TestShippedLokiPipelines(t *testing.T) {
	bin := fluentBit(t)
	a := shipUploadArchive(t, true)
	byFormat := map[string]map[string]map[string]any{}
	for _, ext := range []string{".conf", ".yaml"} {
		t.Run(strings.TrimPrefix(ext, "."), func(t *testing.T) {
			d := shipInstall(t, "loki"+ext)
			capture, srv := newCaptureLoki(t)
			d.runArchive(t, bin, a, shipEnv(nil, nil, srv), func() bool { return capture.count() >= len(a.events) })
			got := capture.records(t)
			checkRecords(t, "loki"+ext, got, a.events)
			streams := map[string]bool{}
			capture.mu.Lock()
			for _, e := range capture.entries {
				b, _ := json.Marshal(e.labels)
				streams[string(b)] = true
			}
			capture.mu.Unlock()
			t.Logf("%d entries in %d streams, by variant %v", len(got), len(streams), a.byVariant())
			byFormat[ext] = got
		})
	}
	checkSameFormats(t, byFormat)
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

// --- A real Loki -------------------------------------------------------------
//
// lokiBinary returns the Loki that `make test-deps` built (it builds one
// when FLUENT_BIT_BIN is set, the only case in which a test uses it).
func lokiBinary(t *testing.T) (string, error) {
	t.Helper()
	return lokitest.Find()
}

func tail(b []byte) string {
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// realLoki starts a single-binary Loki on 127.0.0.1 with the settings
// schema/loki.md tells users to make for a backfill (old samples accepted,
// archive-wide queries), and Loki 3's label discovery off so that streams
// carry exactly the labels Fluent Bit sends. It returns the base URL.
func realLoki(t *testing.T) string {
	t.Helper()
	return realLokiWith(t, "2020-10-24", `  reject_old_samples: false
  max_query_length: 0
  max_line_size: 1MB
  discover_log_levels: false
  discover_service_name: []`)
}

// realLokiWith starts a real Loki whose only schema period starts on
// schemaFrom (YYYY-MM-DD) and whose limits_config is limits (indented by
// two spaces).
func realLokiWith(t *testing.T, schemaFrom, limits string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("a real Loki: not with -short (building it takes minutes the first time)")
	}
	bin, err := lokiBinary(t)
	if err != nil {
		t.Skipf("no Loki binary: %v", err)
	}
	dir := t.TempDir()
	httpPort, grpcPort := shipFreePort(t), shipFreePort(t)
	cfg := fmt.Sprintf(`auth_enabled: false
server:
  http_listen_address: 127.0.0.1
  http_listen_port: %d
  grpc_listen_address: 127.0.0.1
  grpc_listen_port: %d
  log_level: warn
common:
  instance_addr: 127.0.0.1
  path_prefix: %[3]s
  storage:
    filesystem:
      chunks_directory: %[3]s/chunks
      rules_directory: %[3]s/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory
schema_config:
  configs:
    - from: %[5]s
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h
ingester:
  lifecycler:
    min_ready_duration: 0s
  # Ingesters hold what was just pushed, and queriers ask them only about
  # the last few hours: backfilled (old) entries are invisible until their
  # chunks are flushed. On a filesystem store, -1 makes queries read the
  # ingesters whatever the time range (see schema/loki.md).
  query_store_max_look_back_period: -1
limits_config:
%[4]s
analytics:
  reporting_enabled: false
`, httpPort, grpcPort, dir, limits, schemaFrom)
	if err := os.WriteFile(filepath.Join(dir, "loki.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "loki.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config.file="+filepath.Join(dir, "loki.yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(base + "/ready")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ready" {
				return base
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "loki.log"))
			t.Fatalf("Loki exited:\n%s", tail(log))
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "loki.log"))
			t.Fatalf("Loki not ready after 90 s:\n%s", tail(log))
		}
	}
}

// lokiQuery runs a LogQL query: an instant query at `at` for metric queries,
// a range query over [from, at] otherwise. It returns the log entries, or
// the sum of the metric values.
func lokiQuery(t *testing.T, base, q string, from, at time.Time) (entries []lokiEntry, total float64) {
	t.Helper()
	v := url.Values{"query": {q}}
	path := "/loki/api/v1/query_range"
	if isMetricQuery(q) {
		path = "/loki/api/v1/query"
		v.Set("time", strconv.FormatInt(at.UnixNano(), 10))
	} else {
		v.Set("start", strconv.FormatInt(from.UnixNano(), 10))
		v.Set("end", strconv.FormatInt(at.UnixNano(), 10))
		v.Set("limit", "5000")
		v.Set("direction", "forward")
	}
	resp, err := http.Get(base + path + "?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Stream map[string]string `json:"stream"`
				Values [][]string        `json:"values"`
				Value  []json.RawMessage `json:"value"`
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &r) != nil || r.Status != "success" {
		t.Fatalf("Loki rejects the query (HTTP %d):\n%s\n%s", resp.StatusCode, q, tail(body))
	}
	for _, res := range r.Data.Result {
		for _, val := range res.Values {
			ts, _ := strconv.ParseInt(val[0], 10, 64)
			entries = append(entries, lokiEntry{labels: res.Stream, ts: ts, line: val[1]})
		}
		if len(res.Value) == 2 {
			var s string
			_ = json.Unmarshal(res.Value[1], &s)
			f, _ := strconv.ParseFloat(s, 64)
			total += f
		}
	}
	return entries, total
}

func isMetricQuery(q string) bool {
	q = strings.TrimSpace(q)
	return !strings.HasPrefix(q, "{")
}

// docQueries are the ```logql blocks of a Markdown file of schema/.
func docQueries(t *testing.T, name string) []string {
	t.Helper()
	var out, cur []string
	in := false
	for _, line := range strings.Split(string(readFileBytes(t, filepath.Join(repoRoot(), "schema", name))), "\n") {
		switch {
		case !in && strings.TrimSpace(line) == "```logql":
			in, cur = true, nil
		case in && strings.TrimSpace(line) == "```":
			in = false
			out = append(out, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, line)
		}
	}
	return out
}

// The shipped Loki pipeline against a real Loki, configured as schema/loki.md
// says for a backfill: every event is stored with exactly the documented
// labels and comes back (line + labels) as the filter's record; and every
// query of schema/loki.md and the README runs and returns what it
// claims, computed independently from the filter's records.
func TestShippedLokiPipelineRealLoki(t *testing.T) {
	bin := fluentBit(t)
	base := realLoki(t)
	d := shipInstall(t, "loki.yaml")
	// In time order per stream, as loki.md requires: Loki rejects entries
	// more than an hour behind their stream's newest ("entry too far
	// behind", HTTP 400), and Fluent Bit does not retry a 400. Without the
	// sample trail (which repeats the generated time range), the input reads
	// each account's and region's files in delivery order.
	a := shipUploadArchive(t, false)
	in := a.shipInput
	u, _ := url.Parse(base)
	env := append(shipEnv(nil, nil, nil), "LOKI_HOST="+u.Hostname(), "LOKI_PORT="+u.Port())

	from := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	at := time.Date(2024, 6, 3, 0, 0, 0, 0, time.UTC)
	for _, e := range in.events {
		if et, _ := time.Parse(time.RFC3339, e["eventTime"].(string)); et.Before(from) || et.After(at) {
			t.Fatalf("event time %v outside the queried range", et)
		}
	}
	last := -1
	count := func() int {
		_, n := lokiQuery(t, base, `sum(count_over_time({job="opsworks-trail"}[40d]))`, from, at)
		if int(n) != last {
			last = int(n)
			t.Logf("Loki has %d of %d events", last, len(in.events))
		}
		return int(n)
	}
	d.runArchive(t, bin, a, env, func() bool { return count() >= len(in.events) })
	entries, _ := lokiQuery(t, base, `{job="opsworks-trail"}`, from, at)
	checkRecords(t, "real loki", lokiRecords(t, entries), in.events)

	// The documented queries, with what each must return.
	count2 := func(pred func(e map[string]any) bool) int {
		n := 0
		for _, e := range in.events {
			if pred(e) {
				n++
			}
		}
		return n
	}
	str := func(e map[string]any, k string) string { s, _ := e[k].(string); return s }
	cm := func(e map[string]any) bool { return str(e, "eventSource") == "opsworks-cm.amazonaws.com" }
	in2 := func(s string, set ...string) bool {
		for _, x := range set {
			if s == x {
				return true
			}
		}
		return false
	}
	expect := []struct {
		marker string // identifies the query
		want   int    // -1: must run, result not checked (example ARNs)
	}{
		{"(CreateServer|DeleteServer)", count2(func(e map[string]any) bool {
			return cm(e) && in2(str(e, "eventName"), "CreateServer", "DeleteServer")
		})},
		{"(CreateStack|DeleteStack|CreateInstance|DeleteInstance)", count2(func(e map[string]any) bool {
			return str(e, "opsworks_variant") == "stacks" && in2(str(e, "eventName"), "CreateStack", "DeleteStack", "CreateInstance", "DeleteInstance")
		})},
		{"user/alice", -1},
		{"role/OpsAdmin", -1},
		{"sum by (errorCode, eventName)", count2(func(e map[string]any) bool { return str(e, "errorCode") != "" })},
		{`| errorCode != ""`, count2(func(e map[string]any) bool { return str(e, "errorCode") != "" })},
		{"chef_automate|puppet_enterprise", count2(func(e map[string]any) bool {
			return in2(str(e, "opsworks_variant"), "chef_automate", "puppet_enterprise")
		})},
		{`"readOnly":false`, count2(func(e map[string]any) bool { return cm(e) && e["readOnly"] == false })},
		{`opsworks_variant="cm_unknown"`, count2(func(e map[string]any) bool { return str(e, "opsworks_variant") == "cm_unknown" })},
		{`sum(count_over_time({job="opsworks-trail"}`, len(in.events)},
		// Integrity (schema/loki.md): this archive is read without
		// validate_integrity, so no integrity record, and no event says
		// valid (TestShippedPipelinesIntegrity has both).
		{`integrity_status != ""`, count2(func(e map[string]any) bool { return str(e, "integrity_status") != "" })},
		{`s3_integrity != "valid"`, count2(func(e map[string]any) bool { return str(e, "s3_integrity") != "valid" })},
	}
	ranges := regexp.MustCompile(`\[\d+[a-z]+\]`)
	for _, doc := range []string{"loki.md", filepath.Join("..", "README.md")} {
		for _, q := range docQueries(t, doc) {
			want, found := 0, false
			for _, e := range expect {
				if strings.Contains(q, e.marker) {
					want, found = e.want, true
					break
				}
			}
			if !found {
				t.Errorf("%s: no expectation for the query:\n%s", doc, q)
				continue
			}
			// Metric queries are evaluated once, at the end, over the whole
			// archive: their per-day windows widened to cover it.
			run := q
			if isMetricQuery(q) {
				run = ranges.ReplaceAllString(q, "[40d]")
			}
			got, total := lokiQuery(t, base, run, from, at)
			n := len(got)
			if isMetricQuery(q) {
				n = int(total)
			}
			if want >= 0 && n != want {
				t.Errorf("%s: query returns %d, want %d:\n%s", doc, n, want, q)
			}
			if want > 0 && n == 0 {
				t.Errorf("%s: query returns nothing:\n%s", doc, q)
			}
			t.Logf("%s: %d for %.60q", doc, n, strings.Join(strings.Fields(q), " "))
		}
	}

	// The Grafana dashboard: every panel's query, its range variables
	// widened to the archive, evaluated once at the end.
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(readFileBytes(t, filepath.Join(repoRoot(), "examples", "grafana", "opsworks-loki-dashboard.json")), &dash); err != nil {
		t.Fatal(err)
	}
	byArn := map[string]int{}
	for _, e := range in.events {
		if arn := str(e, "userIdentity_arn"); arn != "" {
			byArn[arn]++
		}
	}
	top := slices.Sorted(maps.Values(byArn))
	slices.Reverse(top)
	top10 := 0
	for _, n := range top[:min(10, len(top))] {
		top10 += n
	}
	panelWant := map[string]int{
		"Events by variant":                 len(in.events),
		"Top principals (top 10)":           top10,
		"Actions":                           len(in.events),
		"Failed calls":                      count2(func(e map[string]any) bool { return str(e, "errorCode") != "" }),
		"Destructive and sensitive actions": count2(func(e map[string]any) bool { return audit.IsDestructive(str(e, "eventName")) }),
		// This archive is read without validate_integrity.
		"Integrity findings (validate_integrity)":      0,
		"Events not proven valid (validate_integrity)": len(in.events),
	}
	if len(dash.Panels) != len(panelWant) {
		t.Errorf("the dashboard has %d panels, the test expects %d", len(dash.Panels), len(panelWant))
	}
	vars := strings.NewReplacer("$__auto", "40d", "$__range", "40d")
	for _, p := range dash.Panels {
		want, ok := panelWant[p.Title]
		if !ok || len(p.Targets) != 1 {
			t.Errorf("dashboard panel %q: no expectation, or not one query", p.Title)
			continue
		}
		_, total := lokiQuery(t, base, vars.Replace(p.Targets[0].Expr), from, at)
		if int(total) != want || (want > 0 && total == 0) {
			t.Errorf("dashboard panel %q returns %v, want %d:\n%s", p.Title, total, want, p.Targets[0].Expr)
		}
		t.Logf("dashboard: %d for %q", int(total), p.Title)
	}
}
