package input

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/testutil"
)

var isOpsWorks = map[string]bool{"opsworks.amazonaws.com": true, "opsworks-cm.amazonaws.com": true}

// trailFixture is a small generated trail: a few hours, one account, two
// regions, a fifth of the events from OpsWorks.
type trailFixture struct {
	files []corpus.File
	now   time.Time // the engines' clock: shortly after the last file
}

func newTrailFixture(seed int64) trailFixture {
	start := utc("2024-05-31T18:00:00Z")
	files := corpus.LogFiles(corpus.Options{Seed: seed, Events: 240, OpsWorksShare: 0.2, EventsPerFile: 8,
		Start: start, End: start.Add(3 * time.Hour), Accounts: []string{acctA}, Regions: []string{"us-east-1", "eu-west-1"}})
	return trailFixture{files: files, now: start.Add(4 * time.Hour)}
}

// putS3 stores every file gzip-compressed, as CloudTrail does.
func (fx trailFixture) putS3(t *testing.T, f *s3test.FakeBucket) {
	for _, file := range fx.files {
		f.Put(t, file.Key, s3test.MustGzip(t, file.Body))
	}
}

// mapFS is the same trail as a local tree: every other file decompressed
// (named .json), plus a stray file outside the layout.
func (fx trailFixture) mapFS(t *testing.T) fstest.MapFS {
	m := fstest.MapFS{}
	for i, file := range fx.files {
		if i%2 == 0 {
			m["copy/"+file.Key] = &fstest.MapFile{Data: s3test.MustGzip(t, file.Body)}
		} else {
			m["copy/"+strings.TrimSuffix(file.Key, ".gz")] = &fstest.MapFile{Data: file.Body}
		}
	}
	return m
}

func mustSub(t *testing.T, fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// wantEvent is what a test knows of one expected event.
type wantEvent struct {
	key, source, eventTime string
}

// expectedEvents maps eventID to where each event selected by keep is.
func (fx trailFixture) expectedEvents(t *testing.T, keep func(source string) bool) map[string]wantEvent {
	want := map[string]wantEvent{}
	for _, file := range fx.files {
		var doc struct{ Records []map[string]any }
		if err := json.Unmarshal(file.Body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, ev := range doc.Records {
			src, _ := ev["eventSource"].(string)
			if keep(src) {
				want[ev["eventID"].(string)] = wantEvent{key: file.Key, source: src, eventTime: ev["eventTime"].(string)}
			}
		}
	}
	return want
}

// testRecord is one decoded output record.
type testRecord struct {
	time record.EventTime
	body map[string]any
}

func decodeRecords(t *testing.T, chunk []byte) []testRecord {
	t.Helper()
	var out []testRecord
	err := record.ForEachRecord(chunk, func(tm record.EventTime, body *record.Value) error {
		var m map[string]any
		if err := json.Unmarshal(record.AppendJSON(nil, body), &m); err != nil {
			return err
		}
		out = append(out, testRecord{time: tm, body: m})
		return nil
	})
	if err != nil {
		t.Fatalf("records do not decode: %v", err)
	}
	return out
}

// testEngine builds an engine with fast retries and a log kept for the test.
func testEngine(t *testing.T, set config.MapGetter, deps Deps) *Engine {
	t.Helper()
	cfg, err := LoadConfig(set)
	if err != nil {
		t.Fatal(err)
	}
	if deps.Logf == nil {
		deps.Logf = func(level int, format string, args ...any) { t.Logf("[%d] "+format, append([]any{level}, args...)...) }
	}
	e, err := NewEngine(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.retry = retryPolicy{base: time.Millisecond, max: 5 * time.Millisecond}
	t.Cleanup(func() { e.Stop() })
	return e
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// collector drives an engine as Fluent Bit does: Collect, decode, and
// Commit what commit allows.
type collector struct {
	t        *testing.T
	e        *Engine
	maxBytes int
	records  []testRecord
	batches  int
	maxBatch int // largest single-object batch seen, in bytes
}

// poll collects until done() or the timeout; commit decides per batch
// (nil commits every batch).
func (c *collector) poll(timeout time.Duration, done func() bool, commit func(b *Batch, n int) bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %s; stats %+v", timeout, c.e.Stats())
		}
		b := c.e.Collect(c.maxBytes)
		if b == nil {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		c.batches++
		if b.Objects == 1 {
			c.maxBatch = max(c.maxBatch, len(b.Records))
		}
		recs := decodeRecords(c.t, b.Records)
		if len(recs) != b.Count {
			c.t.Fatalf("batch says %d records, holds %d", b.Count, len(recs))
		}
		c.records = append(c.records, recs...)
		if commit == nil || commit(b, c.batches) {
			c.e.Commit(b)
		}
	}
}

// drain runs a bounded engine to Done, committing everything.
func drain(t *testing.T, e *Engine, maxBytes int) *collector {
	t.Helper()
	c := &collector{t: t, e: e, maxBytes: maxBytes}
	c.poll(20*time.Second, e.Done, nil)
	return c
}

// events are the records that are CloudTrail events, by eventID.
func eventsByID(t *testing.T, recs []testRecord) map[string][]testRecord {
	out := map[string][]testRecord{}
	for _, r := range recs {
		if id, ok := r.body["eventID"].(string); ok {
			out[id] = append(out[id], r)
		}
	}
	return out
}

// checkExactlyOnce compares event records with the expected events,
// including provenance and record time.
func checkExactlyOnce(t *testing.T, got map[string][]testRecord, want map[string]wantEvent, provKey, provPrefix string) {
	t.Helper()
	for id, w := range want {
		rs := got[id]
		if len(rs) != 1 {
			t.Errorf("event %s (%s) delivered %d times", id, w.key, len(rs))
			continue
		}
		r := rs[0]
		if p, _ := r.body[provKey].(string); strings.TrimSuffix(p, ".gz") != strings.TrimSuffix(provPrefix+w.key, ".gz") {
			t.Errorf("event %s: %s = %q, want %q", id, provKey, r.body[provKey], provPrefix+w.key)
		}
		if when := time.Unix(r.time.Sec, r.time.Nsec).UTC().Format(time.RFC3339); when != w.eventTime {
			t.Errorf("event %s: record time %s, eventTime %s", id, when, w.eventTime)
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("unexpected event %s", id)
		}
	}
}

// countingS3 counts calls and can slow or fail GETs.
type countingS3 struct {
	cloudtrail.S3API
	gets, lists atomic.Int64
	delay       time.Duration
	mu          sync.Mutex
	attempts    map[string]int
	// failGet, if set, may fail the n-th GET (from 1) of a key.
	failGet func(key string, n int) error
	// failList, if set, may fail the n-th listing call (from 1).
	failList func(n int) error
}

func (c *countingS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	n := c.lists.Add(1)
	if c.failList != nil {
		if err := c.failList(int(n)); err != nil {
			return nil, err
		}
	}
	return c.S3API.ListObjectsV2(ctx, in, optFns...)
}

func (c *countingS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	c.gets.Add(1)
	key := aws.ToString(in.Key)
	c.mu.Lock()
	if c.attempts == nil {
		c.attempts = map[string]int{}
	}
	c.attempts[key]++
	n := c.attempts[key]
	c.mu.Unlock()
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	if c.failGet != nil && in.Range == nil { // the start-up check's GET is not scripted
		if err := c.failGet(key, n); err != nil {
			return nil, err
		}
	}
	return c.S3API.GetObject(ctx, in, optFns...)
}

// waitStable waits until v() has not changed for quiet, and returns it.
func waitStable(t *testing.T, v func() int64, quiet time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last, since := v(), time.Now()
	for time.Since(since) < quiet {
		if time.Now().After(deadline) {
			t.Fatal("value never settled")
		}
		time.Sleep(5 * time.Millisecond)
		if cur := v(); cur != last {
			last, since = cur, time.Now()
		}
	}
	return last
}

// testdataKey is a log-file key for a test object.
func testdataKey(n int, ext string) string {
	at := utc("2024-05-31T20:00:00Z").Add(time.Duration(n) * 5 * time.Minute)
	return path.Join(cloudtrail.DayPrefix("", "", acctA, "us-east-1", at), fmt.Sprintf("%s_CloudTrail_us-east-1_%s_%016d%s", acctA, at.Format("20060102T1504Z"), n, ext))
}

// acctA is the account of the engine tests' archives.
const acctA = "111122223333"

var utc = testutil.UTC
