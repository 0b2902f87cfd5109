// Command tool writes the archive of the integrity overhead benchmark
// (test/bench/integrity/run.sh): a signed CloudTrail archive (test/trailsign)
// as a local copy, DAYS days of one account and region (288 log files and
// 24 digests a day), its public key as keys.json, and DIR/env with the
// window.
//
//	go run ./test/bench/integrity/tool DIR DAYS EVENTS_PER_FILE
package main

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: tool DIR DAYS EVENTS_PER_FILE")
	}
	dir := os.Args[1]
	days, err := strconv.Atoi(os.Args[2])
	if err != nil || days < 1 {
		log.Fatalf("DAYS: %q", os.Args[2])
	}
	perFile, err := strconv.Atoi(os.Args[3])
	if err != nil || perFile < 1 {
		log.Fatalf("EVENTS_PER_FILE: %q", os.Args[3])
	}
	end := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	start := end.AddDate(0, 0, -days)
	// OpsWorks is a small share of a real trail: the push-down drops the
	// rest before decoding, so reading is mostly inflating and scanning —
	// the work hashing adds to.
	a, err := trailsign.Build(trailsign.Options{Corpus: corpus.Options{Seed: 4, Events: days * 288 * perFile,
		OpsWorksShare: 0.05, EventsPerFile: perFile, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"},
		Start: start, End: end}})
	if err != nil {
		log.Fatal(err)
	}
	if err := a.WriteDir(filepath.Join(dir, "archive")); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys.json"), a.KeysJSON, 0o644); err != nil {
		log.Fatal(err)
	}
	var stored int64
	for _, b := range a.Files {
		stored += int64(len(b))
	}
	env := fmt.Sprintf("START=%s\nEND=%s\nLOGS=%d\nDIGESTS=%d\nSTORED_MB=%.1f\n", start.Format(time.RFC3339),
		end.Add(time.Hour).Format(time.RFC3339), len(a.Logs), len(a.Digests), float64(stored)/1e6)
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(env), 0o644); err != nil {
		log.Fatal(err)
	}
}
