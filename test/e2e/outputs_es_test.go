package e2e

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shipped Elasticsearch and OpenSearch pipelines, classic and YAML, in
// real Fluent Bit, reading the MinIO archive with their cloudtrail_s3 input,
// against a _bulk capture server: every OpsWorks event of the archive arrives
// once, in the configured index, with _id = eventID, valid against the JSON
// Schema and equal to the CLI's record (and the file tap equal to it too); the
// broken event lands in the errors file; both formats deliver identical
// documents; and running the same backfill again (a new checkpoint) adds
// nothing and completes without retries.
func TestShippedSearchPipelines(t *testing.T) {
	bin := fluentBit(t)
	a := shipUploadArchive(t, true)
	a = a.withECS(t) // the search pipelines set ecs_fields on
	for _, tc := range []struct {
		backend string // pipeline base name and env prefix
		prefix  string
	}{
		{"elasticsearch", "ES"},
		{"opensearch", "OPENSEARCH"},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			byFormat := map[string]map[string]map[string]any{}
			for _, ext := range []string{".conf", ".yaml"} {
				t.Run(strings.TrimPrefix(ext, "."), func(t *testing.T) {
					d := shipInstall(t, tc.backend+ext)
					capture, srv := newCaptureBulk(t)
					var env []string
					if tc.prefix == "ES" {
						env = shipEnv(srv, nil, nil)
					} else {
						env = shipEnv(nil, srv, nil)
					}
					d.runArchive(t, bin, a, env, func() bool { return capture.count() >= len(a.events) })
					docs := capture.snapshot(t, "opsworks-events")
					checkDocuments(t, tc.backend+ext, docs, a.events)
					user := "opsworks-" + strings.ToLower(tc.prefix) + ":secret"
					if !capture.auth["Basic "+base64.StdEncoding.EncodeToString([]byte(user))] || len(capture.auth) != 1 {
						t.Errorf("Authorization headers %v, want basic auth of %s", capture.auth, user)
					}
					t.Logf("%d documents by variant %v in %d requests", len(docs), a.byVariant(), capture.requests)
					byFormat[ext] = docs

					// Re-run the same backfill from scratch (new checkpoint,
					// new storage): every document is written again under its
					// _id, nothing is added, nothing is retried.
					d.state = filepath.Join(d.dir, "state-rerun")
					d.writeRewritten(t, d.config, readShipped(t, tc.backend+ext))
					before := capture.writes
					log := d.run(t, bin, append(env, a.env()...), func() bool {
						capture.mu.Lock()
						defer capture.mu.Unlock()
						return capture.writes-before >= len(a.events)
					})
					time.Sleep(time.Second) // a retry would come now
					capture.mu.Lock()
					writes := capture.writes - before
					capture.mu.Unlock()
					if capture.count() != len(a.events) || writes != len(a.events) {
						t.Errorf("re-run: %d documents stored, %d writes sent; want %d and %d", capture.count(), writes, len(a.events), len(a.events))
					}
					for _, bad := range []string{"failed to flush", "retry", "[error]"} {
						if strings.Contains(strings.ToLower(log), bad) {
							t.Errorf("re-run: Fluent Bit log contains %q:\n%s", bad, shipLogTail(log))
						}
					}
				})
			}
			checkSameFormats(t, byFormat)
		})
	}
}

// checkSameFormats: the classic and YAML configurations delivered the same
// records (when both ran).
func checkSameFormats(t *testing.T, byFormat map[string]map[string]map[string]any) {
	t.Helper()
	a, b := byFormat[".conf"], byFormat[".yaml"]
	if a == nil || b == nil {
		return
	}
	for id, doc := range a {
		if shipCanonical(doc) != shipCanonical(b[id]) {
			t.Errorf("%s differs between classic and YAML:\n%s\n%s", id, shipCanonical(doc), shipCanonical(b[id]))
		}
	}
	if len(a) != len(b) {
		t.Errorf("classic delivered %d records, YAML %d", len(a), len(b))
	}
}

func readShipped(t *testing.T, name string) string {
	t.Helper()
	return string(readFileBytes(t, filepath.Join(repoRoot(), "examples", "pipelines", name)))
}

// checkErrorsFile: the records the filter could not process come out whole,
// under the error route, with their opsworks_error, and nothing else does.
func checkErrorsFile(t *testing.T, path string, in *shipInput) {
	t.Helper()
	got := readPlainNDJSON(t, path)
	if len(got) != len(in.errors) {
		t.Fatalf("errors file has %d records, want %d", len(got), len(in.errors))
	}
	sch := shipEventSchema(t)
	for i, rec := range got {
		if shipCanonical(rec) != shipCanonical(in.errors[i]) {
			t.Errorf("error record differs:\n got  %s\n want %s", shipCanonical(rec), shipCanonical(in.errors[i]))
		}
		if err := sch.Validate(rec); err != nil {
			t.Errorf("error record does not validate: %v", err)
		}
		if s, _ := rec["opsworks_error"].(string); s == "" {
			t.Errorf("error record without opsworks_error: %v", rec)
		}
	}
}
