package s3test_test

import (
	"context"
	"errors"
	"math"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

const trailBucket = "org-trail"

// archiveOptions: 2,000 events over three UTC days, so a one-day window
// has files on both sides of it.
var archiveOptions = corpus.Options{
	Seed: 7, Events: 2000, OpsWorksShare: 0.05,
	Start: time.Date(2024, 5, 29, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC),
}

// minioWithArchive is a MinIO server holding archiveOptions' log files,
// gzip-compressed under their real keys.
func minioWithArchive(t *testing.T) (*s3test.Server, []corpus.File) {
	t.Helper()
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, trailBucket)
	files := corpus.LogFiles(archiveOptions)
	var want int64
	for _, f := range files {
		want += int64(len(f.Body))
	}
	if got := srv.UploadArchive(t, trailBucket, files, true); got != want {
		t.Fatalf("UploadArchive reported %d uncompressed bytes, want %d", got, want)
	}
	return srv, files
}

func list(t *testing.T, l cloudtrail.Lister) []cloudtrail.Object {
	t.Helper()
	var objs []cloudtrail.Object
	if err := l.List(context.Background(), func(o cloudtrail.Object) error { objs = append(objs, o); return nil }); err != nil {
		t.Fatal(err)
	}
	return objs
}

// TestMinIOArchive: on a real server, the S3 lister finds exactly a
// window's keys, the reader's push-down keeps exactly the OpsWorks events
// generated, and faults injected in front of it reach the reader as S3's
// would.
func TestMinIOArchive(t *testing.T) {
	srv, files := minioWithArchive(t)
	client := srv.Client(t)
	t.Run("window", func(t *testing.T) {
		start, end := time.Date(2024, 5, 30, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 31, 0, 0, 0, 0, time.UTC)
		l, err := cloudtrail.NewS3Lister(client, trailBucket, cloudtrail.ListOptions{Start: start, End: end})
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, o := range list(t, l) {
			got = append(got, o.Key.Path)
		}
		for _, f := range files {
			if !f.Time.Before(start) && f.Time.Before(end) {
				want = append(want, f.Key)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(want) == 0 || len(want) == len(files) || !slices.Equal(got, want) {
			t.Errorf("listed %d keys, want the window's %d (of %d)", len(got), len(want), len(files))
		}
	})
	t.Run("read", func(t *testing.T) {
		// Deliveries lag the last events by up to nine minutes.
		l, err := cloudtrail.NewS3Lister(client, trailBucket, cloudtrail.ListOptions{End: archiveOptions.End.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		objs := list(t, l)
		if len(objs) != len(files) {
			t.Fatalf("listed %d objects, uploaded %d", len(objs), len(files))
		}
		kept := readAll(t, client, objs, bodiesByKey(files))
		if want := int(math.Round(float64(archiveOptions.Events) * archiveOptions.OpsWorksShare)); kept != want {
			t.Errorf("kept %d OpsWorks events in all, generated %d", kept, want)
		}
	})
	t.Run("faults", func(t *testing.T) { testFaults(t, srv, files) })
}

func bodiesByKey(files []corpus.File) map[string][]byte {
	m := make(map[string][]byte, len(files))
	for _, f := range files {
		m[f.Key] = f.Body
	}
	return m
}

// readAll reads every object with the OpsWorks push-down, checks each
// against the generated file and returns the events kept.
func readAll(t *testing.T, client *s3.Client, objs []cloudtrail.Object, bodies map[string][]byte) int {
	t.Helper()
	reader := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{EventSources: s3test.OpsWorksSources})
	kept := 0
	for _, o := range objs {
		res, err := reader.Get(context.Background(), client, trailBucket, o.Key.Path)
		if err != nil {
			t.Fatal(err)
		}
		total, opsworks, err := s3test.CountEvents(bodies[o.Key.Path])
		if err != nil {
			t.Fatal(err)
		}
		if res.Total != total || res.Kept != opsworks || !res.Compressed {
			t.Fatalf("%s: read %d events, kept %d (gzip %v); generated %d, %d from OpsWorks",
				o.Key.Path, res.Total, res.Kept, res.Compressed, total, opsworks)
		}
		kept += res.Kept
	}
	return kept
}

// testFaults: a body cut mid-way is a retryable transport error; SlowDown
// twice is retried by the SDK. MinIO checks signatures, so this also shows
// the proxy keeps them valid.
func testFaults(t *testing.T, srv *s3test.Server, files []corpus.File) {
	cut, throttled := files[0].Key, files[1].Key
	proxy := s3test.NewFaultProxy(t, srv.Endpoint,
		s3test.Rule{Method: "GET", KeyRegexp: "^" + regexp.QuoteMeta(cut) + "$", Times: 1, Fault: s3test.ResetMidBody},
		s3test.Rule{Method: "GET", KeyRegexp: "^" + regexp.QuoteMeta(throttled) + "$", Times: 2, Fault: s3test.SlowDown},
	)
	client := s3test.NewClient(proxy.URL, srv.AccessKey, srv.SecretKey, s3test.FastRetries(3))
	reader := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{EventSources: s3test.OpsWorksSources})
	ctx := context.Background()

	_, err := reader.Get(ctx, client, trailBucket, cut)
	var oe *cloudtrail.ObjectError
	if !errors.As(err, &oe) || oe.Reason != cloudtrail.ReasonTransport || !cloudtrail.Retryable(err) {
		t.Errorf("body cut mid-way: err = %v, want a retryable %q", err, cloudtrail.ReasonTransport)
	}
	if _, err := reader.Get(ctx, client, trailBucket, cut); err != nil {
		t.Errorf("second read after the cut: %v", err)
	}

	res, err := reader.Get(ctx, client, trailBucket, throttled)
	if err != nil {
		t.Fatalf("SlowDown twice with 3 attempts: %v", err)
	}
	if n := proxy.Count("GET", throttled); n != 3 || proxy.Injected("GET", throttled) != 2 {
		t.Errorf("GETs of the throttled key = %d (%d throttled), want 3 (2)", n, proxy.Injected("GET", throttled))
	}
	if total, _, _ := s3test.CountEvents(files[1].Body); res.Total != total {
		t.Errorf("read %d events after the retries, want %d", res.Total, total)
	}
}

// TestMinIOServerSideEncryption: objects stored with SSE-S3 read back like
// any other (the server decrypts).
func TestMinIOServerSideEncryption(t *testing.T) {
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, trailBucket)
	files, err := s3test.GenerateArchive(corpus.Options{Seed: 3, Events: 50, OpsWorksShare: 1}, true)
	if err != nil {
		t.Fatal(err)
	}
	srv.PutObjectSSE(t, trailBucket, files[0].Key, files[0].Body)
	head, err := srv.Client(t).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(trailBucket), Key: aws.String(files[0].Key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("stored with encryption %q, want AES256", head.ServerSideEncryption)
	}
	res, err := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{}).Get(context.Background(), srv.Client(t), trailBucket, files[0].Key)
	if err != nil || res.Total == 0 || res.Kept != res.Total {
		t.Fatalf("reading an SSE-S3 object: %v, %+v", err, res)
	}
	srv.DeleteObject(t, trailBucket, files[0].Key)
	_, err = cloudtrail.NewObjectReader(cloudtrail.ReadOptions{}).Get(context.Background(), srv.Client(t), trailBucket, files[0].Key)
	if !errors.As(err, new(*cloudtrail.ObjectError)) || cloudtrail.Retryable(err) {
		t.Errorf("reading a deleted object: %v, want a non-retryable object error", err)
	}
}
