package input_test

// validate_integrity: the input judges every log file against the digests
// of its account while reading, on a local copy (signatures from the next
// digest) and on MinIO (signatures as object metadata, keys from a local
// CloudTrail endpoint).

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

func signedArchive(t *testing.T, org string) *trailsign.Archive {
	t.Helper()
	o := corpus.Options{Seed: 31, Events: 400, OpsWorksShare: 0.3, EventsPerFile: 10, OrgID: org,
		Accounts: []string{"111122223333", "444455556666"}, Regions: []string{"us-east-1", "eu-west-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 5, 0, 0, 0, time.UTC)}
	a := trailsign.MustBuild(t, trailsign.Options{Corpus: o})
	return a
}

// integrityRun is what one bounded run delivered.
type integrityRun struct {
	events   map[string][]string // s3_integrity by file (s3_key or file_path)
	findings map[string]string   // integrity records: key → status
	stats    input.Stats
}

func runIntegrity(t *testing.T, g config.MapGetter, deps input.Deps) integrityRun {
	t.Helper()
	cfg, err := input.LoadConfig(g)
	if err != nil {
		t.Fatal(err)
	}
	deps.Logf = func(level int, format string, args ...any) {
		if level <= input.LogWarn {
			t.Logf("engine: "+format, args...)
		}
	}
	eng, err := input.NewEngine(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop()
	r := integrityRun{events: map[string][]string{}, findings: map[string]string{}}
	for _, rec := range drain(t, eng, 1<<30) {
		if st, ok := rec[record.FieldIntegrityStatus].(string); ok {
			key, _ := rec[input.FieldKey].(string)
			if old, dup := r.findings[key]; dup {
				t.Errorf("%s: two integrity records (%s, %s)", key, old, st)
			}
			if rec[input.FieldDetail] == "" {
				t.Errorf("%s: an integrity record without detail: %v", key, rec)
			}
			r.findings[key] = st
			continue
		}
		file, _ := rec[input.FieldKey].(string)
		if file == "" {
			file, _ = rec[input.FieldFilePath].(string)
		}
		v, _ := rec[input.FieldIntegrity].(string)
		r.events[file] = append(r.events[file], v)
	}
	r.stats = eng.Stop().Stats
	return r
}

// sameVerdict: every event of the file carries want.
func sameVerdict(t *testing.T, r integrityRun, file, want string) {
	t.Helper()
	vs := r.events[file]
	if len(vs) == 0 {
		t.Errorf("%s: no events", file)
	}
	for _, v := range vs {
		if v != want {
			t.Errorf("%s: an event with s3_integrity %q, want %q", file, v, want)
			return
		}
	}
}

func logKeys(a *trailsign.Archive) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a.Files)) {
		if !strings.Contains(k, "/CloudTrail-Digest/") {
			out = append(out, k)
		}
	}
	return out
}

// A local copy has no metadata: each digest's signature comes from the
// next digest, so only the newest digest of each chain is unsigned and its
// files are log_unverified. Tampering is found and named.
func TestIntegrityLocalCopy(t *testing.T) {
	for _, org := range []string{"", "o-abcdefghij"} {
		t.Run("org "+org, func(t *testing.T) {
			a := signedArchive(t, org)
			dir := a.Dir(t)
			g := config.MapGetter{"path": dir, "validate_integrity": "on", "public_keys_file": a.WriteKeys(t),
				"event_sources": "*", "progress_interval": "0", "start_time": "2024-05-30", "end_time": "2024-05-31"}
			clean := runIntegrity(t, g, input.Deps{})
			if n := clean.stats.Tampered(); n != 0 || clean.stats.ExitCode() != 0 {
				t.Fatalf("clean copy: %d tampered, exit %d, findings %v", n, clean.stats.ExitCode(), clean.findings)
			}
			for key, st := range clean.findings {
				if st != integrity.StatusDigestUnsigned && st != integrity.StatusLogUnverified {
					t.Errorf("clean copy: %s %s", st, key)
				}
			}
			streams := 4 // 2 accounts × 2 regions: one unsigned newest digest each
			if got := clean.stats.Integrity[integrity.StatusDigestUnsigned]; got != int64(streams) {
				t.Errorf("digest_unsigned %d, want %d", got, streams)
			}
			logs := logKeys(a)
			valid := 0
			for _, k := range logs {
				vs := clean.events[k]
				if len(vs) > 0 && vs[0] == integrity.StatusValid {
					valid++
				}
				if len(vs) > 0 && vs[0] == integrity.StatusLogUnverified && clean.findings[k] != integrity.StatusLogUnverified {
					t.Errorf("%s: log_unverified without its integrity record", k)
				}
			}
			if valid < len(logs)/2 {
				t.Errorf("%d of %d files valid", valid, len(logs))
			}

			// A deleted file, a changed byte, a forged file, a deleted digest.
			deleted, changed := logs[3], logs[10]
			must(t, os.Remove(filepath.Join(dir, deleted)))
			body, _ := trailsign.Gunzip(a.Files[changed])
			gz, _ := trailsign.Gzip(bytes.Replace(body, []byte(`"eventName":"`), []byte(`"eventName":"X`), 1))
			must(t, os.WriteFile(filepath.Join(dir, changed), gz, 0o644))
			forged := logs[5][:len(logs[5])-len("xxxx.json.gz")] + "zzzz.json.gz" // same minute, another unique part
			must(t, os.WriteFile(filepath.Join(dir, forged), a.Files[logs[5]], 0o644))
			// A digest of the last stream (account 444455556666,
			// us-east-1), in the middle of its chain; the files above are
			// of the first streams.
			goneDigest := a.Digests[len(a.Digests)-3]
			must(t, os.Remove(filepath.Join(dir, goneDigest)))

			r := runIntegrity(t, g, input.Deps{})
			for key, want := range map[string]string{deleted: integrity.StatusLogMissing, changed: integrity.StatusLogModified,
				forged: integrity.StatusLogUnreferenced, goneDigest: integrity.StatusDigestMissing} {
				if r.findings[key] != want {
					t.Errorf("%s: integrity record %q, want %q", key, r.findings[key], want)
				}
			}
			sameVerdict(t, r, changed, integrity.StatusLogModified)
			sameVerdict(t, r, forged, integrity.StatusLogUnreferenced)
			if r.stats.Tampered() < 4 || r.stats.ExitCode() != 2 {
				t.Errorf("tampered %d, exit %d", r.stats.Tampered(), r.stats.ExitCode())
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// MinIO with the signatures as object metadata and the keys from
// CloudTrail ListPublicKeys (a local endpoint): a clean bucket gives no
// integrity record and every event is valid; a restart with a checkpoint
// calls nothing missing; an edited digest and a changed file are found.
func TestIntegrityMinIO(t *testing.T) {
	a := signedArchive(t, "")
	m := startMinIO(t)
	if err := a.Upload(t.Context(), m.srv.Client(t), 8); err != nil {
		t.Fatal(err)
	}
	ct := trailsign.FakeCloudTrail(t, a)
	t.Setenv("AWS_ACCESS_KEY_ID", m.srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", m.srv.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", ct.URL)
	state := t.TempDir()
	g := config.MapGetter{"bucket": a.Bucket, "region": "us-east-1", "endpoint": m.srv.Endpoint, "force_path_style": "on",
		"validate_integrity": "on", "event_sources": "*", "progress_interval": "0", "state_dir": state,
		"start_time": "2024-05-30", "end_time": "2024-05-31"}
	deps := input.Deps{S3: m.srv.Client(t)}
	r := runIntegrity(t, g, deps)
	if len(r.findings) != 0 || r.stats.ExitCode() != 0 {
		t.Fatalf("clean bucket: findings %v, exit %d", r.findings, r.stats.ExitCode())
	}
	for _, k := range logKeys(a) {
		sameVerdict(t, r, k, integrity.StatusValid)
	}
	if got, want := r.stats.Integrity[integrity.StatusValid], int64(len(a.Files)); got != want {
		t.Errorf("%d valid verdicts, want %d (every log file and digest)", got, want)
	}

	// A restart from the checkpoint reads nothing and calls nothing missing.
	again := runIntegrity(t, g, deps)
	if len(again.events) != 0 || len(again.findings) != 0 {
		t.Fatalf("restart: %d files' events, findings %v", len(again.events), again.findings)
	}

	// An edited digest (its old signature kept) and a changed file of the
	// other region, read by a run without the checkpoint.
	edited := a.Digests[2]
	body, _ := trailsign.Gunzip(a.Files[edited])
	gz, _ := trailsign.Gzip(bytes.Replace(body, []byte(`"awsAccountId":"111122223333"`), []byte(`"awsAccountId":"111122223334"`), 1))
	if _, err := m.srv.Client(t).PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String(edited),
		Body: bytes.NewReader(gz), Metadata: a.Metadata(edited)}); err != nil {
		t.Fatal(err)
	}
	region := strings.Split(edited, "/")[3]
	var changed string
	for _, k := range logKeys(a) {
		if !strings.Contains(k, "/"+region+"/") {
			changed = k
			break
		}
	}
	lb, _ := trailsign.Gunzip(a.Files[changed])
	lgz, _ := trailsign.Gzip(bytes.Replace(lb, []byte(`"eventName":"`), []byte(`"eventName":"Z`), 1))
	m.srv.PutObject(t, a.Bucket, changed, lgz)
	delete(g, "state_dir")
	r = runIntegrity(t, g, deps)
	if r.findings[edited] != integrity.StatusDigestInvalid || r.findings[changed] != integrity.StatusLogModified || r.stats.ExitCode() != 2 {
		t.Fatalf("edited digest %q, changed log %q, exit %d; all %v", r.findings[edited], r.findings[changed], r.stats.ExitCode(), r.findings)
	}
	sameVerdict(t, r, changed, integrity.StatusLogModified)
}

// Keys that cannot be fetched leave the files unverified and the run
// incomplete (exit 2), never every digest "invalid".
func TestIntegrityWithoutKeys(t *testing.T) {
	a := signedArchive(t, "")
	dir := a.Dir(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "x")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "y")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", "http://127.0.0.1:1") // nothing listens
	g := config.MapGetter{"path": dir, "validate_integrity": "on", "event_sources": "*", "progress_interval": "0",
		"max_retries": "0", "api_timeout": "2s", "start_time": "2024-05-30", "end_time": "2024-05-31"}
	r := runIntegrity(t, g, input.Deps{})
	if r.stats.Tampered() != 0 || r.stats.IntegrityIncomplete == 0 || r.stats.ExitCode() != 2 {
		t.Fatalf("tampered %d, incomplete %d, exit %d", r.stats.Tampered(), r.stats.IntegrityIncomplete, r.stats.ExitCode())
	}
	for _, k := range logKeys(a) {
		sameVerdict(t, r, k, integrity.StatusLogUnverified)
	}
}

func TestIntegrityConfig(t *testing.T) {
	for _, tc := range []struct {
		set  config.MapGetter
		want string
	}{
		{config.MapGetter{"path": "/x", "public_keys_file": "k.json"}, "public_keys_file: only used with validate_integrity on"},
		{config.MapGetter{"queue_url": "https://sqs.us-east-1.amazonaws.com/111122223333/q", "validate_integrity": "on"}, "validate_integrity: not used in SQS mode"},
		{config.MapGetter{"path": "/x", "validate_integrity": "on", "integrity_delay": "-1m"}, "integrity_delay: must not be negative"},
	} {
		if _, err := input.LoadConfig(tc.set); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.set, err, tc.want)
		}
	}
	cfg, err := input.LoadConfig(config.MapGetter{"path": t.TempDir(), "validate_integrity": "on", "public_keys_file": "/no/such/keys.json"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := input.NewEngine(cfg, input.Deps{}); err == nil || !strings.HasPrefix(err.Error(), "public_keys_file: ") {
		t.Errorf("a missing keys file: %v", err)
	}
}

// Follow mode: a file is read once it is integrity_delay old, when the
// digest that names it exists, so its verdict is final; files the newest
// digests name beyond that are not called missing, and a later pass reads
// them.
func TestIntegrityFollowWaitsForTheDigest(t *testing.T) {
	a := signedArchive(t, "")
	dir := a.Dir(t)
	var now atomic.Int64
	now.Store(time.Date(2024, 5, 30, 5, 30, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()).UTC() }
	cfg, err := input.LoadConfig(config.MapGetter{"path": dir, "validate_integrity": "on", "public_keys_file": a.WriteKeys(t),
		"event_sources": "*", "progress_interval": "0", "start_time": "2024-05-30", "follow": "on", "poll_interval": "100ms",
		"integrity_delay": "90m"})
	must(t, err)
	eng, err := input.NewEngine(cfg, input.Deps{Now: clock, Logf: func(level int, format string, args ...any) {}})
	must(t, err)
	must(t, eng.Start(context.Background()))
	defer eng.Stop()
	files := map[string]string{}
	findings := map[string]string{}
	collect := func(d time.Duration) {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			b := eng.Collect(0)
			if b == nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			for _, rec := range decodeAll(t, b.Records) {
				key, _ := rec[input.FieldFilePath].(string)
				if st, ok := rec[record.FieldIntegrityStatus].(string); ok {
					key, _ = rec[input.FieldKey].(string)
					if findings[key] == st {
						t.Errorf("%s: %s reported twice", key, st)
					}
					findings[key] = st
					continue
				}
				files[key], _ = rec[input.FieldIntegrity].(string)
			}
			eng.Commit(b)
		}
	}
	collect(time.Second)
	cut := time.Date(2024, 5, 30, 4, 0, 0, 0, time.UTC) // 05:30 - 90m
	for _, k := range logKeys(a) {
		kk, _ := cloudtrail.ParseKey(k)
		if _, read := files[k]; read != kk.Time.Before(cut) {
			t.Errorf("%s (delivered %s): read %v at 05:30", k, kk.Time.Format("15:04"), read)
		}
	}
	for key, st := range findings {
		if integrity.Tampered(st) {
			t.Errorf("%s: %s", key, st)
		}
	}
	now.Store(time.Date(2024, 5, 30, 8, 0, 0, 0, time.UTC).UnixNano())
	collect(time.Second)
	for _, k := range logKeys(a) {
		if _, read := files[k]; !read {
			t.Errorf("%s: not read at 08:00", k)
		}
	}
	if st := eng.Stats(); st.Tampered() != 0 {
		t.Errorf("tampering reported: %v", st.Integrity)
	}
}

// A backfill digest (…_backfill.json.gz, outside the layout) is not
// checked yet: it is not read as a log file, and the run says it is
// incomplete.
func TestIntegrityBackfillDigestIsReported(t *testing.T) {
	a := signedArchive(t, "")
	dir := a.Dir(t)
	d := a.Digests[1]
	must(t, os.WriteFile(filepath.Join(dir, strings.TrimSuffix(d, ".json.gz")+"_backfill.json.gz"), a.Files[d], 0o644))
	r := runIntegrity(t, config.MapGetter{"path": dir, "validate_integrity": "on", "public_keys_file": a.WriteKeys(t),
		"event_sources": "*", "progress_interval": "0", "start_time": "2024-05-30", "end_time": "2024-05-31"}, input.Deps{})
	if r.stats.IntegrityIncomplete != 1 || r.stats.ExitCode() != 2 || r.stats.ErrorRecords != 0 || r.stats.Tampered() != 0 {
		t.Fatalf("incomplete %d, exit %d, error records %d, tampered %d", r.stats.IntegrityIncomplete, r.stats.ExitCode(), r.stats.ErrorRecords, r.stats.Tampered())
	}
}

// Three weeks, judged a week at a time (one week's digest index in memory):
// a changed file in the first week, a deleted one in the second, a region
// whose second week lost every log file (found by its digests alone), and
// a chain that restarts hours into the third week (a chain_gap although
// the restart is that week's first digest, where the week before was
// judged before it).
func TestIntegrityWeekByWeek(t *testing.T) {
	// 2024-05-30 00:00 UTC starts a week counted from the Unix epoch.
	week2, week3 := time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), time.Date(2024, 6, 6, 0, 0, 0, 0, time.UTC)
	gap := [2]time.Time{week3.Add(-4 * time.Hour), week3.Add(3 * time.Hour)}
	a, err := trailsign.Build(trailsign.Options{Gap: gap, Corpus: corpus.Options{Seed: 33, Events: 500, OpsWorksShare: 0.3,
		EventsPerFile: 2, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1", "eu-west-1"},
		Start: week2.Add(-3 * 24 * time.Hour), End: week3.Add(3 * 24 * time.Hour)}})
	must(t, err)
	dir := a.Dir(t)
	var changed, deleted string
	var emptied []string
	for _, k := range logKeys(a) {
		kk, _ := cloudtrail.ParseKey(k)
		switch {
		case kk.Region == "us-east-1" && kk.Time.Before(week2) && changed == "":
			changed = k
		case kk.Region == "us-east-1" && kk.Time.After(week2.Add(24*time.Hour)) && kk.Time.Before(week3) && deleted == "":
			deleted = k
		case kk.Region == "eu-west-1" && !kk.Time.Before(week2) && kk.Time.Before(week3):
			emptied = append(emptied, k)
		}
	}
	body, _ := trailsign.Gunzip(a.Files[changed])
	gz, _ := trailsign.Gzip(bytes.Replace(body, []byte(`"eventName":"`), []byte(`"eventName":"X`), 1))
	must(t, os.WriteFile(filepath.Join(dir, changed), gz, 0o644))
	for _, k := range append(emptied, deleted) {
		must(t, os.Remove(filepath.Join(dir, k)))
	}
	r := runIntegrity(t, config.MapGetter{"path": dir, "validate_integrity": "on", "public_keys_file": a.WriteKeys(t),
		"event_sources": "*", "progress_interval": "0", "start_time": "2024-05-01", "end_time": "2024-07-01"}, input.Deps{})
	want := map[string]string{changed: integrity.StatusLogModified, deleted: integrity.StatusLogMissing}
	for _, k := range emptied {
		want[k] = integrity.StatusLogMissing
	}
	for k, st := range want {
		if r.findings[k] != st {
			t.Errorf("%s: %q, want %q", k, r.findings[k], st)
		}
	}
	if len(emptied) < 10 {
		t.Fatalf("only %d files emptied", len(emptied))
	}
	var gaps []string
	for k, st := range r.findings {
		if st == integrity.StatusChainGap {
			gaps = append(gaps, k)
		} else if integrity.Tampered(st) && want[k] == "" {
			t.Errorf("%s: %s", k, st)
		}
	}
	// Files around the week boundary are judged like any other: the first
	// week read the next week's first digests (and the one after, which
	// carries the signature in a copy without metadata).
	boundary := 0
	for _, k := range logKeys(a) {
		kk, _ := cloudtrail.ParseKey(k)
		if kk.Time.Before(week2.Add(-2*time.Hour)) || !kk.Time.Before(week2.Add(2*time.Hour)) || r.findings[k] == integrity.StatusLogMissing {
			continue
		}
		boundary++
		sameVerdict(t, r, k, integrity.StatusValid)
	}
	if boundary == 0 {
		t.Error("no file near the week boundary")
	}
	// us-east-1's restart is a chain_gap. eu-west-1's week before the
	// restart has no log file, so it is judged after week 3 (from its
	// digests, when the listing reaches them), and week 3 cannot know
	// where the chain stood: its files before the restart are
	// log_unverified, each with its integrity record, but no chain_gap.
	if len(gaps) != 1 || !strings.Contains(gaps[0], "/us-east-1/") {
		t.Errorf("chain gaps %v, want us-east-1's", gaps)
	}
	for _, k := range logKeys(a) {
		if kk, _ := cloudtrail.ParseKey(k); kk.Region == "eu-west-1" && !kk.Time.Before(week3) && kk.Time.Before(gap[1].Add(-time.Hour)) &&
			r.findings[k] != integrity.StatusLogUnverified {
			t.Errorf("%s, inside the gap: %q", k, r.findings[k])
		}
	}
}
