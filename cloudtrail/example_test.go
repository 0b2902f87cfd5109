package cloudtrail_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// The cloudtrail_s3 input's loop, over a local copy of a trail (gzip
// files in the S3 layout; an S3Lister and ObjectReader.Get work the same
// way): list each stream from its checkpoint, read each file with the
// event_sources push-down, turn the kept events into records for the
// opsworks filter, and commit the file once its records are accepted.
func Example() {
	dir, _ := os.MkdirTemp("", "trail")
	defer os.RemoveAll(dir)
	// A deterministic synthetic archive: 1,000 events over six hours in two
	// regions, 3% OpsWorks.
	if _, err := corpus.WriteArchive(dir, corpus.Options{Seed: 5, Events: 1000, OpsWorksShare: 0.03,
		Start: time.Date(2024, 5, 31, 18, 0, 0, 0, time.UTC), End: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		Accounts: []string{"111122223333"}, Regions: []string{"us-east-1", "eu-west-1"}}, true); err != nil {
		log.Fatal(err)
	}

	cfg, err := filter.LoadConfig(config.MapGetter{"source_key": "log", "retag": "off"})
	if err != nil {
		log.Fatal(err)
	}
	proc := filter.NewProcessor(cfg, func(string) {})
	reader := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{EventSources: cfg.PushDownSources()})

	stateDir, _ := os.MkdirTemp("", "state")
	defer os.RemoveAll(stateDir)
	ck, err := cloudtrail.OpenCheckpoint(cloudtrail.CheckpointOptions{Dir: stateDir, Source: "dir:" + dir})
	if err != nil {
		log.Fatal(err)
	}
	trail := os.DirFS(dir)
	lister, err := cloudtrail.NewDirLister(trail, cloudtrail.ListOptions{
		Start:       time.Date(2024, 5, 31, 21, 0, 0, 0, time.UTC),
		End:         time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
		StreamStart: ck.StreamStart,
	})
	if err != nil {
		log.Fatal(err)
	}

	var files, events, kept, records int
	err = lister.List(context.Background(), func(o cloudtrail.Object) error {
		if !ck.Begin(o.Key) {
			return nil // committed by an earlier run
		}
		res, err := reader.ReadFile(trail, o.Key.Path)
		if err != nil {
			if cloudtrail.Retryable(err) {
				ck.Release(o.Key) // listed again on the next poll
				return nil
			}
			log.Print(err)          // a bad object is reported once…
			return ck.Commit(o.Key) // …and not read again
		}
		var chunk []byte
		for _, ev := range res.Events {
			chunk = record.AppendTextRecord(chunk, record.EventTime{Sec: o.Key.Time.Unix()}, "log", ev)
		}
		var out filter.Result
		if err := proc.FilterChunk(chunk, &out); err != nil {
			return err
		}
		// Here the plugin hands out.Keep (and out.Emits) to Fluent Bit and
		// commits only when Fluent Bit has accepted them.
		files, events, kept, records = files+1, events+res.Total, kept+res.Kept, records+out.KeepN
		return ck.Commit(o.Key)
	})
	if err != nil {
		log.Fatal(err)
	}
	ck.EndPass()
	fmt.Printf("files %d, events %d, passed the push-down %d, records out %d\n", files, events, kept, records)
	// Output: files 71, events 482, passed the push-down 16, records out 16
}
