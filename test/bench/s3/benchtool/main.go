// Command benchtool prepares the S3-input benchmark (run by ../run.sh):
//
//	benchtool gen   -size 1G -share 0.01 -seed 1 -out DIR   archive under DIR/archive, counts in DIR/manifest.env
//	benchtool gen   -objects 2000 -per-object 30 -out DIR  small objects instead of -size (see gen)
//	benchtool minio -dir ARCHIVE -data DIR -bucket B -env FILE
//	benchtool gets  -client sdk|plain                       GET every object of $MINIO_BUCKET, CPU per GET
//
// gen writes a generated CloudTrail archive (.json.gz in the real key layout)
// of about -size uncompressed bytes, a day at a time (see
// s3test.OptionsForSize), and reuses an existing one made with the same
// flags. minio starts a MinIO server (installing it like the tests do),
// uploads ARCHIVE into bucket B, writes the endpoint, credentials and upload
// figures to FILE as shell assignments, and serves until SIGINT or SIGTERM.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/bench/benchutil"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchtool: ")
	if len(os.Args) < 2 {
		log.Fatal("usage: benchtool gen|minio [flags]")
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "minio":
		err = serveMinIO(os.Args[2:])
	case "gets":
		err = gets(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (gen, minio or gets)", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	size := fs.String("size", "1G", "uncompressed size: bytes, or with K, M, G, T (binary: 1G = 2^30)")
	share := fs.Float64("share", 0.01, "fraction of OpsWorks events")
	seed := fs.Int64("seed", 1, "random seed")
	out := fs.String("out", "", "output directory (archive/ and manifest.env go inside)")
	objects := fs.Int("objects", 0, "small-objects mode: about this many objects of -per-object events (instead of -size)")
	perObject := fs.Int("per-object", 30, "events per object in small-objects mode")
	fs.Parse(args)
	bytes, err := parseSize(*size)
	if err != nil || *out == "" {
		return fmt.Errorf("gen needs -out DIR and a valid -size (%v)", err)
	}
	manifest := filepath.Join(*out, "manifest.env")
	id := fmt.Sprintf("SIZE_BYTES=%d SHARE=%g SEED=%d", bytes, *share, *seed)
	var plan []corpus.Options
	if *objects > 0 {
		// One account and region over one day: a 5-minute window then holds
		// about objects×per-object/288 events, cut into files of per-object,
		// so nearly every object has per-object events (the per-request cost
		// of S3 dominates, as in a live trail's many small files).
		id = fmt.Sprintf("OBJECTS=%d PER_OBJECT=%d SHARE=%g SEED=%d", *objects, *perObject, *share, *seed)
		plan = []corpus.Options{{Seed: *seed, OpsWorksShare: *share, Events: *objects * *perObject, EventsPerFile: *perObject,
			Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"}}}
	} else {
		plan = s3test.OptionsForSize(bytes, corpus.Options{Seed: *seed, OpsWorksShare: *share})
	}
	if old, err := os.ReadFile(manifest); err == nil && strings.Contains(string(old), "# "+id+"\n") {
		log.Printf("reusing the archive in %s (%s)", *out, id)
		return nil
	}
	dir := filepath.Join(*out, "archive")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	os.Remove(manifest) // an interrupted run must not look complete
	log.Printf("generating %s over %d days into %s ...", id, len(plan), dir)
	start := time.Now()
	stats, err := s3test.WriteSizedArchive(dir, plan, true, generators())
	if err != nil {
		return err
	}
	log.Printf("wrote %d files in %.1f s", stats.Files, time.Since(start).Seconds())
	return os.WriteFile(manifest, []byte(fmt.Sprintf("# %s\nARCHIVE=%q\nFILES=%d\nEVENTS=%d\nOPSWORKS=%d\nUNCOMPRESSED=%d\nSTORED=%d\n",
		id, dir, stats.Files, stats.Events, stats.OpsWorks, stats.Uncompressed, stats.Stored)), 0o644)
}

// generators is how many days are generated at once: every CPU, but at
// most four, since each day holds about 3 × DayChunk of memory.
func generators() int { return min(runtime.NumCPU(), 4) }

func parseSize(s string) (int64, error) {
	mult := int64(1)
	if i := strings.IndexAny(strings.ToUpper(s), "KMGT"); i >= 0 && i == len(s)-1 {
		mult = 1 << (10 * (strings.IndexByte("KMGT", strings.ToUpper(s)[i]) + 1))
		s = s[:i]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("size %q: want a positive number with an optional K, M, G or T", s)
	}
	return int64(n * float64(mult)), nil
}

func serveMinIO(args []string) error {
	fs := flag.NewFlagSet("minio", flag.ExitOnError)
	archive := fs.String("dir", "", "directory to upload (keys are paths relative to it)")
	data := fs.String("data", "", "MinIO's directory (emptied first)")
	bucket := fs.String("bucket", "cloudtrail-bench", "bucket to create")
	envFile := fs.String("env", "", "file to write the shell assignments to")
	fs.Parse(args)
	if *archive == "" || *data == "" || *envFile == "" {
		return errors.New("minio needs -dir, -data and -env")
	}
	srv, env, err := benchutil.ServeArchive(*data, *archive, *bucket)
	if err != nil {
		return err
	}
	defer srv.Close()
	return benchutil.PublishAndWait(*envFile, env)
}
