package cloudtrail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/testutil"
)

// logKey builds a parsed log-file key of one stream.
func logKey(t testing.TB, account, region string, at time.Time, n int) Key {
	t.Helper()
	path := DayPrefix("", "", account, region, at) + account + "_CloudTrail_" + region + "_" + at.UTC().Format("20060102T1504Z") + fmt.Sprintf("_%016d.json.gz", n)
	k, ok := ParseKey(path)
	if !ok {
		t.Fatalf("bad test key %s", path)
	}
	return k
}

// clock is a settable clock for checkpoints.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func openCheckpoint(t *testing.T, dir string, mod ...func(*CheckpointOptions)) *Checkpoint {
	t.Helper()
	opts := CheckpointOptions{Dir: dir, Source: "s3://" + s3test.TestBucket + "/AWSLogs/", Logf: t.Logf}
	for _, m := range mod {
		m(&opts)
	}
	c, err := OpenCheckpoint(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pipeline is the input's loop in miniature: list (each stream from its
// checkpoint), skip what the checkpoint has, send, commit. It stops after
// budget objects (a crash) when budget >= 0.
func pipeline(t *testing.T, l *S3Lister, ck *Checkpoint, budget int) []string {
	t.Helper()
	var sent []string
	err := l.List(context.Background(), func(o Object) error {
		if !ck.Begin(o.Key) {
			return nil
		}
		if budget >= 0 && len(sent) == budget {
			return errStop // crash: this key was begun, never committed
		}
		sent = append(sent, o.Key.Path)
		return ck.Commit(o.Key)
	})
	if err != nil && err != errStop {
		t.Fatal(err)
	}
	if err == nil {
		ck.EndPass()
	}
	return sent
}

func TestCheckpointRestartResumesWithoutResending(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	dir := t.TempDir()
	start, end := utc("2024-05-28T00:00:00Z"), utc("2024-06-01T00:00:00Z")
	all := expected(fx.logs, start, end, KindLog)

	ck := openCheckpoint(t, dir)
	l, _ := NewS3Lister(f.Client, s3test.TestBucket, ListOptions{Start: start, End: end, StreamStart: ck.StreamStart})
	first := pipeline(t, l, ck, len(all)*2/3) // crash: no Close, no final save

	ck = openCheckpoint(t, dir)
	floors := map[Stream]time.Time{}
	for _, p := range all {
		k, _ := ParseKey(p)
		floors[k.Stream()] = ck.ResumeTime(k.Stream())
	}
	rec := &s3test.RecordingLister{Inner: f.Client}
	l, _ = NewS3Lister(rec, s3test.TestBucket, ListOptions{Start: start, End: end, StreamStart: ck.StreamStart})
	second := pipeline(t, l, ck, -1)

	sent := append(slices.Clone(first), second...)
	slices.SortFunc(sent, compareByStream)
	if !slices.Equal(sent, all) {
		t.Fatalf("sent %d objects over the restart, want each of %d exactly once", len(sent), len(all))
	}
	// The second run listed each stream from the day of its floor on.
	resumed := 0
	firstDay := map[Stream]string{}
	for _, c := range recorded(rec) {
		if c.delimiter == "" {
			if s := streamOfPrefix(c.prefix); firstDay[s] == "" {
				firstDay[s] = c.prefix
			}
		}
	}
	for s, floor := range floors {
		want := DayPrefix("", "", s.Account, s.Region, latestTime(floor, start))
		if firstDay[s] != want {
			t.Errorf("%s: second run started at %q, want its floor's day %q", s, firstDay[s], want)
		}
		if !floor.IsZero() && utcDay(floor).After(start) {
			resumed++
		}
	}
	if resumed == 0 {
		t.Error("no stream resumed after its start day: the test does not test resuming")
	}
	// A third run finds nothing new.
	ck = openCheckpoint(t, dir)
	l, _ = NewS3Lister(f.Client, s3test.TestBucket, ListOptions{Start: start, End: end, StreamStart: ck.StreamStart})
	if again := pipeline(t, l, ck, -1); len(again) != 0 {
		t.Errorf("third run re-sent %d objects", len(again))
	}
}

func streamOfPrefix(prefix string) Stream {
	segs := strings.Split(strings.TrimSuffix(prefix, "/"), "/")
	return Stream{Account: segs[1], Kind: kindOfFolder(segs[2]), Region: segs[3]}
}

func latestTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (c *Checkpoint) committedCount(s Stream) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[s]; st != nil {
		return len(st.committed)
	}
	return 0
}

func TestCheckpointLateArrival(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	dir := t.TempDir()
	base := utc("2024-05-31T10:00:00Z")
	put := func(k Key) { f.Put(t, k.Path, []byte(`{"Records":[]}`)) }
	n := 0
	next := func(at time.Time) Key { n++; return logKey(t, acctA, "us-east-1", at, n) }
	for m := 0; m <= 120; m += 5 { // 10:00 … 12:00
		put(next(base.Add(time.Duration(m) * time.Minute)))
	}
	opts := func(ck *Checkpoint) ListOptions {
		return ListOptions{Accounts: []string{acctA}, Regions: []string{"us-east-1"}, Start: base, End: utc("2024-06-01T00:00:00Z"), StreamStart: ck.StreamStart}
	}
	ck := openCheckpoint(t, dir)
	l, _ := NewS3Lister(f.Client, s3test.TestBucket, opts(ck))
	if sent := pipeline(t, l, ck, -1); len(sent) != 25 {
		t.Fatalf("sent %d, want 25", len(sent))
	}
	s := Stream{Account: acctA, Region: "us-east-1", Kind: KindLog}
	if got := ck.ResumeTime(s); !got.Equal(base.Add(time.Hour)) {
		t.Fatalf("floor %v, want HWM 12:00 − 1h", got)
	}

	late := next(base.Add(80 * time.Minute))          // 11:20, delivered after 12:00 was processed
	tooLate := next(base.Add(30 * time.Minute))       // 10:30, more than the window behind
	afterRestart := next(base.Add(100 * time.Minute)) // 11:40
	put(late)
	put(tooLate)
	if sent := pipeline(t, l, ck, -1); !slices.Equal(sent, []string{late.Path}) {
		t.Fatalf("next poll sent %q, want only the late file %s", sent, late.Path)
	}
	if sent := pipeline(t, l, ck, -1); len(sent) != 0 {
		t.Fatalf("a further poll re-sent %q", sent)
	}
	ck.Close()

	put(afterRestart)
	ck = openCheckpoint(t, dir)
	l, _ = NewS3Lister(f.Client, s3test.TestBucket, opts(ck))
	if sent := pipeline(t, l, ck, -1); !slices.Equal(sent, []string{afterRestart.Path}) {
		t.Fatalf("after the restart sent %q, want only %s", sent, afterRestart.Path)
	}
	if ck.Committed(tooLate) {
		t.Errorf("a file later than the window is missed by design; it was sent")
	}
}

func TestCheckpointOutOfOrderCommits(t *testing.T) {
	dir := t.TempDir()
	base := utc("2024-05-31T10:00:00Z")
	var k [8]Key
	for i := range k {
		k[i] = logKey(t, acctA, "eu-west-1", base.Add(time.Duration(i)*5*time.Minute), i)
	}
	s := k[0].Stream()
	ck := openCheckpoint(t, dir)
	for i := 1; i <= 5; i++ {
		if !ck.Begin(k[i]) {
			t.Fatalf("begin %d", i)
		}
	}
	if ck.Begin(k[3]) {
		t.Fatal("a key in flight was begun twice")
	}
	step := func(commit int, wantHWM string) {
		t.Helper()
		if err := ck.Commit(k[commit]); err != nil {
			t.Fatal(err)
		}
		if got := ck.HighWaterMark(s); got != wantHWM {
			t.Fatalf("after committing %d: HWM %q, want %q", commit, got, wantHWM)
		}
	}
	step(3, "")        // 1 and 2 still in flight
	step(5, "")        //
	step(1, k[1].Path) // contiguous: 1
	if got := ck.ResumeTime(s); !got.Equal(k[1].Time.Add(-time.Hour)) {
		t.Fatalf("floor %v", got)
	}

	// Crash with 2 and 4 in flight: they are pending after the restart.
	ck = openCheckpoint(t, dir)
	if got := ck.HighWaterMark(s); got != k[1].Path {
		t.Fatalf("HWM after restart %q", got)
	}
	for _, i := range []int{1, 3, 5} {
		if ck.Begin(k[i]) {
			t.Errorf("committed key %d begun again after the restart", i)
		}
	}
	// A new key committed while 2 is pending must not move the HWM past 2.
	ck.Begin(k[6])
	step(6, k[1].Path)
	if !ck.Begin(k[2]) || !ck.Begin(k[4]) {
		t.Fatal("pending keys must be begun again")
	}
	step(4, k[1].Path)
	step(2, k[6].Path)

	// A late key below the HWM holds the floor while in flight.
	late := logKey(t, acctA, "eu-west-1", base.Add(-40*time.Minute), 99) // older than HWM − 1h
	ck.Begin(late)
	if got := ck.ResumeTime(s); !got.Equal(late.Time) {
		t.Fatalf("floor %v does not cover the late key in flight at %v", got, late.Time)
	}
	ck.Begin(k[7])
	step(7, k[6].Path) // blocked by the late key in flight
	step2 := ck.Commit(late)
	if step2 != nil || ck.HighWaterMark(s) != k[7].Path {
		t.Fatalf("after the late commit: %v HWM %q", step2, ck.HighWaterMark(s))
	}
}

func TestCheckpointEndPassReleasesPending(t *testing.T) {
	dir := t.TempDir()
	base := utc("2024-05-31T10:00:00Z")
	gone := logKey(t, acctA, "us-east-1", base, 1)
	k2 := logKey(t, acctA, "us-east-1", base.Add(5*time.Minute), 2)
	ck := openCheckpoint(t, dir)
	ck.Begin(gone)
	ck.Begin(k2)
	ck.Commit(k2)
	ck = openCheckpoint(t, dir) // crash with `gone` in flight; then it is deleted from S3
	s := gone.Stream()
	if got := ck.ResumeTime(s); !got.Equal(gone.Time) {
		t.Fatalf("pending key must hold the floor: %v", got)
	}
	ck.EndPass() // a full listing did not see it again
	if got := ck.HighWaterMark(s); got != k2.Path {
		t.Fatalf("HWM %q after EndPass", got)
	}
	if got := ck.ResumeTime(s); !got.Equal(k2.Time.Add(-time.Hour)) {
		t.Fatalf("floor %v after EndPass", got)
	}
}

func TestCheckpointParallelWorkers(t *testing.T) {
	dir := t.TempDir()
	base := utc("2024-05-01T00:00:00Z")
	ck := openCheckpoint(t, dir, func(o *CheckpointOptions) { o.SaveInterval = time.Hour })
	keys := make([]Key, 2000)
	for i := range keys {
		keys[i] = logKey(t, acctB, "ap-south-1", base.Add(time.Duration(i)*time.Minute), i)
	}
	work := make(chan Key, 64)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			var held []Key // commit in a shuffled order
			for k := range work {
				held = append(held, k)
				if r.Intn(3) == 0 {
					r.Shuffle(len(held), func(i, j int) { held[i], held[j] = held[j], held[i] })
					for _, h := range held {
						if err := ck.Commit(h); err != nil {
							t.Error(err)
						}
					}
					held = held[:0]
				}
			}
			for _, h := range held {
				ck.Commit(h)
			}
		}(int64(w))
	}
	for _, k := range keys {
		if !ck.Begin(k) {
			t.Errorf("begin %s", k.Path)
		}
		work <- k
	}
	close(work)
	wg.Wait()
	s := keys[0].Stream()
	if got := ck.HighWaterMark(s); got != keys[len(keys)-1].Path {
		t.Fatalf("HWM %q, want the last key", got)
	}
	if n := ck.committedCount(s); n > 61 {
		t.Errorf("%d committed keys remembered, want about one hour's worth", n)
	}
}

func TestCheckpointBoundedState(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: utc("2024-06-01T00:00:00Z")}
	ck := openCheckpoint(t, dir, func(o *CheckpointOptions) { o.SaveInterval = time.Hour; o.Now = clk.Now })
	base := utc("2024-05-01T00:00:00Z")
	streams := []string{"us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"}
	maxSize := int64(0)
	for i := 0; i < 10000; i++ {
		at := base.Add(time.Duration(i/len(streams)) * 4 * time.Minute)
		k := logKey(t, acctA, streams[i%len(streams)], at, i)
		clk.Set(clk.Now().Add(time.Minute))
		ck.Begin(k)
		if err := ck.Commit(k); err != nil {
			t.Fatal(err)
		}
		if i%500 == 0 {
			maxSize = max(maxSize, fileSize(t, ck.Path()))
		}
	}
	if err := ck.Close(); err != nil {
		t.Fatal(err)
	}
	size := max(maxSize, fileSize(t, ck.Path()))
	// 4 streams × (1 hour / 4 minutes + 1) keys of ~110 bytes, plus framing.
	if size > 16<<10 {
		t.Errorf("state file grew to %d bytes after 10,000 commits", size)
	}
	for _, r := range streams {
		if n := ck.committedCount(Stream{Account: acctA, Region: r, Kind: KindLog}); n > 16 {
			t.Errorf("%s: %d committed keys remembered", r, n)
		}
	}
	t.Logf("state after 10,000 commits: %d bytes", size)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

func TestCheckpointMissingState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "nested")
	ck := openCheckpoint(t, dir)
	k := logKey(t, acctA, "us-east-1", utc("2024-05-31T10:00:00Z"), 1)
	if !ck.ResumeTime(k.Stream()).IsZero() || ck.Committed(k) || ck.Recovered() != "" {
		t.Fatal("a missing state must be a fresh start")
	}
	if _, err := os.Stat(ck.Path()); !os.IsNotExist(err) {
		t.Errorf("opening must not write a state file: %v", err)
	}
	ck.Begin(k)
	if err := ck.Commit(k); err != nil {
		t.Fatal(err)
	}
	if !openCheckpoint(t, dir).Committed(k) {
		t.Error("commit not persisted")
	}

	file := filepath.Join(t.TempDir(), "a-file")
	os.WriteFile(file, nil, 0o600)
	if _, err := OpenCheckpoint(CheckpointOptions{Dir: file}); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("state_dir that is a file: %v", err)
	}
	if _, err := OpenCheckpoint(CheckpointOptions{}); err == nil {
		t.Error("no state_dir accepted")
	}
}

func TestCheckpointCorruptState(t *testing.T) {
	k := logKey(t, acctA, "us-east-1", utc("2024-05-31T10:00:00Z"), 1)
	valid := func() string {
		dir := t.TempDir()
		ck := openCheckpoint(t, dir)
		ck.Begin(k)
		ck.Commit(k)
		b, _ := os.ReadFile(ck.Path())
		return string(b)
	}()
	source := "s3://" + s3test.TestBucket + "/AWSLogs/"
	tests := []struct {
		name, content string
		fails         string // "" = recovered by moving the file aside
	}{
		{name: "garbage", content: "\x00\x01 not json"},
		{name: "truncated write", content: valid[:len(valid)/2]},
		{name: "empty file", content: ""},
		{name: "wrong types", content: `{"version":"1","streams":{}}`},
		{name: "no version", content: `{"source":"` + source + `","streams":[]}`},
		{name: "bad key", content: strings.Replace(valid, k.Path, "AWSLogs/not-a-key.json.gz", 1)},
		{name: "key of another stream", content: strings.Replace(valid, `"region": "us-east-1"`, `"region": "eu-west-1"`, 1)},
		{name: "unknown kind", content: strings.Replace(valid, `"kind": "log"`, `"kind": "logs"`, 1)},
		{name: "newer version", content: strings.Replace(valid, `"version": 1`, `"version": 2`, 1), fails: "newer than this plugin"},
		{name: "other source", content: strings.Replace(valid, source, "s3://another-bucket/AWSLogs/", 1), fails: "another-bucket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "cloudtrail_s3.json")
			os.WriteFile(path, []byte(tc.content), 0o600)
			logs := &testutil.LogRecorder{}
			clk := &clock{t: utc("2024-06-02T03:04:05Z")}
			ck, err := OpenCheckpoint(CheckpointOptions{Dir: dir, Source: source, Logf: logs.Logf, Now: clk.Now})
			if tc.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fails) || !strings.Contains(err.Error(), path) {
					t.Fatalf("want an error naming %s and %q, got %v", path, tc.fails, err)
				}
				if b, _ := os.ReadFile(path); string(b) != tc.content {
					t.Error("the file must be left alone")
				}
				return
			}
			if err != nil {
				t.Fatalf("a corrupt state must not stop the input: %v", err)
			}
			aside := path + ".corrupt-20240602T030405Z"
			if ck.Recovered() != aside {
				t.Fatalf("Recovered() = %q, want %q", ck.Recovered(), aside)
			}
			if b, err := os.ReadFile(aside); err != nil || string(b) != tc.content {
				t.Errorf("the corrupt file must be kept as %s: %v", aside, err)
			}
			if lines := logs.Lines(); len(lines) != 1 || !strings.Contains(lines[0], path) || !strings.Contains(lines[0], aside) || !strings.Contains(lines[0], "start_time") {
				t.Errorf("want one loud message naming both files and the fallback, got %q", lines)
			}
			if ck.Committed(k) || !ck.ResumeTime(k.Stream()).IsZero() {
				t.Error("state must start afresh")
			}
			ck.Begin(k)
			if err := ck.Commit(k); err != nil || !openCheckpoint(t, dir).Committed(k) {
				t.Errorf("a fresh state must be writable again: %v", err)
			}
		})
	}
}

func TestCheckpointUnwritableState(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	ck := openCheckpoint(t, dir)
	k := logKey(t, acctA, "us-east-1", utc("2024-05-31T10:00:00Z"), 1)
	os.RemoveAll(dir) // the directory disappears under the running input
	ck.Begin(k)
	err := ck.Commit(k)
	if err == nil || !strings.Contains(err.Error(), ck.Path()) {
		t.Fatalf("want an error naming the state file, got %v", err)
	}
	if !ck.Committed(k) {
		t.Error("the commit must be kept in memory")
	}
	os.MkdirAll(dir, 0o700)
	if err := ck.Save(); err != nil {
		t.Fatalf("the next save must write the kept commit: %v", err)
	}
	if !openCheckpoint(t, dir).Committed(k) {
		t.Error("commit lost")
	}
	if os.Geteuid() != 0 { // root writes through permissions
		os.Chmod(dir, 0o500)
		defer os.Chmod(dir, 0o700)
		k2 := logKey(t, acctA, "us-east-1", utc("2024-05-31T10:05:00Z"), 2)
		ck.Begin(k2)
		if err := ck.Commit(k2); err == nil {
			t.Error("read-only state_dir: no error")
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "cloudtrail_s3.json" {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestCheckpointFilesOutsideLayout(t *testing.T) {
	dir := t.TempDir()
	ck := openCheckpoint(t, dir)
	k := Key{Path: "exports/manual.json", Kind: KindLog}
	if !ck.Begin(k) || ck.Begin(k) {
		t.Fatal("begin")
	}
	ck.Commit(k)
	ck = openCheckpoint(t, dir)
	if ck.Begin(k) || !ck.Committed(k) {
		t.Error("a committed file outside the layout must be skipped after a restart")
	}
	other := Key{Path: "exports/other.json", Kind: KindLog}
	ck.Begin(other)
	ck.Release(other)
	if !ck.Begin(other) {
		t.Error("a released file must be taken again")
	}
}

func TestCheckpointRetry(t *testing.T) {
	base := utc("2024-05-31T10:00:00Z")
	k1 := logKey(t, acctA, "us-east-1", base, 1)
	k2 := logKey(t, acctA, "us-east-1", base.Add(5*time.Minute), 2)
	k3 := logKey(t, acctA, "us-east-1", base.Add(10*time.Minute), 3)
	s := k1.Stream()
	ck := NewMemoryCheckpoint(CheckpointOptions{})
	for _, k := range []Key{k1, k2, k3} {
		ck.Begin(k)
	}
	ck.Commit(k1)
	ck.Commit(k3) // k2 failed: it stays in flight until the next listing starts
	if ck.Begin(k2) {
		t.Fatal("a failed key is still in flight in the listing that took it")
	}
	ck.Retry(k2) // the next listing starts
	if got := ck.HighWaterMark(s); got != k1.Path {
		t.Fatalf("HWM passed a key to retry: %q", got)
	}
	if got := ck.ResumeTime(s); !got.Equal(base.Add(-time.Hour)) {
		t.Fatalf("floor %v", got)
	}
	if !ck.Begin(k2) {
		t.Fatal("the next listing must be able to begin the retried key")
	}
	ck.Commit(k2)
	ck.EndPass()
	if got := ck.HighWaterMark(s); got != k3.Path {
		t.Fatalf("HWM %q after the retry succeeded", got)
	}

	// A retried key that the next complete listing no longer finds is
	// released by EndPass.
	k4 := logKey(t, acctA, "us-east-1", base.Add(15*time.Minute), 4)
	ck.Begin(k4)
	ck.Retry(k4)
	ck.EndPass()
	if !ck.Begin(k4) || ck.HighWaterMark(s) != k3.Path {
		t.Fatal("EndPass should have released the retried key")
	}

	// Files outside the layout are simply forgotten.
	f := Key{Path: "stray/file.json", Kind: KindLog}
	ck.Begin(f)
	ck.Retry(f)
	if !ck.Begin(f) {
		t.Fatal("a retried stray file can be begun again")
	}
}

func TestMemoryCheckpointNeverWrites(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	ck := NewMemoryCheckpoint(CheckpointOptions{Dir: dir})
	k := logKey(t, acctA, "us-east-1", utc("2024-05-31T10:00:00Z"), 1)
	ck.Begin(k)
	if err := ck.Commit(k); err != nil {
		t.Fatal(err)
	}
	if err := ck.Close(); err != nil || ck.Path() != "" {
		t.Fatal(err, ck.Path())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("memory checkpoint wrote %v", entries)
	}
	if ck.Begin(k) {
		t.Fatal("committed key begun again")
	}
}

// A listing that started from an older floor (a long follow pass while
// commits move the floor on) meets keys that were committed and then
// forgotten: Begin refuses them instead of handing them out a second time.
// Found by TestEngineFollowLateArrival under load: objects just behind the
// late-arrival window were read twice.
func TestCheckpointForgottenKeysAreNotBegunAgain(t *testing.T) {
	ck := NewMemoryCheckpoint(CheckpointOptions{Source: "dir:/x", LateArrivalWindow: time.Hour})
	base := utc("2024-05-31T10:00:00Z")
	var keys []Key
	for i := 0; i <= 24; i++ { // 10:00 … 12:00 every 5 minutes
		keys = append(keys, logKey(t, acctA, "us-east-1", base.Add(time.Duration(i)*5*time.Minute), i))
	}
	old := keys[2] // 10:10: forgotten once the HWM passes 11:10
	for _, k := range keys {
		if !ck.Begin(k) {
			t.Fatalf("first Begin of %s refused", k.Path)
		}
		if err := ck.Commit(k); err != nil {
			t.Fatal(err)
		}
	}
	if ck.Committed(old) {
		t.Fatalf("%s is still remembered: the test needs it forgotten", old.Path)
	}
	if ck.Begin(old) {
		t.Errorf("a committed, forgotten key was begun again")
	}
	// A late file inside the window is still taken.
	late := logKey(t, acctA, "us-east-1", base.Add(100*time.Minute), 99)
	if !ck.Begin(late) {
		t.Errorf("a late file inside the window was refused")
	}
}

// A full disk under state_dir: Save fails with an error naming the file,
// and the checkpoint on disk stays the previous, valid one. Needs a small
// tmpfs (root); skipped, saying so, where it cannot be mounted.
func TestCheckpointFullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (not root?): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	ck := openCheckpoint(t, dir, func(o *CheckpointOptions) { o.SaveInterval = time.Hour })
	base := utc("2024-05-31T10:00:00Z")
	first := logKey(t, acctA, "us-east-1", base, 1)
	ck.Begin(first)
	ck.Commit(first)
	if err := ck.Save(); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(ck.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Fill the file system.
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	filler.Close()
	for i := 2; i < 400; i++ { // enough keys that the new state cannot fit in what is left
		k := logKey(t, acctA, "us-east-1", base.Add(time.Duration(i)*time.Minute), i)
		ck.Begin(k)
		ck.Commit(k)
	}
	err = ck.Save()
	if err == nil || !strings.Contains(err.Error(), ck.Path()) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Save on a full disk: %v; want ENOSPC naming %s", err, ck.Path())
	}
	if now, _ := os.ReadFile(ck.Path()); !bytes.Equal(now, saved) {
		t.Fatalf("the checkpoint on disk changed after a failed save")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}
	again := openCheckpoint(t, dir)
	if !again.Committed(first) {
		t.Errorf("the previous checkpoint does not load after the failed save")
	}
}
