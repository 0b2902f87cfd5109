package e2e

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The shipped Elasticsearch and OpenSearch pipelines, classic and YAML, in
// real Fluent Bit against a _bulk capture server: every OpsWorks event
// arrives once, in the configured index, with _id = eventID, valid against the
// JSON Schema and equal to the filter's record; the malformed log file lands
// in the errors file; both formats deliver identical documents; and running
// the same backfill again adds nothing and completes without retries.
func TestShippedSearchPipelines(t *testing.T) {
	bin := fluentBit(t)
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
					in := shipWriteInput(t, d.input)
					capture, srv := newCaptureBulk(t)
					var env []string
					if tc.prefix == "ES" {
						env = shipEnv(srv, nil, nil)
					} else {
						env = shipEnv(nil, srv, nil)
					}
					errFile := filepath.Join(d.state, "errors", "cloudtrail-errors.ndjson")
					log := d.run(t, bin, env, func() bool {
						return capture.count() >= len(in.events) && len(readPlainNDJSON(t, errFile)) >= len(in.errors)
					})
					docs := capture.snapshot(t, "opsworks-events")
					checkDocuments(t, tc.backend+ext, docs, in.events)
					checkErrorsFile(t, errFile, in)
					user := "opsworks-" + strings.ToLower(tc.prefix) + ":secret"
					if !capture.auth["Basic "+base64.StdEncoding.EncodeToString([]byte(user))] || len(capture.auth) != 1 {
						t.Errorf("Authorization headers %v, want basic auth of %s", capture.auth, user)
					}
					if strings.Contains(log, "[error]") {
						t.Errorf("Fluent Bit logged errors:\n%s", shipLogTail(log))
					}
					t.Logf("%d documents by variant %v in %d requests", len(docs), in.byVariant(), capture.requests)
					byFormat[ext] = docs

					// Re-run the same backfill from scratch (new tail DB, new
					// storage): every document is written again under its
					// _id, nothing is added, nothing is retried.
					d.state = filepath.Join(d.dir, "state-rerun")
					d.writeRewritten(t, d.config, readShipped(t, tc.backend+ext), pluginSO(t))
					before := capture.writes
					log = d.run(t, bin, env, func() bool {
						capture.mu.Lock()
						defer capture.mu.Unlock()
						return capture.writes-before >= len(in.events)
					})
					time.Sleep(time.Second) // a retry would come now
					capture.mu.Lock()
					writes := capture.writes - before
					capture.mu.Unlock()
					if capture.count() != len(in.events) || writes != len(in.events) {
						t.Errorf("re-run: %d documents stored, %d writes sent; want %d and %d", capture.count(), writes, len(in.events), len(in.events))
					}
					for _, bad := range []string{"failed to flush", "retry", "[error]"} {
						if strings.Contains(strings.ToLower(log), bad) {
							t.Errorf("re-run: Fluent Bit log contains %q:\n%s", bad, shipLogTail(log))
						}
					}
				})
			}
			// (c) YAML and classic configurations deliver the same documents.
			a, b := byFormat[".conf"], byFormat[".yaml"]
			if a == nil || b == nil {
				return
			}
			for id, doc := range a {
				other, ok := b[id]
				if !ok {
					t.Errorf("%s only in the classic run", id)
					continue
				}
				// file_path names each run's own temp dir.
				x, y := withoutKey(doc, "file_path"), withoutKey(other, "file_path")
				if shipCanonical(x) != shipCanonical(y) {
					t.Errorf("%s differs between classic and YAML:\n%s\n%s", id, shipCanonical(x), shipCanonical(y))
				}
			}
			if len(a) != len(b) {
				t.Errorf("classic delivered %d documents, YAML %d", len(a), len(b))
			}
		})
	}
}

func readShipped(t *testing.T, name string) string {
	t.Helper()
	return string(readFileBytes(t, filepath.Join(repoRoot(), "examples", "pipelines", name)))
}

func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

// checkErrorsFile: the malformed log file comes out whole, under the error
// route, with its opsworks_error, and nothing else does.
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
		if rec["log"] != shipBrokenLine {
			t.Errorf("error record does not keep the broken text: %v", rec)
		}
	}
}
