package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

var (
	acctA = "111122223333"
	acctB = "444455556666"
	orgID = "o-exampleorg1"
)

// archiveFixture is a realistic archive: the corpus generator's log files
// over four days, two accounts and two regions, plus a digest and an
// insight file for every stream and day, and objects outside the layout.
type archiveFixture struct {
	logs   []string // every log-file key
	others []string // digests, insights, stray objects
}

func newArchiveFixture(prefix, org string) archiveFixture {
	files := corpus.LogFiles(corpus.Options{
		Seed: 11, Events: 400, EventsPerFile: 10, OrgID: org,
		Start:    utc("2024-05-28T00:00:00Z"),
		End:      utc("2024-05-31T23:00:00Z"),
		Accounts: []string{acctA, acctB}, Regions: []string{"us-east-1", "eu-west-1"},
	})
	var fx archiveFixture
	for _, f := range files {
		fx.logs = append(fx.logs, prefix+f.Key)
	}
	base := prefix + "AWSLogs/"
	for _, acct := range []string{acctA, acctB} {
		for _, region := range []string{"us-east-1", "eu-west-1"} {
			for day := utc("2024-05-28T00:00:00Z"); day.Before(utc("2024-06-01T00:00:00Z")); day = day.AddDate(0, 0, 1) {
				stamp := day.Add(12 * time.Hour)
				fx.others = append(fx.others,
					KindDayPrefix(KindDigest, base, org, acct, region, day)+acct+"_CloudTrail-Digest_"+region+"_main_us-east-1_"+stamp.Format("20060102T150405Z")+".json.gz",
					KindDayPrefix(KindInsight, base, org, acct, region, day)+acct+"_CloudTrail-Insight_"+region+"_"+stamp.Format("20060102T1504Z")+"_InSiGhT0123456789.json.gz")
			}
		}
	}
	fx.others = append(fx.others, base+"README.txt", prefix+"other-service/file.json")
	return fx
}

func (fx archiveFixture) putAll(t *testing.T, f *s3test.FakeBucket) {
	for _, k := range append(slices.Clone(fx.logs), fx.others...) {
		f.Put(t, k, []byte(`{"Records":[]}`))
	}
}

// expected filters keys like a correct lister: in the window, of the
// wanted kinds, grouped by stream in the given stream order, key order
// within a stream.
func expected(keys []string, start, end time.Time, kinds ...Kind) []string {
	var out []string
	for _, k := range keys {
		key, ok := ParseKey(k)
		if ok && slices.Contains(kinds, key.Kind) && !key.Time.Before(start) && key.Time.Before(end) {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return compareByStream(a, b) })
	return out
}

func compareByStream(a, b string) int {
	ka, _ := ParseKey(a)
	kb, _ := ParseKey(b)
	for _, c := range []int{strings.Compare(ka.OrgID, kb.OrgID), strings.Compare(ka.Account, kb.Account),
		int(ka.Kind) - int(kb.Kind), strings.Compare(ka.Region, kb.Region), strings.Compare(a, b)} {
		if c != 0 {
			return c
		}
	}
	return 0
}

func collect(t *testing.T, l Lister) []string {
	t.Helper()
	var got []string
	if err := l.List(context.Background(), func(o Object) error {
		got = append(got, o.Key.Path)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// sortedByStream checks the lister's guarantee: per stream, key order
// (streams themselves may come in any order).
func sortedByStream(t *testing.T, got []string) {
	t.Helper()
	last := map[Stream]string{}
	for _, k := range got {
		key, _ := ParseKey(k)
		if prev := last[key.Stream()]; prev >= k {
			t.Fatalf("stream %s out of order: %s after %s", key.Stream(), k, prev)
		}
		last[key.Stream()] = k
	}
}

var dayPrefixRE = regexp.MustCompile(`^(.*/)?AWSLogs/(o-[a-z0-9]+/)?\d{12}/CloudTrail(-Digest|-Insight)?/[a-z0-9-]+/(\d{4}/\d\d/\d\d)/$`)

// checkCalls asserts that every object listing used a day prefix inside
// the window, and that every other call was a Delimiter listing of one level.
func checkCalls(t *testing.T, calls []recordedCall, start, end time.Time) (days map[string]bool) {
	t.Helper()
	days = map[string]bool{}
	for _, c := range calls {
		if c.delimiter != "" {
			if c.delimiter != "/" || !strings.HasSuffix(c.prefix, "/") {
				t.Errorf("discovery call with delimiter %q prefix %q", c.delimiter, c.prefix)
			}
			continue
		}
		m := dayPrefixRE.FindStringSubmatch(c.prefix)
		if m == nil {
			t.Errorf("object listing with a prefix broader than a day: %q", c.prefix)
			continue
		}
		day, _ := time.Parse("2006/01/02", m[4])
		if !day.Add(24*time.Hour).After(start) || !day.Before(end) {
			t.Errorf("listed a day outside the window: %q", c.prefix)
		}
		days[m[4]] = true
	}
	return days
}

type recordedCall struct{ prefix, delimiter, startAfter string }

func recorded(r *s3test.RecordingLister) []recordedCall {
	var out []recordedCall
	for _, in := range r.Calls() {
		out = append(out, recordedCall{aws.ToString(in.Prefix), aws.ToString(in.Delimiter), aws.ToString(in.StartAfter)})
	}
	return out
}

func TestS3ListWindowDiscovery(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	start, end := utc("2024-05-29T06:00:00Z"), utc("2024-05-30T18:00:00Z")
	rec := &s3test.RecordingLister{Inner: f.Client}
	l, err := NewS3Lister(rec, s3test.TestBucket, ListOptions{Start: start, End: end, PageSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l)
	want := expected(fx.logs, start, end, KindLog)
	if len(want) < 20 {
		t.Fatalf("fixture too small: %d keys in the window", len(want))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d keys, want %d\n got %q\nwant %q", len(got), len(want), got, want)
	}
	sortedByStream(t, got)
	calls := recorded(rec)
	days := checkCalls(t, calls, start, end)
	if len(days) != 2 || !days["2024/05/29"] || !days["2024/05/30"] {
		t.Errorf("listed days %v, want 2024/05/29 and 2024/05/30", days)
	}
	// Discovery: one Delimiter listing for accounts, one per account for regions.
	var discovery []string
	for _, c := range calls {
		if c.delimiter != "" {
			discovery = append(discovery, c.prefix)
		}
	}
	wantDiscovery := []string{"AWSLogs/", "AWSLogs/" + acctA + "/CloudTrail/", "AWSLogs/" + acctB + "/CloudTrail/"}
	if !slices.Equal(discovery, wantDiscovery) {
		t.Errorf("discovery calls %q, want %q", discovery, wantDiscovery)
	}
}

func TestS3ListConfiguredStreamsNeedNoDiscovery(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("myprefix/", "")
	fx.putAll(t, f)
	start, end := utc("2024-05-31T00:00:00Z"), utc("2024-06-01T00:00:00Z")
	rec := &s3test.RecordingLister{Inner: f.Client}
	l, err := NewS3Lister(rec, s3test.TestBucket, ListOptions{Prefix: "myprefix", Accounts: []string{acctB}, Regions: []string{"eu-west-1"}, Start: start, End: end})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l)
	var want []string
	for _, k := range expected(fx.logs, start, end, KindLog) {
		if key, _ := ParseKey(k); key.Account == acctB && key.Region == "eu-west-1" {
			want = append(want, k)
		}
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	calls := recorded(rec)
	wantCalls := []recordedCall{{prefix: "myprefix/AWSLogs/" + acctB + "/CloudTrail/eu-west-1/2024/05/31/"}}
	if !slices.Equal(calls, wantCalls) {
		t.Errorf("calls %+v, want exactly %+v", calls, wantCalls)
	}
}

func TestS3ListOrganizationTrail(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	org := newArchiveFixture("", orgID)
	org.putAll(t, f)
	plain := newArchiveFixture("", "") // the management account's own old trail, next to the org tree
	plain.putAll(t, f)
	start, end := utc("2024-05-30T00:00:00Z"), utc("2024-05-31T00:00:00Z")

	t.Run("configured org", func(t *testing.T) {
		rec := &s3test.RecordingLister{Inner: f.Client}
		l, _ := NewS3Lister(rec, s3test.TestBucket, ListOptions{OrgID: orgID, Start: start, End: end})
		got := collect(t, l)
		if want := expected(org.logs, start, end, KindLog); !slices.Equal(got, want) {
			t.Fatalf("got %d keys, want %d", len(got), len(want))
		}
		checkCalls(t, recorded(rec), start, end)
		for _, c := range recorded(rec) {
			if !strings.HasPrefix(c.prefix, "AWSLogs/"+orgID+"/") {
				t.Errorf("listing outside the organization: %q", c.prefix)
			}
		}
	})
	t.Run("discovered orgs", func(t *testing.T) {
		rec := &s3test.RecordingLister{Inner: f.Client}
		l, _ := NewS3Lister(rec, s3test.TestBucket, ListOptions{DiscoverOrgs: true, Start: start, End: end})
		got := collect(t, l)
		want := expected(append(slices.Clone(org.logs), plain.logs...), start, end, KindLog)
		if !slices.Equal(got, want) {
			t.Fatalf("got %d keys, want %d", len(got), len(want))
		}
		checkCalls(t, recorded(rec), start, end)
		streams, _ := l.Streams(context.Background())
		if len(streams) != 8 { // 2 roots × 2 accounts × 2 regions
			t.Errorf("streams %v", streams)
		}
	})
}

func TestS3ListKinds(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	start, end := utc("2024-05-29T00:00:00Z"), utc("2024-05-30T00:00:00Z")
	all := append(slices.Clone(fx.logs), fx.others...)
	tests := []struct {
		name  string
		opts  ListOptions
		kinds []Kind
	}{
		{"logs only by default", ListOptions{}, []Kind{KindLog}},
		{"insight", ListOptions{IncludeInsight: true}, []Kind{KindLog, KindInsight}},
		{"digest", ListOptions{IncludeDigest: true}, []Kind{KindLog, KindDigest}},
		{"digests only (the integrity pre-pass)", ListOptions{DigestsOnly: true}, []Kind{KindDigest}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Start, tc.opts.End = start, end
			rec := &s3test.RecordingLister{Inner: f.Client}
			l, _ := NewS3Lister(rec, s3test.TestBucket, tc.opts)
			got := collect(t, l)
			want := expected(all, start, end, tc.kinds...)
			if !slices.Equal(got, want) {
				t.Fatalf("got %q\nwant %q", got, want)
			}
			for _, c := range recorded(rec) {
				for _, k := range []Kind{KindDigest, KindInsight} {
					if strings.Contains(c.prefix, "/"+k.Folder()+"/") && !slices.Contains(tc.kinds, k) {
						t.Errorf("listed %s although not asked: %q", k, c.prefix)
					}
				}
			}
		})
	}
}

// An object in a listed day folder whose name is not a CloudTrail file's
// (a backfill digest) is reported to Skipped, not passed over silently.
func TestS3ListReportsUnknownNames(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	var digest string
	for _, k := range fx.others {
		if key, _ := ParseKey(k); key.Kind == KindDigest && key.Time.Day() == 29 {
			digest = k
			break
		}
	}
	backfill := strings.TrimSuffix(digest, ".json.gz") + "_backfill.json.gz"
	f.Put(t, backfill, []byte(`{}`))
	var skipped []string
	opts := ListOptions{IncludeDigest: true, Start: utc("2024-05-29T00:00:00Z"), End: utc("2024-05-30T00:00:00Z"),
		Skipped: func(p, reason string) { skipped = append(skipped, p+": "+reason) }}
	l, _ := NewS3Lister(f.Client, s3test.TestBucket, opts)
	got := collect(t, l)
	if slices.Contains(got, backfill) || !slices.Equal(skipped, []string{backfill + ": " + NotCloudTrailName}) {
		t.Fatalf("listed %v; skipped %q", slices.Contains(got, backfill), skipped)
	}
}

var errStop = errors.New("stop")

func TestS3ListStartAfterResume(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	start, end := utc("2024-05-28T00:00:00Z"), utc("2024-06-01T00:00:00Z")
	s := Stream{Account: acctA, Region: "us-east-1", Kind: KindLog}
	opts := ListOptions{Accounts: []string{acctA}, Regions: []string{"us-east-1"}, Start: start, End: end, PageSize: 4}
	all := expected(fx.logs, start, end, KindLog)
	all = slices.DeleteFunc(all, func(k string) bool { key, _ := ParseKey(k); return key.Stream() != s })

	// First run: stop after a key in the middle of the third day.
	var firstRun []string
	var stopAt string
	for _, k := range all {
		if key, _ := ParseKey(k); key.Time.Day() == 30 && key.Time.Hour() >= 12 {
			stopAt = k
			break
		}
	}
	l, _ := NewS3Lister(f.Client, s3test.TestBucket, opts)
	err := l.List(context.Background(), func(o Object) error {
		firstRun = append(firstRun, o.Key.Path)
		if o.Key.Path == stopAt {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("stop: %v", err)
	}
	// Resume after the last key handled.
	rec := &s3test.RecordingLister{Inner: f.Client}
	opts.StartAfter = map[Stream]string{s: stopAt}
	l, _ = NewS3Lister(rec, s3test.TestBucket, opts)
	secondRun := collect(t, l)
	if got := append(slices.Clone(firstRun), secondRun...); !slices.Equal(got, all) {
		t.Fatalf("first+second run = %d keys, want %d without gaps or repeats", len(got), len(all))
	}
	calls := recorded(rec)
	if calls[0].prefix != DayPrefix("", "", acctA, "us-east-1", utc("2024-05-30T00:00:00Z")) || calls[0].startAfter != stopAt {
		t.Errorf("resume should start on the resume key's day with StartAfter: %+v", calls[0])
	}
	for _, c := range calls {
		if c.prefix < calls[0].prefix {
			t.Errorf("listed a day before the resume key: %q", c.prefix)
		}
	}
}

func TestS3ListFirstDayDiscovery(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	end := utc("2024-05-29T12:00:00Z")
	rec := &s3test.RecordingLister{Inner: f.Client}
	l, _ := NewS3Lister(rec, s3test.TestBucket, ListOptions{Accounts: []string{acctA}, Regions: []string{"eu-west-1"}, End: end})
	got := collect(t, l)
	want := slices.DeleteFunc(expected(fx.logs, time.Time{}, end, KindLog), func(k string) bool {
		key, _ := ParseKey(k)
		return key.Account != acctA || key.Region != "eu-west-1"
	})
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	stream := "AWSLogs/" + acctA + "/CloudTrail/eu-west-1/"
	wantCalls := []recordedCall{
		{prefix: stream, delimiter: "/"},
		{prefix: stream + "2024/", delimiter: "/"},
		{prefix: stream + "2024/05/", delimiter: "/"},
		{prefix: stream + "2024/05/28/"},
		{prefix: stream + "2024/05/29/"},
	}
	if calls := recorded(rec); !slices.Equal(calls, wantCalls) {
		t.Errorf("calls %+v\nwant %+v", calls, wantCalls)
	}
}

func TestS3ListStreamStart(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	start, end := utc("2024-05-28T00:00:00Z"), utc("2024-06-01T00:00:00Z")
	late := utc("2024-05-31T06:00:00Z")
	rec := &s3test.RecordingLister{Inner: f.Client}
	l, _ := NewS3Lister(rec, s3test.TestBucket, ListOptions{Start: start, End: end, Accounts: []string{acctA, acctB}, Regions: []string{"us-east-1"},
		StreamStart: func(s Stream) time.Time {
			if s.Account == acctB {
				return late // e.g. this stream's checkpoint
			}
			return time.Time{}
		}})
	for _, k := range collect(t, l) {
		if key, _ := ParseKey(k); key.Account == acctB && key.Time.Before(late) {
			t.Errorf("listed %s before its stream start", k)
		}
	}
	for _, c := range recorded(rec) {
		if strings.Contains(c.prefix, acctB) && !strings.HasSuffix(c.prefix, "2024/05/31/") {
			t.Errorf("listed a day before the stream start: %q", c.prefix)
		}
	}
}

func TestS3ListErrors(t *testing.T) {
	client := s3test.Scripted(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(503)
		w.Write([]byte(s3test.ErrorXML("SlowDown", "Please reduce your request rate.")))
	})
	l, _ := NewS3Lister(client, s3test.TestBucket, ListOptions{Start: utc("2024-05-28T00:00:00Z"), End: utc("2024-05-29T00:00:00Z")})
	err := l.List(context.Background(), func(Object) error { return nil })
	var le *ListError
	if !errors.As(err, &le) || !Retryable(err) || le.Prefix != "AWSLogs/" || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("got %v", err)
	}
	for _, opts := range []ListOptions{
		{OrgID: "o-bad"},
		{Accounts: []string{"12345"}},
		{Regions: []string{"US East"}},
		{Start: utc("2024-05-29T00:00:00Z"), End: utc("2024-05-28T00:00:00Z")},
	} {
		if _, err := NewS3Lister(client, s3test.TestBucket, opts); err == nil {
			t.Errorf("options %+v accepted", opts)
		}
	}
	if _, err := NewS3Lister(client, "", ListOptions{}); err == nil {
		t.Error("empty bucket accepted")
	}
}

// readDirRecorder records which directories a walk reads.
type readDirRecorder struct {
	fs.FS
	mu   sync.Mutex
	dirs []string
}

func (r *readDirRecorder) ReadDir(name string) ([]fs.DirEntry, error) {
	r.mu.Lock()
	r.dirs = append(r.dirs, name)
	r.mu.Unlock()
	return fs.ReadDir(r.FS, name)
}

func writeTree(t *testing.T, dir string, keys []string) {
	t.Helper()
	for _, k := range keys {
		p := filepath.Join(dir, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(`{"Records":[]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDirList(t *testing.T) {
	dir := t.TempDir()
	fx := newArchiveFixture("", orgID)
	stray := []string{"notes/manual-export.json", "notes/more/events.json.gz", "notes/ignored.txt", "flat/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20240529T120000Z.json.gz"}
	writeTree(t, dir, append(append(slices.Clone(fx.logs), fx.others...), stray...))
	start, end := utc("2024-05-29T06:00:00Z"), utc("2024-05-30T06:00:00Z")

	fsys := &readDirRecorder{FS: os.DirFS(dir)}
	l, err := NewDirLister(fsys, ListOptions{Start: start, End: end, Regions: []string{"us-east-1"}})
	if err != nil {
		t.Fatal(err)
	}
	var layout, outside []string
	err = l.List(context.Background(), func(o Object) error {
		if o.Key.Account == "" {
			if !o.Key.Time.IsZero() || o.Key.Kind != KindLog || o.Size == 0 {
				t.Errorf("file outside the layout: %+v", o)
			}
			outside = append(outside, o.Key.Path)
		} else {
			layout = append(layout, o.Key.Path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(expected(fx.logs, start, end, KindLog), func(k string) bool {
		key, _ := ParseKey(k)
		return key.Region != "us-east-1"
	})
	slices.Sort(layout)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(layout, want) {
		t.Fatalf("layout files %q\nwant %q", layout, want)
	}
	if wantOut := []string{"notes/manual-export.json", "notes/more/events.json.gz", "other-service/file.json"}; !slices.Equal(outside, wantOut) {
		t.Errorf("files outside the layout %q, want %q", outside, wantOut)
	}
	// Pruning: no day folder outside the window, no other region, no
	// digest or insight folder is read.
	for _, d := range fsys.dirs {
		segs := strings.Split(d, "/")
		if at := kindFolderIndex(segs); at >= 0 {
			if kindOfFolder(segs[at]) != KindLog || (len(segs) > at+1 && segs[at+1] != "us-east-1") {
				t.Errorf("read %s", d)
			}
			if len(segs) == at+5 && !strings.HasSuffix(d, "2024/05/29") && !strings.HasSuffix(d, "2024/05/30") {
				t.Errorf("read a day folder outside the window: %s", d)
			}
		}
	}
}

// TestDirListDigestsOnly: the integrity pre-pass lists the digests of the
// window and nothing else (no log folder read, no file outside the layout).
func TestDirListDigestsOnly(t *testing.T) {
	dir := t.TempDir()
	fx := newArchiveFixture("", orgID)
	writeTree(t, dir, append(append(slices.Clone(fx.logs), fx.others...), "notes/manual-export.json"))
	start, end := utc("2024-05-29T06:00:00Z"), utc("2024-05-30T06:00:00Z")
	fsys := &readDirRecorder{FS: os.DirFS(dir)}
	l, err := NewDirLister(fsys, ListOptions{Start: start, End: end, DigestsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l)
	want := expected(fx.others, start, end, KindDigest)
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, d := range fsys.dirs {
		if at := kindFolderIndex(strings.Split(d, "/")); at >= 0 && kindOfFolder(strings.Split(d, "/")[at]) != KindDigest {
			t.Errorf("read %s", d)
		}
	}
}

func TestDirListSampleTrail(t *testing.T) {
	// The repository's sample trail: decompressed .json files in the layout.
	l, err := NewDirLister(os.DirFS("../examples/sample-trail"), ListOptions{Start: utc("2024-05-31T23:00:00Z"), End: utc("2024-06-01T00:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l)
	if len(got) == 0 {
		t.Skip("sample trail not present")
	}
	sortedByStream(t, got)
	for _, k := range got {
		if key, ok := ParseKey(k); !ok || key.Time.Hour() != 23 {
			t.Errorf("%s outside the window", k)
		}
	}
}

func TestNeedsRestore(t *testing.T) {
	for class, want := range map[string]bool{"": false, "STANDARD": false, "STANDARD_IA": false, "GLACIER_IR": false,
		"INTELLIGENT_TIERING": false, "GLACIER": true, "DEEP_ARCHIVE": true} {
		if got := (Object{StorageClass: class}).NeedsRestore(); got != want {
			t.Errorf("%q: %v", class, got)
		}
	}
}

// An unbounded window (no Start, no End) on a trail that ended long ago
// lists the stream's day folders from its first to its last, found with
// Delimiter listings, not every empty day up to now.
func TestS3ListUnboundedStopsAtTheLastDay(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	fx := newArchiveFixture("", "")
	fx.putAll(t, f)
	rec := &s3test.RecordingLister{Inner: f.Client}
	l, err := NewS3Lister(rec, s3test.TestBucket, ListOptions{Accounts: []string{acctA}, Regions: []string{"us-east-1"},
		Now: fixedClock(utc("2026-11-21T00:00:00Z"))})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, l)
	var want []string
	for _, k := range expected(fx.logs, time.Time{}, utc("2030-01-01T00:00:00Z"), KindLog) {
		if key, _ := ParseKey(k); key.Account == acctA && key.Region == "us-east-1" {
			want = append(want, k)
		}
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %d keys, want %d", len(got), len(want))
	}
	dayListings, discovery := 0, 0
	for _, c := range recorded(rec) {
		if c.delimiter == "" {
			dayListings++
		} else {
			discovery++
		}
	}
	// 4 days of files (May 28–31); 3 Delimiter listings each for the first
	// and the last day folder.
	if dayListings != 4 || discovery != 6 {
		t.Errorf("%d day listings and %d discovery listings, want 4 and 6: %+v", dayListings, discovery, recorded(rec))
	}
}

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// What a DirLister leaves out for another reason than the window is
// reported with the reason; files outside the layout are windowed by the
// time in their name.
func TestDirListerReportsSkipped(t *testing.T) {
	fsys := fstest.MapFS{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_abcdefghijklmnop.json.gz":            &fstest.MapFile{Data: []byte("x")},
		"AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/31/111122223333_CloudTrail-Digest_us-east-1_t_us-east-1_20240531T235500Z.json.gz": &fstest.MapFile{Data: []byte("x")},
		"loose/111122223333_CloudTrail_us-east-1_20240101T0000Z_abcdefghijklmnop.json.gz":                                                           {Data: []byte("x")},
		"loose/111122223333_CloudTrail_us-east-1_20240601T0000Z_abcdefghijklmnop.json.gz":                                                           {Data: []byte("x")},
		"loose/undated.json":  {Data: []byte("x")},
		"loose/notes.txt":     {Data: []byte("x")},
		"loose/events.ndjson": &fstest.MapFile{Data: []byte("x")},
	}
	skipped := map[string]string{}
	l, err := NewDirLister(fsys, ListOptions{Start: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		Skipped: func(p, reason string) { skipped[p] = reason }})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	if err := l.List(context.Background(), func(o Object) error { listed = append(listed, o.Key.Path); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_abcdefghijklmnop.json.gz", "loose/undated.json"}
	if strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Fatalf("listed %v, want %v", listed, want)
	}
	wantSkipped := map[string]string{
		"AWSLogs/111122223333/CloudTrail-Digest/": "digest folder (not asked for)",
		"loose/notes.txt":                         "not .json or .json.gz",
		"loose/events.ndjson":                     "not .json or .json.gz",
	}
	if fmt.Sprint(skipped) != fmt.Sprint(wantSkipped) {
		t.Fatalf("skipped %v, want %v", skipped, wantSkipped)
	}
}
