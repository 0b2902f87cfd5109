package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

// The shipped Elasticsearch, OpenSearch and Loki pipelines with
// CLOUDTRAIL_VALIDATE_INTEGRITY=on, in real Fluent Bit, over a signed
// archive in MinIO (signatures as object metadata, public keys from a
// local CloudTrail endpoint) with one log file deleted and one changed:
// every OpsWorks event arrives with s3_integrity (log_modified for the
// changed file's, valid for the others), and the two problems arrive as
// integrity records next to them, in the same index or Loki.
func TestShippedPipelinesIntegrity(t *testing.T) {
	bin := fluentBit(t)
	a := trailsign.MustBuild(t, trailsign.Options{Bucket: "signed-trail", Corpus: corpus.Options{Seed: 41, Events: 600, OpsWorksShare: 0.5,
		EventsPerFile: 10, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1", "eu-west-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 6, 0, 0, 0, time.UTC)}})
	var logs []string
	for _, k := range slices.Sorted(maps.Keys(a.Files)) {
		if !strings.Contains(k, "/CloudTrail-Digest/") {
			logs = append(logs, k)
		}
	}
	deleted, changed := logs[4], logs[9]
	delete(a.Files, deleted)
	body, _ := trailsign.Gunzip(a.Files[changed])
	gz, _ := trailsign.Gzip(bytes.Replace(body, []byte(`"userAgent":"`), []byte(`"userAgent":"x`), 1))
	a.Files[changed] = gz
	srv := a.InMinIO(t)
	// The OpsWorks events of the files uploaded, by eventID → their file.
	events := map[string]string{}
	for _, f := range a.Logs {
		if f.Key == deleted {
			continue
		}
		for id := range opsworksIDs(t, []corpus.File{f}) {
			events[id] = f.Key
		}
	}
	ct := trailsign.FakeCloudTrail(t, a)
	env := []string{"CLOUDTRAIL_BUCKET=" + a.Bucket, "AWS_REGION=us-east-1", "CLOUDTRAIL_S3_ENDPOINT=" + srv.Endpoint,
		"CLOUDTRAIL_S3_FORCE_PATH_STYLE=on", "AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"CLOUDTRAIL_VALIDATE_INTEGRITY=on", "AWS_ENDPOINT_URL_CLOUDTRAIL=" + ct.URL}
	want := map[string]string{deleted: integrity.StatusLogMissing, changed: integrity.StatusLogModified}

	check := func(t *testing.T, what string, recs []map[string]any) {
		t.Helper()
		got := map[string]string{}
		seen := 0
		for _, r := range recs {
			if st, ok := r["integrity_status"].(string); ok {
				got[fmt.Sprint(r["s3_key"])] = st
				continue
			}
			id := fmt.Sprint(r["eventID"])
			file, ok := events[id]
			if !ok {
				t.Errorf("%s: unexpected record %v", what, r)
				continue
			}
			seen++
			wantField := integrity.StatusValid
			if file == changed {
				wantField = integrity.StatusLogModified
			}
			if r["s3_integrity"] != wantField {
				t.Errorf("%s: event %s of %s: s3_integrity %v, want %s", what, id, file, r["s3_integrity"], wantField)
			}
		}
		if seen != len(events) || !maps.Equal(got, want) {
			t.Errorf("%s: %d of %d events; integrity records %v, want %v", what, seen, len(events), got, want)
		}
	}

	for _, backend := range []string{"elasticsearch.conf", "opensearch.yaml"} {
		t.Run(backend, func(t *testing.T) {
			d := shipInstall(t, backend)
			capture, srv := newCaptureBulk(t)
			benv := shipEnv(srv, nil, nil)
			if strings.HasPrefix(backend, "opensearch") {
				benv = shipEnv(nil, srv, nil)
			}
			log := d.run(t, bin, append(benv, env...), func() bool { return capture.count() >= len(events)+len(want) })
			var recs []map[string]any
			for id, doc := range capture.snapshot(t, "opsworks-events") {
				if doc["eventID"] != id {
					t.Errorf("document _id %s, eventID %v", id, doc["eventID"])
				}
				recs = append(recs, doc)
			}
			check(t, backend, recs)
			if !strings.Contains(log, "integrity: log_missing") {
				t.Errorf("Fluent Bit's log does not name the missing file:\n%s", shipLogTail(log))
			}
		})
	}
	t.Run("loki", func(t *testing.T) {
		d := shipInstall(t, "loki.yaml")
		capture, loki := newCaptureLoki(t)
		d.run(t, bin, append(shipEnv(nil, nil, loki), env...), func() bool { return capture.count() >= len(events)+len(want) })
		capture.mu.Lock()
		entries := slices.Clone(capture.entries)
		capture.mu.Unlock()
		var recs []map[string]any
		for _, e := range entries {
			var r map[string]any
			if err := json.Unmarshal([]byte(e.line), &r); err != nil {
				t.Fatal(err)
			}
			if r["integrity_status"] != nil && len(e.labels) != 1 {
				t.Errorf("integrity record with labels %v, want only job", e.labels)
			}
			recs = append(recs, r)
		}
		check(t, "loki", recs)
	})
}

// validate_integrity with exit_on_eof on a tampered local copy (offline
// keys): Fluent Bit ends by itself with exit code 2, the integrity records
// are tagged opsworks.integrity, and every event carries s3_integrity.
func TestRealFluentBitIntegrityExitCode(t *testing.T) {
	bin := fluentBit(t)
	a := trailsign.MustBuild(t, trailsign.Options{Corpus: corpus.Options{Seed: 42, Events: 400, OpsWorksShare: 0.5,
		EventsPerFile: 10, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 6, 0, 0, 0, time.UTC)}})
	dir := a.Dir(t)
	var logs []string
	for _, k := range slices.Sorted(maps.Keys(a.Files)) {
		if !strings.Contains(k, "/CloudTrail-Digest/") {
			logs = append(logs, k)
		}
	}
	// A clean copy exits 0 (its newest digest is unsigned, its files
	// unverified: not tampering); with a file deleted, 2.
	for _, clean := range []bool{true, false} {
		if !clean {
			if err := os.Remove(filepath.Join(dir, logs[6])); err != nil {
				t.Fatal(err)
			}
		}
		p := newPipeline(t)
		keys := fmt.Sprintf("path %s\nvalidate_integrity on\npublic_keys_file %s\nevent_sources *", dir, a.WriteKeys(t))
		b, err, stopped := runToExit(bin, p.write("fluent-bit.conf", exitConf(p, inputPluginSO(t), pluginSO(t), keys, "out")), 120*time.Second)
		if !stopped {
			t.Fatalf("Fluent Bit did not end by itself\n%s", b)
		}
		missing, events := 0, 0
		for _, r := range readOutput(t, p.path("out")) {
			if st, ok := r.Body["integrity_status"]; ok {
				if r.Tag != "opsworks.integrity" {
					t.Errorf("integrity record tagged %s", r.Tag)
				}
				if st == integrity.StatusLogMissing {
					missing++
				}
				continue
			}
			events++
			if r.Body["s3_integrity"] == nil {
				t.Errorf("event without s3_integrity: %v", r.Body)
			}
		}
		wantMissing, wantCode := 0, 0
		if !clean {
			wantMissing, wantCode = 1, 2
		}
		if code := exitCode(err); code != wantCode || missing != wantMissing || events == 0 {
			t.Fatalf("clean %v: exit %d (want %d), %d log_missing records (want %d), %d events\n%s", clean, code, wantCode, missing, wantMissing, events, b)
		}
	}
}
