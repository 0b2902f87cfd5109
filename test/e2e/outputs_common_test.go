package e2e

// Helpers for the shipped pipelines (examples/pipelines) run in real Fluent
// Bit against in-test stand-ins of the backends: HTTP servers on 127.0.0.1
// that speak the parts of the Elasticsearch/OpenSearch _bulk API and the Loki
// push API that Fluent Bit's outputs use. Everything is named ship*/capture*
// to stay clear of the other e2e files' helpers.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Paths the shipped pipelines use inside the container image, and what a
// test puts there instead.
const (
	shipPluginPath      = "/fluent-bit/plugins/flb-filter_opsworks.so"
	shipInputPluginPath = "/fluent-bit/plugins/in_cloudtrail_s3.so"
	shipStateDir        = "/var/lib/opsworks-trail"
	shipInputDir        = "/var/log/cloudtrail" // tail's, in deploy/
)

var shipHTTPPort = regexp.MustCompile(`(?im)^(\s*http_port\s*:?\s*)2020\s*$`)

// shipDeploy is one shipped pipeline file installed in a temp dir, with the
// paths rewritten to the dir, as test/e2e/shipped_test.go does for fluent-bit.conf.
type shipDeploy struct {
	dir    string
	config string // file name inside dir
	state  string
}

// shipInstall copies examples/pipelines/<name> and its plugins file (.conf
// for classic, .yaml for YAML) into a fresh dir and rewrites the image paths.
func shipInstall(t *testing.T, name string) *shipDeploy {
	t.Helper()
	d := &shipDeploy{dir: t.TempDir(), config: name}
	d.state = filepath.Join(d.dir, "state")
	plugins := "plugins.conf"
	if strings.HasSuffix(name, ".yaml") {
		plugins = "plugins.yaml"
	}
	for _, f := range []string{name, plugins} {
		b, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "pipelines", f))
		if err != nil {
			t.Fatal(err)
		}
		d.writeRewritten(t, f, string(b))
	}
	return d
}

// writeRewritten writes a config with the image's paths replaced by the
// test's (the plugins as built for the test), and the HTTP server on a free
// port (tests may run beside a real Fluent Bit on 2020).
func (d *shipDeploy) writeRewritten(t *testing.T, name, content string) {
	t.Helper()
	r := strings.NewReplacer(shipPluginPath, pluginSO(t), shipInputPluginPath, inputPluginSO(t),
		shipStateDir, d.state, shipInputDir, filepath.Join(d.dir, "in"))
	content = r.Replace(content)
	content = shipHTTPPort.ReplaceAllString(content, fmt.Sprintf("${1}%d", shipFreePort(t)))
	if err := os.WriteFile(filepath.Join(d.dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func shipFreePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// shipEnv points every backend variable of the pipelines at a server (nil:
// an address nothing listens on).
func shipEnv(es, os, loki *httptest.Server) []string {
	hostPort := func(s *httptest.Server) (string, string) {
		if s == nil {
			return "127.0.0.1", "9"
		}
		h, p, _ := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
		return h, p
	}
	var env []string
	for _, b := range []struct {
		prefix string
		srv    *httptest.Server
	}{{"ES", es}, {"OPENSEARCH", os}, {"LOKI", loki}} {
		h, p := hostPort(b.srv)
		env = append(env, b.prefix+"_HOST="+h, b.prefix+"_PORT="+p, b.prefix+"_TLS=off",
			b.prefix+"_USER=opsworks-"+strings.ToLower(b.prefix), b.prefix+"_PASSWORD=secret")
	}
	return env
}

// shipRun starts Fluent Bit on the installed config, waits until done()
// or the deadline, stops it with SIGINT (like a service manager) and
// returns its log. It fails the test if Fluent Bit exits on its own.
func (d *shipDeploy) run(t *testing.T, bin string, env []string, done func() bool) string {
	t.Helper()
	logPath := filepath.Join(d.dir, fmt.Sprintf("fluent-bit-%d.log", time.Now().UnixNano()))
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(bin, "-c", filepath.Join(d.dir, d.config))
	cmd.Dir = d.dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// done() may fail the test (t.Fatal ends this goroutine): never leave
	// Fluent Bit running behind.
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s: timed out waiting for the output; log:\n%s", d.config, shipLogTail(string(log)))
		}
		select {
		case err := <-exited:
			stopped = true
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s: fluent-bit exited early (%v):\n%s", d.config, err, shipLogTail(string(log)))
		case <-time.After(200 * time.Millisecond):
		}
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
	stopped = true
	log, _ := os.ReadFile(logPath)
	return string(log)
}

// shipInput is what a pipeline must deliver: OpsWorks events by eventID and
// error records. For the tail-based configurations of deploy/: the bundled
// sample trail and generated log files, one log file per line, plus one
// malformed line (shipWriteInput); for the shipped pipelines: the CLI's
// output over the MinIO archive (shipUploadArchive).
type shipInput struct {
	events map[string]map[string]any // eventID → record the filter produces
	errors []map[string]any          // error records
	lines  int
}

const shipBrokenLine = `{"Records":[{"eventVersion": "1.01"ed, "eventSource":"opsworks.amazonaws.com"}]}`

// shipWriteInput writes the NDJSON and computes, with the filter core and the
// pipelines' own filter settings, the records Fluent Bit must deliver.
// file_path (tail's Path_Key) is added as the carrier field it is.
func shipWriteInput(t *testing.T, path string) *shipInput {
	t.Helper()
	var buf bytes.Buffer
	sampleRecords(t, path) // examples/sample-trail, one log file per line
	buf.Write(readFileBytes(t, path))
	for _, f := range corpus.LogFiles(corpus.Options{Seed: 5, Events: 3000, OpsWorksShare: 0.4}) {
		buf.Write(f.Body)
		buf.WriteByte('\n')
	}
	buf.WriteString(shipBrokenLine + "\n")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	cfg, err := filter.LoadConfig(config.MapGetter{"source_key": "log", "error_tag": "cloudtrail.error"})
	if err != nil {
		t.Fatal(err)
	}
	p := filter.NewProcessor(cfg, nil)
	var chunk []byte
	in := &shipInput{events: map[string]map[string]any{}}
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		in.lines++
		// tail's record: {"file_path": …, "log": …}
		v := record.Value{Kind: record.KindMap, Items: []record.Value{
			record.StringValue("file_path"), record.StringValue(path),
			record.StringValue("log"), record.BytesValue(line),
		}}
		chunk = record.AppendValueRecord(chunk, record.EventTime{Sec: 1}, &v)
	}
	var res filter.Result
	if err := p.FilterChunk(chunk, &res); err != nil {
		t.Fatal(err)
	}
	if res.KeepN != 0 {
		t.Fatalf("%d records stayed under the input tag", res.KeepN)
	}
	for _, e := range res.Emits {
		err := record.ForEachRecord(e.Records, func(_ record.EventTime, body *record.Value) error {
			rec := shipDecode(t, record.AppendJSON(nil, body))
			if e.Tag == "cloudtrail.error" {
				in.errors = append(in.errors, rec)
				return nil
			}
			if e.Tag != "opsworks."+fmt.Sprint(rec["opsworks_variant"]) {
				t.Fatalf("tag %s for variant %v", e.Tag, rec["opsworks_variant"])
			}
			in.events[rec["eventID"].(string)] = rec
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(in.events) < 1000 || len(in.errors) != 1 {
		t.Fatalf("input has %d OpsWorks events and %d errors; want ≥ 1000 and 1", len(in.events), len(in.errors))
	}
	in.checkVariants(t)
	return in
}

// checkVariants: the input has events of every variant.
func (in *shipInput) checkVariants(t *testing.T) {
	t.Helper()
	if v := in.byVariant(); v["chef_automate"] == 0 || v["puppet_enterprise"] == 0 || v["cm_unknown"] == 0 || v["stacks"] == 0 {
		t.Fatalf("input lacks a variant: %v", v)
	}
}

func (in *shipInput) byVariant() map[string]int {
	m := map[string]int{}
	for _, e := range in.events {
		m[e["opsworks_variant"].(string)]++
	}
	return m
}

func shipDecode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("not a JSON object: %v: %.300s", err, b)
	}
	return m
}

// shipCanonical is a comparable form of a record: JSON with sorted keys.
func shipCanonical(m map[string]any) string {
	b, _ := json.Marshal(m)
	return string(b)
}

var (
	shipSchemaOnce sync.Once
	shipSchema     *jsonschema.Schema
	shipSchemaErr  error
)

// shipEventSchema is schema/opsworks-event.schema.json, format assertions on.
func shipEventSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	shipSchemaOnce.Do(func() {
		f, err := os.Open(filepath.Join(repoRoot(), "schema", "opsworks-event.schema.json"))
		if err != nil {
			shipSchemaErr = err
			return
		}
		defer f.Close()
		doc, err := jsonschema.UnmarshalJSON(f)
		if err != nil {
			shipSchemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		if shipSchemaErr = c.AddResource("opsworks-event.schema.json", doc); shipSchemaErr == nil {
			shipSchema, shipSchemaErr = c.Compile("opsworks-event.schema.json")
		}
	})
	if shipSchemaErr != nil {
		t.Fatal(shipSchemaErr)
	}
	return shipSchema
}

// readPlainNDJSON reads a `file` output with Format plain: one JSON record per line.
func readPlainNDJSON(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) > 0 {
			out = append(out, shipDecode(t, sc.Bytes()))
		}
	}
	return out
}

// captureBulk stands in for Elasticsearch or OpenSearch: it accepts _bulk
// requests (gzip or not), stores documents by index and _id with the real
// semantics of each action (index: create or overwrite, 201/200; create: 409
// if the _id exists), and keeps the action lines for inspection.
type captureBulk struct {
	mu       sync.Mutex
	docs     map[string]map[string]any // index + "/" + _id → document
	actions  []map[string]any          // every action line's metadata, with "op"
	writes   int                       // actions seen, repeats included
	auth     map[string]bool           // Authorization headers seen
	requests int
	problems []string
}

func newCaptureBulk(t *testing.T) (*captureBulk, *httptest.Server) {
	c := &captureBulk{docs: map[string]map[string]any{}, auth: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	return c, srv
}

func (c *captureBulk) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests++
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_bulk") {
		c.problems = append(c.problems, fmt.Sprintf("unexpected request %s %s", r.Method, r.URL))
		http.Error(w, `{"error":"not a bulk request"}`, http.StatusBadRequest)
		return
	}
	c.auth[r.Header.Get("Authorization")] = true
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			c.problems = append(c.problems, "bad gzip: "+err.Error())
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	data, err := io.ReadAll(body)
	if err != nil {
		c.problems = append(c.problems, "reading body: "+err.Error())
		return
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	var items []any
	errorsSeen := false
	for i := 0; i+1 < len(lines); i += 2 {
		var action map[string]map[string]any
		if err := json.Unmarshal(lines[i], &action); err != nil || len(action) != 1 {
			c.problems = append(c.problems, fmt.Sprintf("bad action line %q", lines[i]))
			continue
		}
		var doc map[string]any
		d := json.NewDecoder(bytes.NewReader(lines[i+1]))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			c.problems = append(c.problems, fmt.Sprintf("bad document line: %v", err))
			continue
		}
		for op, meta := range action {
			meta["op"] = op
			c.actions = append(c.actions, meta)
			key := fmt.Sprintf("%v/%v", meta["_index"], meta["_id"])
			c.writes++
			_, exists := c.docs[key]
			status := 201
			switch {
			case op == "create" && exists:
				status = 409
				errorsSeen = true
			case op == "index" && exists:
				status = 200
			case op != "index" && op != "create":
				status = 400
				errorsSeen = true
				c.problems = append(c.problems, "unexpected bulk action "+op)
			}
			if status < 300 {
				c.docs[key] = doc
			}
			item := map[string]any{"_index": meta["_index"], "_id": meta["_id"], "status": status}
			if status == 409 {
				item["error"] = map[string]any{"type": "version_conflict_engine_exception", "reason": "document already exists"}
			}
			items = append(items, map[string]any{op: item})
		}
	}
	if len(lines)%2 != 0 {
		c.problems = append(c.problems, "odd number of bulk lines")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errorsSeen, "items": items})
}

func (c *captureBulk) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.docs)
}

// snapshot returns the stored documents by _id, checking that they all went
// to index.
func (c *captureBulk) snapshot(t *testing.T, index string) map[string]map[string]any {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) > 0 {
		t.Fatalf("malformed requests: %v", c.problems)
	}
	out := map[string]map[string]any{}
	for _, a := range c.actions {
		if a["_index"] != index {
			t.Errorf("action %v: _index %v, want %s", a, a["_index"], index)
		}
		if a["op"] != "index" {
			t.Errorf("action %v: want index (Write_Operation)", a)
		}
		if _, ok := a["_type"]; ok {
			t.Errorf("action %v has _type (Suppress_Type_Name)", a)
		}
	}
	for k, d := range c.docs {
		_, id, _ := strings.Cut(k, "/")
		out[id] = d
	}
	return out
}

// checkDocuments compares what a backend stored with what the filter
// produces: one document per OpsWorks event, _id = eventID, valid against the
// JSON Schema, equal to the filter's record plus the @timestamp the output adds.
func checkDocuments(t *testing.T, what string, got map[string]map[string]any, want map[string]map[string]any) {
	t.Helper()
	sch := shipEventSchema(t)
	if len(got) != len(want) {
		t.Errorf("%s: %d documents, want %d (one per OpsWorks event)", what, len(got), len(want))
	}
	var ids []string
	for id := range want {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bad := 0
	for _, id := range ids {
		doc, ok := got[id]
		if !ok {
			t.Errorf("%s: no document with _id %s", what, id)
			bad++
			continue
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: document %s does not validate: %v", what, id, err)
			bad++
		}
		if doc["eventID"] != id {
			t.Errorf("%s: _id %s but eventID %v", what, id, doc["eventID"])
		}
		ts, _ := doc["@timestamp"].(string)
		et := strings.TrimSuffix(want[id]["eventTime"].(string), "Z")
		if !strings.HasPrefix(ts, et) {
			t.Errorf("%s: @timestamp %q for eventTime %v", what, ts, want[id]["eventTime"])
		}
		d := map[string]any{}
		for k, v := range doc {
			if k != "@timestamp" {
				d[k] = v
			}
		}
		if a, b := shipCanonical(d), shipCanonical(want[id]); a != b {
			t.Errorf("%s: document %s differs from the filter's record:\n got  %.600s\n want %.600s", what, id, a, b)
			bad++
		}
		if bad > 5 {
			t.Fatal("too many differences")
		}
	}
}

func readFileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// shipLogTail is the end of a Fluent Bit log, lines shortened: bulk
// responses can be megabytes long.
func shipLogTail(log string) string {
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	for i, l := range lines {
		if len(l) > 300 {
			lines[i] = l[:300] + "…"
		}
	}
	return strings.Join(lines, "\n")
}
