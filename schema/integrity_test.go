package schema

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

// The input's integrity records and s3_integrity fields, through the
// filter, are valid, with their own tag: a tampered local copy read with
// validate_integrity on.
func TestIntegrityOutputValidates(t *testing.T) {
	a := trailsign.MustBuild(t, trailsign.Options{Corpus: corpus.Options{Seed: 12, Events: 300, OpsWorksShare: 0.5, EventsPerFile: 10,
		Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"},
		Start: time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 30, 4, 0, 0, 0, time.UTC)}})
	dir := a.Dir(t)
	var logs []string
	for k := range a.Files {
		if !strings.Contains(k, "Digest") {
			logs = append(logs, k)
		}
	}
	slices.Sort(logs)
	if err := os.Remove(filepath.Join(dir, logs[2])); err != nil {
		t.Fatal(err)
	}
	keys := a.WriteKeys(t)
	cfg, err := input.LoadConfig(config.MapGetter{"path": dir, "validate_integrity": "on", "public_keys_file": keys,
		"progress_interval": "0", "start_time": "2024-05-30", "end_time": "2024-05-31"})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := input.NewEngine(cfg, input.Deps{Logf: func(int, string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer eng.Stop()
	sch := eventSchema(t)
	statuses := map[string]int{}
	deadline := time.Now().Add(30 * time.Second)
	for !eng.Done() && time.Now().Before(deadline) {
		b := eng.Collect(0)
		if b == nil {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		for _, r := range run(t, nil, b.Records) {
			if err := sch.Validate(r.Body); err != nil {
				t.Fatalf("record (tag %s) is not valid:\n%v\nrecord: %v", r.Tag, err, r.Body)
			}
			if st, ok := r.Body["integrity_status"].(string); ok {
				if r.Tag != "opsworks.integrity" {
					t.Errorf("integrity record tagged %s", r.Tag)
				}
				statuses["record "+st]++
			} else {
				statuses["event "+r.Body["s3_integrity"].(string)]++
			}
		}
		eng.Commit(b)
	}
	for _, want := range []string{"record log_missing", "record digest_unsigned", "event valid"} {
		if statuses[want] == 0 {
			t.Errorf("no %s in the output: %v", want, statuses)
		}
	}
}
