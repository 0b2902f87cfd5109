package filter

import (
	"path/filepath"
	"strings"
	"testing"
)

// The seed documents are AWS's own OpsWorks CloudTrail examples; three of them
// are not valid JSON. Each must give either clean events or a clear error.
func TestSeedExamples(t *testing.T) {
	dir := sharedDir(t, "seeds")
	cases := []struct {
		file      string
		wantError string // substring of opsworks_error; "" = must parse
		variant   string
	}{
		{"000_*.txt", `$.Records[0].eventVersion`, ""},
		{"001_*.txt", `$.Records[0].eventVersion`, ""},
		{"002_*.txt", "", VariantChefAutomate},
		{"003_*.txt", `trailing comma before ']'`, ""},
		{"004_*.txt", `$.responseElements.server.engineAttributes`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			matches, _ := filepath.Glob(filepath.Join(dir, tc.file))
			if len(matches) != 1 {
				t.Fatalf("seed %s not found", tc.file)
			}
			text := seedExample(t, matches[0])
			p := NewProcessor(mustConfig(t, map[string]string{"source_key": "log"}), nil)
			rec := `{"log": ` + jsonQuote(text) + `, "path": "/var/log/ct.json"}`
			_, recs := run(t, p, chunkFromJSON(t, rec))
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1: %+v", len(recs), recs)
			}
			r := recs[0]
			if tc.wantError != "" {
				msg, _ := r.Body[FieldError].(string)
				if !strings.Contains(msg, tc.wantError) {
					t.Fatalf("opsworks_error = %q, want it to mention %q", msg, tc.wantError)
				}
				if r.Body["log"] != text || r.Body["path"] != "/var/log/ct.json" {
					t.Fatalf("erroneous record was modified: %v", r.Body)
				}
				if r.Tag != "" {
					t.Fatalf("error record re-tagged to %q; it must stay in its stream", r.Tag)
				}
				return
			}
			if r.Body[FieldVariant] != tc.variant || r.Tag != "opsworks."+tc.variant {
				t.Fatalf("variant %v tag %q, want %s", r.Body[FieldVariant], r.Tag, tc.variant)
			}
			if r.Body["path"] != "/var/log/ct.json" {
				t.Fatalf("carrier field path not carried over: %v", r.Body)
			}
		})
	}
}
