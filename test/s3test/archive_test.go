package s3test_test

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// TestOptionsForSize: the plan covers consecutive whole days ending at the
// corpus end, no day above DayChunk's worth of events, and lands near the
// target size.
func TestOptionsForSize(t *testing.T) {
	const target = 3*s3test.DayChunk + s3test.DayChunk/2
	plan := s3test.OptionsForSize(target, corpus.Options{Seed: 5, OpsWorksShare: 0.01})
	if len(plan) != 4 {
		t.Fatalf("%d days for 3.5 chunks, want 4", len(plan))
	}
	end := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	if !plan[3].End.Equal(end) || !plan[0].Start.Equal(end.AddDate(0, 0, -4)) {
		t.Errorf("plan spans %s to %s, want the four days before %s", plan[0].Start, plan[3].End, end)
	}
	for i := 1; i < len(plan); i++ {
		if !plan[i].Start.Equal(plan[i-1].End) || plan[i].Seed == plan[i-1].Seed {
			t.Errorf("day %d does not follow day %d with its own seed", i, i-1)
		}
		if d := plan[i].Events - plan[0].Events; d > 0 || d < -1 {
			t.Errorf("day %d has %d events, day 0 %d: not an even split", i, plan[i].Events, plan[0].Events)
		}
	}
	if n := len(s3test.TenGBOptions()); n != 40 {
		t.Errorf("TenGBOptions has %d days, want 40", n)
	}
}

// TestWriteSizedArchiveCounts writes a small sized archive and checks the
// stats against the files: sizes, event counts and the OpsWorks count the
// stats take from the corpus's exact-share guarantee.
func TestWriteSizedArchiveCounts(t *testing.T) {
	dir := t.TempDir()
	day := s3test.OptionsForSize(2<<20, corpus.Options{Seed: 9, OpsWorksShare: 0.03})[0]
	plan := []corpus.Options{day, day, day} // three small days, written in parallel
	for i := 1; i < len(plan); i++ {
		plan[i].Seed += int64(i)
		plan[i].Start, plan[i].End = day.Start.AddDate(0, 0, -i), day.End.AddDate(0, 0, -i)
	}
	stats, err := s3test.WriteSizedArchive(dir, plan, true, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got s3test.ArchiveStats
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		addFile(t, &got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != stats {
		t.Errorf("files hold %+v, WriteSizedArchive reported %+v", got, stats)
	}
	if stats.Uncompressed < 5<<20 || stats.Stored >= stats.Uncompressed {
		t.Errorf("implausible sizes: %+v", stats)
	}
}

func addFile(t *testing.T, s *s3test.ArchiveStats, path string) {
	t.Helper()
	if _, ok := cloudtrail.ParseKey(filepath.ToSlash(path[strings.Index(path, "AWSLogs"):])); !ok {
		t.Errorf("%s is not in the CloudTrail key layout", path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Stat()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	events, opsworks, err := s3test.CountEvents(body)
	if err != nil {
		t.Fatal(err)
	}
	s.Files++
	s.Events += int64(events)
	s.OpsWorks += int64(opsworks)
	s.Uncompressed += int64(len(body))
	s.Stored += info.Size()
}
