package input

import (
	"context"
	"io/fs"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/internal/ratelimit"
	"github.com/opsworks-trail/opsworks-trail/record"
)

// source is one way objects reach the engine: bucket polling and a local
// tree (pollSource, over an S3 or a directory lister), or SQS notifications
// (sqsSource). The engine owns the workers, the ordered queue and the
// API; a source decides which objects to read and what happens to each
// once it is settled. It gets a sourceEnv and its own options, never the
// engine.
type source interface {
	// start prepares the source (opens its state) and runs the start-up
	// access check.
	start(ctx context.Context) error
	// run produces objects with sourceEnv.put until the source is
	// exhausted (a bounded backfill) or ctx ends. Nothing is put after it
	// returns.
	run(ctx context.Context)
	// delivered settles an object whose records Fluent Bit accepted (or
	// that had none).
	delivered(j job)
	// gaveUp settles an object that still failed after its retries: it is
	// not delivered, and comes back later (next pass, next run, or the
	// message's redelivery).
	gaveUp(j job, err error)
	// redeliverable reports whether a failure that is not retryable here
	// should still leave the object for a later attempt instead of giving
	// an error record.
	redeliverable(r cloudtrail.Reason) bool
	// save persists what was delivered (called periodically and after a
	// commit that came after stop).
	save() error
	// stop ends the source once run returned and no worker runs (or when
	// the engine never started).
	stop()
	// bounded reports whether run ends by itself.
	bounded() bool
	// describe is the start-up log line.
	describe(workers int, recordMode string) string
	// addStats adds the source's own counters to a snapshot.
	addStats(st *Stats)
}

// sourceEnv is what a source gets from the engine: logging, the pause
// gate, the shared counters, where to put objects and the retry delay.
type sourceEnv struct {
	logf func(level int, format string, args ...any)
	warn *ratelimit.Limiter
	gate *gate
	st   *stats
	// put hands an object to the workers; objects are numbered in the
	// order of the calls, which is the order Collect hands them out. It
	// fails only when ctx ends.
	put func(ctx context.Context, o cloudtrail.Object, msg *message, judge integrity.Judge) error
	// putFindings queues integrity records after the objects put so far.
	putFindings func(ctx context.Context, t time.Time, fs []integrity.Finding) error
	backoff     func(attempt int) time.Duration
}

// sleep waits d, or less if ctx ends; it reports whether the run goes on.
func sleep(ctx context.Context, d time.Duration) bool {
	return cloudtrail.Sleep(ctx, d) == nil
}

// store reads objects: from S3 (bucket polling and SQS notifications) or
// from a local tree.
type store interface {
	read(ctx context.Context, r *cloudtrail.ObjectReader, o cloudtrail.Object) (*cloudtrail.Result, error)
	// where names an object in logs, records and the summary.
	where(o cloudtrail.Object) string
	// bucketOf is the object's bucket ("" for a local file).
	bucketOf(o cloudtrail.Object) string
	// provenance are the key/value pairs every record of the object gets.
	provenance(o cloudtrail.Object) []record.Value
}

// s3Store reads from S3 through the pause gate. Objects carry their bucket
// in SQS mode; in polling mode it is the configured one.
type s3Store struct {
	client cloudtrail.S3API
	bucket string
}

func (s s3Store) bucketOf(o cloudtrail.Object) string {
	if o.Bucket != "" {
		return o.Bucket
	}
	return s.bucket
}

func (s s3Store) read(ctx context.Context, r *cloudtrail.ObjectReader, o cloudtrail.Object) (*cloudtrail.Result, error) {
	return r.Get(ctx, s.client, s.bucketOf(o), o.Key.Path)
}

func (s s3Store) where(o cloudtrail.Object) string { return "s3://" + s.bucketOf(o) + "/" + o.Key.Path }

func (s s3Store) provenance(o cloudtrail.Object) []record.Value {
	return []record.Value{record.StringValue(FieldBucket), record.StringValue(s.bucketOf(o)),
		record.StringValue(FieldKey), record.StringValue(o.Key.Path)}
}

// dirStore reads a local copy of an archive.
type dirStore struct{ fsys fs.FS }

func (d dirStore) read(_ context.Context, r *cloudtrail.ObjectReader, o cloudtrail.Object) (*cloudtrail.Result, error) {
	return r.ReadFile(d.fsys, o.Key.Path)
}

func (d dirStore) where(o cloudtrail.Object) string { return o.Key.Path }

func (d dirStore) bucketOf(cloudtrail.Object) string { return "" }

func (d dirStore) provenance(o cloudtrail.Object) []record.Value {
	return []record.Value{record.StringValue(FieldFilePath), record.StringValue(o.Key.Path)}
}
