package s3test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// OpsWorksSources are the eventSource values the filter keeps by default.
var OpsWorksSources = []string{"opsworks.amazonaws.com", "opsworks-cm.amazonaws.com"}

// GenerateArchive is corpus.LogFiles(o) in stored form: with gzip, each
// Body is gzip-compressed and keeps its .json.gz Key (as CloudTrail stores
// files); without, Body is the JSON and the Key ends in .json. Handy for
// putting files into a backend directly (gofakes3's s3mem).
func GenerateArchive(o corpus.Options, gzip bool) ([]corpus.File, error) {
	files := corpus.LogFiles(o)
	for i := range files {
		key, body, err := storedForm(files[i], gzip)
		if err != nil {
			return nil, err
		}
		files[i].Key, files[i].Body = key, body
	}
	return files, nil
}

// Gzip compresses data with modTime in the header, so the same file always
// gives the same bytes.
func Gzip(data []byte, modTime time.Time) ([]byte, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.ModTime = modTime
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// CountEvents decodes an uncompressed log file and counts its events and
// those from OpsWorksSources: the reference a reader's push-down must match.
func CountEvents(body []byte) (events, opsworks int, err error) {
	var doc struct {
		Records []struct {
			EventSource string `json:"eventSource"`
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return 0, 0, err
	}
	for _, r := range doc.Records {
		for _, s := range OpsWorksSources {
			if r.EventSource == s {
				opsworks++
			}
		}
	}
	return len(doc.Records), opsworks, nil
}

// DayChunk is the most uncompressed bytes OptionsForSize puts in one
// generated day. The corpus builds a whole run in memory (about three times
// its size at peak), so big archives are generated a day at a time; 256 MiB
// a day over 3 accounts × 6 regions is a busy but plausible organization.
const DayChunk = 256 << 20

// OptionsForSize plans an archive of about size uncompressed bytes as
// consecutive UTC days ending at base.End (default 2024-06-01), each at
// most DayChunk, with base's share, accounts, regions, organization and
// file size. Day i gets Seed base.Seed+i so days differ; the plan itself is
// deterministic. The events per day come from the mean bytes per event of
// a 5,000-event sample with the same options, so the total lands within a
// percent or two of size.
func OptionsForSize(size int64, base corpus.Options) []corpus.Options {
	end := base.End
	if end.IsZero() {
		end = time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	}
	perEvent := bytesPerEvent(base)
	events := max(1, int64(math.Ceil(float64(size)/perEvent)))
	days := max(1, (size+DayChunk-1)/DayChunk)
	plan := make([]corpus.Options, days)
	for i := range plan {
		o := base
		o.Seed = base.Seed + int64(i)
		o.Start = end.AddDate(0, 0, i-int(days))
		o.End = o.Start.AddDate(0, 0, 1)
		// Spread the remainder over the first days so the sum is exact.
		o.Events = int(events / days)
		if int64(i) < events%days {
			o.Events++
		}
		plan[i] = o
	}
	return plan
}

// TenGBOptions is the plan for the backfill benchmark's target: 10 GiB
// uncompressed, 1% OpsWorks events, seed 1.
func TenGBOptions() []corpus.Options {
	return OptionsForSize(10<<30, corpus.Options{Seed: 1, OpsWorksShare: 0.01})
}

func bytesPerEvent(o corpus.Options) float64 {
	const sample = 5000
	o.Events = sample
	var n int64
	for _, f := range corpus.LogFiles(o) {
		n += int64(len(f.Body))
	}
	return float64(n) / sample
}

// ArchiveStats describes a written archive.
type ArchiveStats struct {
	Files        int64
	Events       int64
	OpsWorks     int64 // events from OpsWorksSources
	Uncompressed int64 // bytes of JSON
	Stored       int64 // bytes on disk (compressed with gzip)
}

// WriteSizedArchive writes every day of plan under dir in the CloudTrail key
// layout (dir/AWSLogs/…), gzip-compressed with .json.gz names or as .json,
// generating up to workers days at once (each needs about 3 × DayChunk of
// memory).
func WriteSizedArchive(dir string, plan []corpus.Options, gzip bool, workers int) (ArchiveStats, error) {
	var files, events, opsworks, raw, stored atomic.Int64
	err := forEach(context.Background(), len(plan), max(1, workers), func(_ context.Context, i int) error {
		o := plan[i]
		for _, f := range corpus.LogFiles(o) {
			key, body, err := storedForm(f, gzip)
			if err != nil {
				return err
			}
			if err := writeFile(filepath.Join(dir, filepath.FromSlash(key)), body); err != nil {
				return err
			}
			files.Add(1)
			raw.Add(int64(len(f.Body)))
			stored.Add(int64(len(body)))
		}
		events.Add(int64(o.Events))
		opsworks.Add(opsworksCount(o))
		return nil
	})
	return ArchiveStats{Files: files.Load(), Events: events.Load(), OpsWorks: opsworks.Load(),
		Uncompressed: raw.Load(), Stored: stored.Load()}, err
}

// opsworksCount is how many OpsWorks events corpus generates for o: exactly
// round(Events × share), which the corpus guarantees (and
// TestWriteSizedArchiveCounts checks), so 10 GB need not be parsed again.
func opsworksCount(o corpus.Options) int64 {
	share := math.Min(1, math.Max(0, o.OpsWorksShare))
	return int64(math.Round(float64(o.Events) * share))
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
