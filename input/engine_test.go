package input

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"testing/iotest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/testutil"
)

func TestEngineBackfillS3(t *testing.T) {
	fx := newTrailFixture(21)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	all := func(string) bool { return true }
	tests := []struct {
		name string
		set  config.MapGetter
		keep func(string) bool
	}{
		{"opsworks events", config.MapGetter{}, func(s string) bool { return isOpsWorks[s] }},
		{"push-down off", config.MapGetter{"event_sources": "*"}, all},
		{"one source", config.MapGetter{"event_sources": "opsworks-cm.amazonaws.com", "workers": "1"}, func(s string) bool { return s == "opsworks-cm.amazonaws.com" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.set["bucket"] = s3test.TestBucket
			e := testEngine(t, tt.set, Deps{S3: f.Client, Now: fixedClock(fx.now)})
			if err := e.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			c := drain(t, e, 0)
			want := fx.expectedEvents(t, tt.keep)
			checkExactlyOnce(t, eventsByID(t, c.records), want, FieldKey, "")
			for _, r := range c.records {
				if r.body[FieldBucket] != s3test.TestBucket {
					t.Fatalf("record without s3_bucket: %v", r.body)
				}
			}
			st := e.Stop()
			if st.ObjectsRead != int64(len(fx.files)) || st.ObjectsCommitted != int64(len(fx.files)) || st.EventsKept != int64(len(want)) ||
				st.Delivered != int64(len(want)) || st.EventsSeen != 240 || st.ObjectsBad+st.ObjectsFailed != 0 || st.Lag != 0 {
				t.Errorf("summary %+v", st)
			}
		})
	}
}

// Object mode: one record per file with kept events, the events as they
// were, provenance beside Records.
func TestEngineObjectMode(t *testing.T) {
	fx := newTrailFixture(22)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "record_mode": "object"}, Deps{S3: f.Client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := drain(t, e, 0)
	want := fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] })
	seen := map[string]int{}
	keys := map[string]bool{}
	for _, r := range c.records {
		key, _ := r.body[FieldKey].(string)
		if keys[key] || r.body[FieldBucket] != s3test.TestBucket {
			t.Fatalf("duplicate or unattributed object record %v", r.body)
		}
		keys[key] = true
		k, _ := cloudtrail.ParseKey(key)
		if r.time.Sec != k.Time.Unix() {
			t.Errorf("%s: record time %d, key time %v", key, r.time.Sec, k.Time)
		}
		for _, ev := range r.body["Records"].([]any) {
			id := ev.(map[string]any)["eventID"].(string)
			seen[id]++
			if want[id].key != key {
				t.Errorf("event %s in the record of %s, not of %s", id, key, want[id].key)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d events, want %d", len(seen), len(want))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
}

func TestEngineLocal(t *testing.T) {
	fx := newTrailFixture(23)
	fsys := fx.mapFS(t)
	fsys["copy/stray/notes.json"] = &fstest.MapFile{Data: []byte(`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventID":"stray-1","eventTime":"2024-01-01T00:00:00Z"}]}`)}
	e := testEngine(t, config.MapGetter{"path": "/archive/copy"}, Deps{FS: mustSub(t, fsys, "copy"), Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := drain(t, e, 0)
	want := fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] })
	want["stray-1"] = wantEvent{key: "stray/notes.json", source: "opsworks.amazonaws.com", eventTime: "2024-01-01T00:00:00Z"}
	checkExactlyOnce(t, eventsByID(t, c.records), want, FieldFilePath, "")
	for _, r := range c.records {
		if _, ok := r.body[FieldBucket]; ok {
			t.Fatal("local records have no s3_bucket")
		}
	}
}

func TestEngineLocalMissingPath(t *testing.T) {
	e := testEngine(t, config.MapGetter{"path": filepath.Join(t.TempDir(), "nothing")}, Deps{})
	if err := e.Start(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "path: ") {
		t.Fatalf("Start: %v", err)
	}
}

// Without Collect the workers stop once buffer_size is full; what waits
// never exceeds buffer_size plus one object.
func TestEngineBufferBound(t *testing.T) {
	fx := newTrailFixture(24)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	client := &countingS3{S3API: f.Client}
	const limit = 4000
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "buffer_size": "4K", "event_sources": "*", "workers": "3"},
		Deps{S3: client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	gets := waitStable(t, client.gets.Load, 200*time.Millisecond)
	if gets >= int64(len(fx.files)) {
		t.Fatalf("all %d objects were read although nothing was collected", gets)
	}
	st := e.Stats()
	if st.Buffered == 0 || st.Delivered != 0 {
		t.Fatalf("stats while full: %+v", st)
	}
	c := &collector{t: t, e: e, maxBytes: 1} // one object per batch: measures objects
	c.poll(20*time.Second, e.Done, nil)
	checkExactlyOnce(t, eventsByID(t, c.records), fx.expectedEvents(t, func(string) bool { return true }), FieldKey, "")
	if peak := e.Stats().BufferedPeak; peak > limit+c.maxBatch {
		t.Errorf("peak %d bytes waiting, more than buffer_size %d + the largest object %d", peak, limit, c.maxBatch)
	}
	if c.batches < 10 {
		t.Errorf("only %d batches: Collect did not keep objects whole and separate", c.batches)
	}
}

func TestEngineBatchesKeepObjectsWhole(t *testing.T) {
	fx := newTrailFixture(25)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "event_sources": "*"}, Deps{S3: f.Client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const maxBytes = 3000
	c := &collector{t: t, e: e, maxBytes: maxBytes}
	perKey := map[string]int{} // batch number of each object's records
	c.poll(20*time.Second, e.Done, func(b *Batch, n int) bool {
		if b.Objects > 1 && len(b.Records) > maxBytes {
			t.Errorf("batch of %d objects has %d bytes, over %d", b.Objects, len(b.Records), maxBytes)
		}
		for _, r := range decodeRecords(t, b.Records) {
			key := r.body[FieldKey].(string)
			if prev, ok := perKey[key]; ok && prev != n {
				t.Errorf("%s split across batches %d and %d", key, prev, n)
			}
			perKey[key] = n
		}
		return true
	})
	// Listing order: within a stream, keys come in order.
	var last = map[cloudtrail.Stream]string{}
	for _, r := range c.records {
		k, _ := cloudtrail.ParseKey(r.body[FieldKey].(string))
		if k.Path < last[k.Stream()] {
			t.Fatalf("%s delivered after %s", k.Path, last[k.Stream()])
		}
		last[k.Stream()] = k.Path
	}
}

func TestEnginePauseResume(t *testing.T) {
	fx := newTrailFixture(26)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	client := &countingS3{S3API: f.Client, delay: 3 * time.Millisecond}
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "workers": "2"}, Deps{S3: client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &collector{t: t, e: e}
	c.poll(10*time.Second, func() bool { return client.gets.Load() >= 10 }, nil)
	e.Pause()
	gets := waitStable(t, client.gets.Load, 50*time.Millisecond) // calls under way finish
	lists := client.lists.Load()
	time.Sleep(150 * time.Millisecond)
	if g, l := client.gets.Load(), client.lists.Load(); g != gets || l != lists {
		t.Fatalf("paused, yet %d GETs and %d listings started", g-gets, l-lists)
	}
	if gets >= int64(len(fx.files))+1 {
		t.Fatal("the run finished before the pause; slow the client down")
	}
	e.Resume()
	c.poll(20*time.Second, e.Done, nil)
	checkExactlyOnce(t, eventsByID(t, c.records), fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] }), FieldKey, "")
}

// Stop mid-backfill with only some batches committed; the next run sends
// the rest: committed events once in all, uncommitted ones again.
func TestEngineCheckpointRestart(t *testing.T) {
	fx := newTrailFixture(27)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	state := t.TempDir()
	set := config.MapGetter{"bucket": s3test.TestBucket, "state_dir": state, "event_sources": "*", "buffer_size": "8K"}
	deps := Deps{S3: f.Client, Now: fixedClock(fx.now)}

	e1, c1, committed := commitFirstBatches(t, set, deps, 12, 20)
	e1.Stop()
	uncommitted := c1.records[len(committed):]

	e2 := testEngine(t, set, deps)
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := drain(t, e2, 0)
	if st := e2.Stats(); st.ObjectsSkipped < 12 {
		t.Errorf("restart skipped %d objects, want at least the 12 committed", st.ObjectsSkipped)
	}
	checkExactlyOnce(t, eventsByID(t, append(committed, c2.records...)), fx.expectedEvents(t, func(string) bool { return true }), FieldKey, "")
	again := eventsByID(t, c2.records)
	for _, r := range uncommitted {
		if id, ok := r.body["eventID"].(string); ok && len(again[id]) != 1 {
			t.Errorf("uncommitted event %s not sent again", id)
		}
	}
	e2.Stop()
	// A third run has nothing left to send.
	e3 := testEngine(t, set, deps)
	if err := e3.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c3 := drain(t, e3, 0); len(c3.records) != 0 {
		t.Errorf("third run sent %d records", len(c3.records))
	}
}

// Follow mode: a file delivered late (its key sorts before files already
// delivered) is found by a later pass while inside late_arrival_window.
func TestEngineFollowLateArrival(t *testing.T) {
	fx := newTrailFixture(28)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "follow": "on", "poll_interval": "20ms", "state_dir": t.TempDir()},
		Deps{S3: f.Client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] })
	c := &collector{t: t, e: e}
	c.poll(10*time.Second, func() bool { return len(eventsByID(t, c.records)) >= len(want) }, nil)

	last := fx.files[len(fx.files)-1]
	lateAt := last.Time.Add(-20 * time.Minute).Format("20060102T1504Z")
	lateKey := cloudtrail.DayPrefix("", "", acctA, "us-east-1", last.Time) + acctA + "_CloudTrail_us-east-1_" + lateAt + "_LATELATELATE0001.json.gz"
	staleAt := last.Time.Add(-3 * time.Hour).Format("20060102T1504Z")
	staleKey := cloudtrail.DayPrefix("", "", acctA, "us-east-1", last.Time.Add(-3*time.Hour)) + acctA + "_CloudTrail_us-east-1_" + staleAt + "_STALESTALESTAL01.json.gz"
	body := func(id string) []byte {
		return s3test.MustGzip(t, []byte(`{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks","eventID":"`+id+`","eventTime":"2024-05-31T20:00:00Z"}]}`))
	}
	f.Put(t, staleKey, body("stale-1")) // older than the window: not looked for
	f.Put(t, lateKey, body("late-1"))
	c.poll(10*time.Second, func() bool { return len(eventsByID(t, c.records)["late-1"]) > 0 }, nil)
	time.Sleep(100 * time.Millisecond) // a few more passes: nothing twice
	c.poll(time.Second, func() bool { return e.Collect(0) == nil }, nil)
	want["late-1"] = wantEvent{key: lateKey, source: "opsworks.amazonaws.com", eventTime: "2024-05-31T20:00:00Z"}
	checkExactlyOnce(t, eventsByID(t, c.records), want, FieldKey, "")
	if e.Done() {
		t.Error("a followed input is never done")
	}
	sum := e.Stop()
	if sum.ObjectsRead != int64(len(fx.files)+1) {
		t.Errorf("read %d objects, want %d", sum.ObjectsRead, len(fx.files)+1)
	}
}

// Bad objects become error records with their key and reason; good ones
// are delivered all the same.
func TestEngineBadObjects(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	files := []struct {
		testdata, ext string
		reason        string // "" for a good file
	}{
		{"mixed.json.gz", ".json.gz", ""},
		{"truncated.json.gz", ".json.gz", string(cloudtrail.ReasonTruncatedGzip)},
		{"invalid.json", ".json", string(cloudtrail.ReasonInvalidJSON)},
		{"records-not-array.json", ".json", string(cloudtrail.ReasonRecordsNotArray)},
		{"empty.json", ".json", string(cloudtrail.ReasonEmpty)},
		{"no-records.json", ".json", string(cloudtrail.ReasonNoRecords)},
		{"not-object-element.json", ".json", "not an object"},
		{"bad-checksum.json.gz", ".json.gz", string(cloudtrail.ReasonCorruptGzip)},
		{"mixed.json", ".json", "archived"}, // Glacier: InvalidObjectState
	}
	keys := map[string]string{}
	var archivedKey string
	for i, file := range files {
		data, err := os.ReadFile(filepath.Join("..", "cloudtrail", "testdata", file.testdata))
		if err != nil {
			t.Fatal(err)
		}
		key := testdataKey(i, file.ext)
		f.Put(t, key, data)
		keys[key] = file.reason
		if file.reason == "archived" {
			archivedKey = key
		}
	}
	client := &countingS3{S3API: f.Client, failGet: func(key string, n int) error {
		if key == archivedKey {
			return &smithy.GenericAPIError{Code: "InvalidObjectState", Message: "The operation is not valid for the object's storage class"}
		}
		return nil
	}}
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket}, Deps{S3: client, Now: fixedClock(utc("2024-06-01T02:00:00Z"))})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := drain(t, e, 0)
	errorsByKey := map[string][]testRecord{}
	events := 0
	for _, r := range c.records {
		key := r.body[FieldKey].(string)
		if msg, ok := r.body[filter.FieldError].(string); ok {
			errorsByKey[key] = append(errorsByKey[key], r)
			if !strings.HasPrefix(msg, keys[key]) && !strings.Contains(msg, "not an object") {
				t.Errorf("%s: error %q, want reason %q", key, msg, keys[key])
			}
			continue
		}
		events++
	}
	// mixed.json.gz has 2 OpsWorks events; not-object-element.json one event (not OpsWorks) and 2 bad elements.
	if events != 2 {
		t.Errorf("%d events delivered, want the 2 OpsWorks events of the good file", events)
	}
	for key, reason := range keys {
		n := len(errorsByKey[key])
		switch {
		case reason == "" && n != 0, reason == "not an object" && n != 2, reason != "" && reason != "not an object" && n != 1:
			t.Errorf("%s (%s): %d error records", key, reason, n)
		}
		if reason == "not an object" {
			var elems []any
			for _, r := range errorsByKey[key] {
				elems = append(elems, r.body[FieldRaw])
			}
			if b, _ := json.Marshal(elems); string(b) != `[42,"text"]` {
				t.Errorf("bad elements carried as %s", b)
			}
		}
	}
	sum := e.Stop()
	if sum.ObjectsBad != 7 || sum.ObjectsRead != 2 || sum.ObjectsFailed != 0 || sum.ObjectsCommitted != int64(len(files)) ||
		sum.Failures["not an object"] != 2 || sum.Failures[string(cloudtrail.ReasonArchived)] != 1 || sum.ErrorRecords != 9 || len(sum.FailedKeys) != 7 {
		t.Errorf("summary %+v", sum)
	}
}

// Throttling and 5xx are retried with backoff; an object that keeps
// failing is counted, not committed, and read again by the next run.
func TestEngineRetries(t *testing.T) {
	fx := newTrailFixture(29)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	state := t.TempDir()
	broken := fx.files[5].Key
	slowDown := &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate."}
	internal := &smithy.GenericAPIError{Code: "InternalError", Message: "We encountered an internal error."}
	client := &countingS3{S3API: f.Client,
		failGet: func(key string, n int) error {
			switch {
			case key == broken:
				return internal // always
			case n <= 2:
				return slowDown // every object is throttled twice
			}
			return nil
		},
		failList: func(n int) error {
			if n == 3 { // one listing call of the pass (after the start-up check's two)
				return internal
			}
			return nil
		}}
	set := config.MapGetter{"bucket": s3test.TestBucket, "state_dir": state, "max_retries": "3"}
	e := testEngine(t, set, Deps{S3: client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := drain(t, e, 0)
	want := fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] })
	got := eventsByID(t, c.records)
	brokenEvents := map[string]wantEvent{}
	for id, w := range want {
		if w.key == broken {
			brokenEvents[id] = w
			delete(want, id)
		}
	}
	checkExactlyOnce(t, got, want, FieldKey, "")
	sum := e.Stop()
	if sum.ObjectsFailed != 1 || sum.Failures[string(cloudtrail.ReasonServer)] != 1 || !slices.Contains(sum.FailedKeys, "s3://"+s3test.TestBucket+"/"+broken+" (server error)") ||
		sum.ObjectsCommitted != int64(len(fx.files)-1) || sum.Retries < int64(2*len(fx.files)) {
		t.Errorf("summary %+v", sum)
	}
	if !stateHasInFlight(t, state, broken) {
		t.Error("the failed object is not kept in flight in the checkpoint")
	}

	// The next run (S3 healthy again) reads it, and only it.
	e2 := testEngine(t, set, Deps{S3: f.Client, Now: fixedClock(fx.now)})
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := drain(t, e2, 0)
	checkExactlyOnce(t, eventsByID(t, c2.records), brokenEvents, FieldKey, "")
	if st := e2.Stats(); st.ObjectsRead != 1 {
		t.Errorf("second run read %d objects, want only the failed one", st.ObjectsRead)
	}
}

func stateHasInFlight(t *testing.T, dir, key string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "cloudtrail_s3.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The checkpoint's file format (cloudtrail.Checkpoint), as far as this
	// test reads it.
	var sf struct {
		Streams []struct {
			InFlight []string `json:"in_flight"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(data, &sf); err != nil {
		t.Fatal(err)
	}
	for _, s := range sf.Streams {
		if slices.Contains(s.InFlight, key) {
			return true
		}
	}
	return false
}

func TestEngineAccessDenied(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	newTrailFixture(30).putS3(t, f)
	for _, tt := range []struct {
		client *deniedS3
		want   string
	}{
		{&deniedS3{S3API: f.Client, denyList: true}, "s3:ListBucket on arn:aws:s3:::" + s3test.TestBucket},
		{&deniedS3{S3API: f.Client, denyGet: true, denyHead: true}, "s3:GetObject on arn:aws:s3:::" + s3test.TestBucket + "/AWSLogs/"},
		{&deniedS3{S3API: f.Client, denyGet: true, kmsKey: "arn:aws:kms:us-east-1:111122223333:key/k"}, "kms:Decrypt on arn:aws:kms:us-east-1:111122223333:key/k"},
	} {
		e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "state_dir": t.TempDir()}, Deps{S3: tt.client})
		err := e.Start(context.Background())
		var ae *cloudtrail.AccessError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Start: %v, want an access error naming %q", err, tt.want)
		}
		if e.Done() || e.Collect(0) != nil {
			t.Error("an engine that did not start has nothing")
		}
	}
}

func TestEngineStopIdempotentAndSaves(t *testing.T) {
	fx := newTrailFixture(31)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	state := t.TempDir()
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "state_dir": state}, Deps{S3: f.Client, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err == nil {
		t.Error("second Start accepted")
	}
	c := &collector{t: t, e: e}
	c.poll(10*time.Second, func() bool { return c.batches >= 2 }, nil)
	e.Pause() // Stop must not hang on a paused engine
	s1 := e.Stop()
	s2 := e.Stop()
	if s1.ObjectsCommitted == 0 || s1.ObjectsCommitted != s2.ObjectsCommitted || s1.Elapsed != s2.Elapsed {
		t.Errorf("Stop not idempotent: %+v vs %+v", s1, s2)
	}
	data, err := os.ReadFile(filepath.Join(state, "cloudtrail_s3.json"))
	if err != nil || !strings.Contains(string(data), `"hwm"`) {
		t.Fatalf("state not saved at Stop: %v\n%s", err, data)
	}
	// A batch committed after Stop is saved too.
	if b := e.Collect(0); b != nil {
		e.Commit(b)
	}

	never := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket}, Deps{S3: f.Client})
	if sum := never.Stop(); sum.ObjectsRead != 0 {
		t.Errorf("Stop without Start: %+v", sum)
	}
}

// Progress lines and the final summary are logged.
func TestEngineProgressAndSummary(t *testing.T) {
	fx := newTrailFixture(32)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	var log testutil.LogRecorder
	client := &countingS3{S3API: f.Client, delay: time.Millisecond}
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "progress_interval": "1"},
		Deps{S3: client, Now: fixedClock(fx.now), Logf: func(level int, format string, args ...any) { log.Logf(format, args...) }})
	e.cfg.ProgressInterval = 5 * time.Millisecond
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	drain(t, e, 0)
	e.Stop()
	text := strings.Join(log.Lines(), "\n")
	for _, want := range []string{"progress: ", "MB/s", "events/s", "behind the newest listed object", "backfill finished after"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "backfill finished"); n != 1 || strings.Contains(text, "stopped after") {
		t.Errorf("summary logged %d times:\n%s", n, text)
	}
}

// brokenBodyS3 cuts the body of each object's first GET off halfway with
// a connection reset: the SDK cannot retry that (the response had
// started), so the engine must read the object again.
type brokenBodyS3 struct {
	cloudtrail.S3API
	mu   sync.Mutex
	seen map[string]bool
}

func (b *brokenBodyS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := b.S3API.GetObject(ctx, in, optFns...)
	if err != nil || in.Range != nil { // the start-up check's GET is left alone
		return out, err
	}
	b.mu.Lock()
	first := !b.seen[aws.ToString(in.Key)]
	b.seen[aws.ToString(in.Key)] = true
	b.mu.Unlock()
	if !first {
		return out, nil
	}
	data, _ := io.ReadAll(out.Body)
	out.Body.Close()
	out.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(syscall.ECONNRESET)))
	return out, nil
}

func TestEngineRetriesBrokenBody(t *testing.T) {
	fx := newTrailFixture(33)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket}, Deps{S3: &brokenBodyS3{S3API: f.Client, seen: map[string]bool{}}, Now: fixedClock(fx.now)})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := drain(t, e, 0)
	checkExactlyOnce(t, eventsByID(t, c.records), fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] }), FieldKey, "")
	if st := e.Stats(); st.Retries != int64(len(fx.files)) || st.ObjectsFailed+st.ObjectsBad != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A body that stalls (headers and half the bytes, then nothing more) is
// abandoned after stall_timeout, logged with its key, and read again: the
// backfill completes instead of freezing a worker.
func TestEngineStalledBodyIsRetried(t *testing.T) {
	fx := newTrailFixture(34)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	// The first GET is the start-up check's one-byte read: bounded by
	// api_timeout as a whole, it warns and lets the input start.
	proxy := s3test.NewFaultProxy(t, f.URL, s3test.Rule{Method: "GET", KeyRegexp: "_CloudTrail_", Times: 3, Fault: s3test.StallMidBody})
	var log testutil.LogRecorder
	e := testEngine(t, config.MapGetter{"bucket": s3test.TestBucket, "stall_timeout": "1s", "api_timeout": "1s"},
		Deps{S3: s3test.UnitClient(proxy.URL), Now: fixedClock(fx.now), Logf: func(level int, format string, args ...any) { log.Logf(format, args...) }})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := drain(t, e, 0)
	checkExactlyOnce(t, eventsByID(t, c.records), fx.expectedEvents(t, func(s string) bool { return isOpsWorks[s] }), FieldKey, "")
	if st := e.Stats(); st.Retries != 2 || st.ObjectsFailed+st.ObjectsBad != 0 {
		t.Errorf("stats %+v: want 2 retries, nothing failed", st)
	}
	text := strings.Join(log.Lines(), "\n")
	if !strings.Contains(text, "stall_timeout") || !strings.Contains(text, "s3://"+s3test.TestBucket+"/AWSLogs/") {
		t.Errorf("no warning naming the stalled object and stall_timeout:\n%s", text)
	}
	if !strings.Contains(text, "start-up read of s3://") {
		t.Errorf("no warning about the stalled start-up read:\n%s", text)
	}
}

// A crash (no Stop, no final save) re-sends at most the batches that were
// handed out and not committed: the checkpoint on disk keeps up with every
// Commit. The state directory is copied as the crash left it.
func TestEngineCrashResendsOnlyBatchesInFlight(t *testing.T) {
	fx := newTrailFixture(35)
	f := s3test.NewFakeBucket(t)
	fx.putS3(t, f)
	state := t.TempDir()
	set := config.MapGetter{"bucket": s3test.TestBucket, "state_dir": state, "event_sources": "*", "buffer_size": "8K"}
	deps := Deps{S3: f.Client, Now: fixedClock(fx.now)}

	_, _, committed := commitFirstBatches(t, set, deps, 12, 15) // the other 3: in flight at the crash
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(state)); err != nil {
		t.Fatal(err)
	}
	set2 := config.MapGetter{"bucket": s3test.TestBucket, "state_dir": crashed, "event_sources": "*"}
	e2 := testEngine(t, set2, deps)
	if err := e2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c2 := drain(t, e2, 0)
	if st := e2.Stats(); st.ObjectsRead != int64(len(fx.files)-12) {
		t.Errorf("after the crash %d objects were read again, want all but the 12 committed (%d)", st.ObjectsRead, len(fx.files)-12)
	}
	checkExactlyOnce(t, eventsByID(t, append(committed, c2.records...)), fx.expectedEvents(t, func(string) bool { return true }), FieldKey, "")
}

// commitFirstBatches starts an engine and collects one object per batch
// until it collected total batches, committing only the first n (the rest
// stay in flight). It returns the engine, its collector and the records
// that were committed.
func commitFirstBatches(t *testing.T, set config.MapGetter, deps Deps, n, total int) (*Engine, *collector, []testRecord) {
	t.Helper()
	e := testEngine(t, set, deps)
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := &collector{t: t, e: e, maxBytes: 1}
	var committed []testRecord
	c.poll(10*time.Second, func() bool { return c.batches >= total }, func(b *Batch, i int) bool {
		if i <= n {
			committed = append(committed, decodeRecords(t, b.Records)...)
			return true
		}
		return false
	})
	return e, c, committed
}
