package input_test

// Integration tests of the cloudtrail_s3 engine against a real S3-compatible
// server: MinIO on loopback (test/s3test installs it on first use), with a
// fault-injecting proxy in front where S3 errors are needed.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

const bucket = "trail"

type minioEnv struct {
	srv   *s3test.Server
	proxy *s3test.FaultProxy
}

func startMinIO(t *testing.T) *minioEnv {
	t.Helper()
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, bucket)
	return &minioEnv{srv: srv, proxy: s3test.NewFaultProxy(t, srv.Endpoint)}
}

// client talks to MinIO through the fault proxy, with quick SDK retries.
func (m *minioEnv) client(maxAttempts int) *s3.Client {
	return s3test.NewClient(m.proxy.URL, m.srv.AccessKey, m.srv.SecretKey, s3test.FastRetries(maxAttempts))
}

func (m *minioEnv) engine(t *testing.T, props map[string]string, maxAttempts int) *input.Engine {
	t.Helper()
	g := config.MapGetter{"bucket": bucket, "region": "us-east-1", "endpoint": m.proxy.URL, "force_path_style": "on", "progress_interval": "0"}
	for k, v := range props {
		g[k] = v
	}
	cfg, err := input.LoadConfig(g)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := input.NewEngine(cfg, input.Deps{S3: m.client(maxAttempts), Logf: func(level int, format string, args ...any) {
		if level <= input.LogWarn {
			t.Logf("engine: "+format, args...)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Stop() })
	return eng
}

// drain collects and commits until the engine is done (or maxBatches).
func drain(t *testing.T, eng *input.Engine, maxBatches int) []map[string]any {
	t.Helper()
	var out []map[string]any
	deadline := time.Now().Add(60 * time.Second)
	for batches := 0; !eng.Done() && batches < maxBatches; {
		if time.Now().After(deadline) {
			t.Fatalf("engine not done after 60 s: %+v", eng.Stats())
		}
		b := eng.Collect(0)
		if b == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		out = append(out, decodeAll(t, b.Records)...)
		eng.Commit(b)
		batches++
	}
	return out
}

func decodeAll(t *testing.T, chunk []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	err := record.ForEachRecord(chunk, func(_ record.EventTime, body *record.Value) error {
		var m map[string]any
		if err := json.Unmarshal(record.AppendJSON(nil, body), &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func isOpsWorks(ev map[string]any) bool {
	s := ev["eventSource"]
	return s == "opsworks.amazonaws.com" || s == "opsworks-cm.amazonaws.com"
}

// expected returns the OpsWorks eventIDs of the files accepted by keep.
func expected(t *testing.T, files []corpus.File, keep func(corpus.File) bool) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, f := range files {
		if !keep(f) {
			continue
		}
		var doc struct{ Records []map[string]any }
		if err := json.Unmarshal(f.Body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, ev := range doc.Records {
			if isOpsWorks(ev) {
				ids[ev["eventID"].(string)] = true
			}
		}
	}
	return ids
}

func exactlyOnce(t *testing.T, want map[string]bool, recs []map[string]any) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range recs {
		if e, ok := r["opsworks_error"]; ok {
			t.Fatalf("unexpected error record: %v", e)
		}
		id, _ := r["eventID"].(string)
		seen[id]++
		if !want[id] || seen[id] > 1 {
			t.Fatalf("event %q unexpected or repeated (%d)", id, seen[id])
		}
		if r["s3_bucket"] != bucket || !strings.Contains(fmt.Sprint(r["s3_key"]), "/CloudTrail/") {
			t.Fatalf("provenance missing: %v", r)
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("delivered %d of %d events", len(seen), len(want))
	}
}

// Organization trail over two days, read for one day: only that day's
// prefixes are listed, digest and Insight files are never fetched, every
// OpsWorks event of the window arrives once with its bucket and key.
func TestMinIOWindowOrgTrailAndSkipping(t *testing.T) {
	m := startMinIO(t)
	end := time.Date(2023, 3, 2, 0, 0, 0, 0, time.UTC)
	o := corpus.Options{Seed: 21, Events: 1500, OpsWorksShare: 0.2, EventsPerFile: 30, OrgID: "o-abc1234567",
		Start: end.Add(-48 * time.Hour), End: end, Accounts: []string{"111122223333", "444455556666"}, Regions: []string{"us-east-1", "eu-west-1"}}
	files := corpus.LogFiles(o)
	m.srv.UploadArchive(t, bucket, files, true)
	digest := "AWSLogs/o-abc1234567/111122223333/CloudTrail-Digest/us-east-1/2023/03/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20230301T010000Z.json.gz"
	insight := "AWSLogs/o-abc1234567/111122223333/CloudTrail-Insight/us-east-1/2023/03/01/111122223333_CloudTrail-Insight_us-east-1_20230301T0100Z_abcdefabcdef0123.json.gz"
	gz, _ := s3test.Gzip([]byte(`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"X","eventID":"insight"}]}`), time.Time{})
	m.srv.PutObject(t, bucket, digest, gz)
	m.srv.PutObject(t, bucket, insight, gz)

	dayStart, dayEnd := end.Add(-24*time.Hour), end
	eng := m.engine(t, map[string]string{"org_id": "o-abc1234567", "start_time": dayStart.Format(time.RFC3339), "end_time": dayEnd.Format(time.RFC3339)}, 3)
	recs := drain(t, eng, 1<<30)
	exactlyOnce(t, expected(t, files, func(f corpus.File) bool { return !f.Time.Before(dayStart) && f.Time.Before(dayEnd) }), recs)

	for _, r := range m.proxy.Requests() {
		if r.Method == "GET" && r.Key == "" { // a listing
			q, _ := url.ParseQuery(r.Query)
			prefix := q.Get("prefix")
			if strings.Count(prefix, "/") >= 8 && !strings.Contains(prefix, "/2023/03/01/") {
				t.Errorf("listed a day outside the window: %s", prefix)
			}
		}
		if r.Key == digest || r.Key == insight {
			t.Errorf("%s %s was fetched", r.Method, r.Key)
		}
	}
}

// Stop mid-backfill and restart with the same state_dir: every event exactly
// once over both runs, and a third run reads nothing new.
func TestMinIOCheckpointRestart(t *testing.T) {
	m := startMinIO(t)
	o := corpus.Options{Seed: 22, Events: 2000, OpsWorksShare: 0.25, EventsPerFile: 20}
	files := corpus.LogFiles(o)
	m.srv.UploadArchive(t, bucket, files, true)
	state := t.TempDir()
	props := map[string]string{"state_dir": state, "batch_size": "4K"}

	first := m.engine(t, props, 3)
	part := drain(t, first, 5)
	first.Stop()
	if len(part) == 0 {
		t.Fatal("first run delivered nothing")
	}
	second := m.engine(t, props, 3)
	rest := drain(t, second, 1<<30)
	second.Stop()
	exactlyOnce(t, expected(t, files, func(corpus.File) bool { return true }), append(part, rest...))

	third := m.engine(t, props, 3)
	if again := drain(t, third, 1<<30); len(again) != 0 {
		t.Fatalf("third run re-sent %d records", len(again))
	}
}

// S3 errors through the fault proxy: throttling, 500s and connections cut
// mid-GET are retried and everything arrives; an object that stays
// forbidden becomes an error record naming its key.
func TestMinIOFaults(t *testing.T) {
	m := startMinIO(t)
	o := corpus.Options{Seed: 23, Events: 600, OpsWorksShare: 0.3, EventsPerFile: 30}
	files := corpus.LogFiles(o)
	m.srv.UploadArchive(t, bucket, files, true)
	key := func(i int) string { return strings.ReplaceAll(files[i].Key, ".", `\.`) }
	m.proxy.Add(
		s3test.Rule{Method: "GET", KeyRegexp: key(0), Times: 2, Fault: s3test.SlowDown},
		s3test.Rule{Method: "GET", KeyRegexp: key(1), Times: 2, Fault: s3test.InternalError},
		s3test.Rule{Method: "GET", KeyRegexp: key(2), Times: 1, Fault: s3test.ResetMidBody},
		s3test.Rule{Method: "GET", KeyRegexp: key(3), Times: 1, Fault: s3test.ConnectionResetBeforeResponse},
		s3test.Rule{Method: "GET", KeyRegexp: key(4), Times: 1000, Fault: s3test.AccessDenied},
	)
	eng := m.engine(t, map[string]string{"max_retries": "3"}, 4)
	recs := drain(t, eng, 1<<30)
	var good []map[string]any
	var denied []map[string]any
	for _, r := range recs {
		if _, ok := r["opsworks_error"]; ok {
			denied = append(denied, r)
			continue
		}
		good = append(good, r)
	}
	exactlyOnce(t, expected(t, files, func(f corpus.File) bool { return f.Key != files[4].Key }), good)
	if len(denied) != 1 || denied[0]["s3_key"] != files[4].Key || !strings.Contains(fmt.Sprint(denied[0]["opsworks_error"]), "denied") {
		t.Fatalf("forbidden object: %v", denied)
	}
	for i := 0; i < 4; i++ {
		if m.proxy.Injected("GET", files[i].Key) == 0 {
			t.Errorf("fault on %s was never injected", files[i].Key)
		}
	}
}

// A file CloudTrail delivers late, inside late_arrival_window, is found by
// the next follow pass; one older than the window is not.
func TestMinIOLateArrivalFollow(t *testing.T) {
	m := startMinIO(t)
	end := time.Date(2023, 5, 1, 12, 0, 0, 0, time.UTC)
	o := corpus.Options{Seed: 24, Events: 200, OpsWorksShare: 1, EventsPerFile: 20, Start: end.Add(-3 * time.Hour), End: end,
		Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"}}
	files := corpus.LogFiles(o)
	newest := files[0].Time
	for _, f := range files {
		if f.Time.After(newest) {
			newest = f.Time
		}
	}
	m.srv.UploadArchive(t, bucket, files, true)
	eng := m.engine(t, map[string]string{"follow": "on", "poll_interval": "1s", "late_arrival_window": "1h",
		"start_time": o.Start.Format(time.RFC3339), "state_dir": t.TempDir()}, 3)
	recs := collectFor(t, eng, 3*time.Second)
	exactlyOnce(t, expected(t, files, func(corpus.File) bool { return true }), recs)

	late := lateFile(newest.Add(-30*time.Minute), "late-in-window", "LATEAAAAAAAAAAAA")
	tooLate := lateFile(newest.Add(-2*time.Hour), "late-too-old", "LATEBBBBBBBBBBBB")
	for _, f := range []corpus.File{late, tooLate} {
		gz, _ := s3test.Gzip(f.Body, time.Time{})
		m.srv.PutObject(t, bucket, f.Key, gz)
	}
	more := collectFor(t, eng, 4*time.Second)
	if len(more) != 1 || more[0]["eventID"] != "late-in-window" {
		t.Fatalf("after the late delivery got %v", more)
	}
}

func lateFile(at time.Time, id, unique string) corpus.File {
	key := fmt.Sprintf("AWSLogs/111122223333/CloudTrail/us-east-1/%s/111122223333_CloudTrail_us-east-1_%s_%s.json.gz",
		at.Format("2006/01/02"), at.Format("20060102T1504Z"), unique)
	body := fmt.Sprintf(`{"Records":[{"eventVersion":"1.08","eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks","eventTime":%q,"eventID":%q,"awsRegion":"us-east-1"}]}`,
		at.Format(time.RFC3339), id)
	return corpus.File{Key: key, Body: []byte(body), Time: at}
}

// collectFor collects and commits everything that arrives within d.
func collectFor(t *testing.T, eng *input.Engine, d time.Duration) []map[string]any {
	t.Helper()
	var out []map[string]any
	for end := time.Now().Add(d); time.Now().Before(end); {
		if b := eng.Collect(0); b != nil {
			out = append(out, decodeAll(t, b.Records)...)
			eng.Commit(b)
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out
}

// While paused the engine sends no requests; after resume it finishes.
func TestMinIOPauseResume(t *testing.T) {
	m := startMinIO(t)
	o := corpus.Options{Seed: 25, Events: 800, OpsWorksShare: 0.2, EventsPerFile: 10}
	files := corpus.LogFiles(o)
	m.srv.UploadArchive(t, bucket, files, true)
	eng := m.engine(t, map[string]string{"buffer_size": "8K", "batch_size": "2K", "workers": "2"}, 3)
	part := drain(t, eng, 3)
	eng.Pause()
	time.Sleep(300 * time.Millisecond) // let requests already on the wire finish
	before := len(m.proxy.Requests())
	time.Sleep(700 * time.Millisecond)
	if after := len(m.proxy.Requests()); after != before {
		t.Fatalf("%d requests while paused", after-before)
	}
	eng.Resume()
	rest := drain(t, eng, 1<<30)
	exactlyOnce(t, expected(t, files, func(corpus.File) bool { return true }), append(part, rest...))
}

// Unusable objects in a real bucket: each becomes one error record naming
// its key and reason; the good file next to them is delivered.
func TestMinIOBadObjects(t *testing.T) {
	m := startMinIO(t)
	day := "AWSLogs/111122223333/CloudTrail/us-east-1/2023/01/01/111122223333_CloudTrail_us-east-1_20230101T00%02dZ_%s.json.gz"
	good, _ := s3test.Gzip([]byte(`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"A","eventID":"good","eventTime":"2023-01-01T00:00:00Z"}]}`), time.Time{})
	truncated := good[:len(good)/2]
	notRecords, _ := s3test.Gzip([]byte(`{"Records":"nope"}`), time.Time{})
	invalid, _ := s3test.Gzip([]byte(`{"Records":[{"eventSource":"opsworks.amazonaws.com",}]}`), time.Time{})
	objects := map[string][]byte{
		fmt.Sprintf(day, 0, "GOODAAAAAAAAAAAA"):  good,
		fmt.Sprintf(day, 5, "TRUNCAAAAAAAAAAA"):  truncated,
		fmt.Sprintf(day, 10, "NOTARRAYAAAAAAAA"): notRecords,
		fmt.Sprintf(day, 15, "INVALIDAAAAAAAAA"): invalid,
		fmt.Sprintf(day, 20, "EMPTYAAAAAAAAAAA"): {},
	}
	for k, v := range objects {
		m.srv.PutObject(t, bucket, k, v)
	}
	eng := m.engine(t, nil, 3)
	recs := drain(t, eng, 1<<30)
	errs := map[string]string{}
	delivered := 0
	for _, r := range recs {
		if e, ok := r["opsworks_error"]; ok {
			errs[fmt.Sprint(r["s3_key"])] = fmt.Sprint(e)
			continue
		}
		delivered++
	}
	if delivered != 1 || len(errs) != 4 {
		t.Fatalf("delivered %d, errors %v", delivered, errs)
	}
	sum := eng.Stop()
	if sum.ObjectsBad != 4 {
		t.Fatalf("summary counts %d bad objects: %+v", sum.ObjectsBad, sum.Failures)
	}
}
