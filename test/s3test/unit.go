package s3test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Helpers for the unit tests of the cloudtrail library and the input
// engine, which both read one bucket through a client with no retries.

// TestBucket is the bucket of NewFakeBucket.
const TestBucket = "example-trail-bucket"

// UnitClient is NewClient with no retries: a test sees the first failure.
func UnitClient(endpoint string) *s3.Client {
	return NewClient(endpoint, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", func(o *s3.Options) {
		o.RetryMaxAttempts = 1
	})
}

// FakeBucket is an in-process S3 (gofakes3) on 127.0.0.1 holding
// TestBucket, with direct access to its backend for uploads.
type FakeBucket struct {
	Backend *s3mem.Backend
	Client  *s3.Client
	URL     string // the endpoint, e.g. for a FaultProxy in front of it
}

// NewFakeBucket starts a FakeBucket that stops with the test.
func NewFakeBucket(t testing.TB) *FakeBucket {
	t.Helper()
	backend := s3mem.New()
	server := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(server.Close)
	if err := backend.CreateBucket(TestBucket); err != nil {
		t.Fatal(err)
	}
	return &FakeBucket{Backend: backend, Client: UnitClient(server.URL), URL: server.URL}
}

// Put stores body under key in TestBucket.
func (f *FakeBucket) Put(t testing.TB, key string, body []byte) {
	t.Helper()
	if _, err := f.Backend.PutObject(TestBucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// MustGzip is data gzip-compressed, failing the test on error.
func MustGzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Lister is the listing call of an S3 client.
type Lister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// RecordingLister wraps a client and records every ListObjectsV2 input, so
// tests can assert which prefixes were (and were not) listed.
type RecordingLister struct {
	Inner Lister
	mu    sync.Mutex
	calls []s3.ListObjectsV2Input
}

func (r *RecordingLister) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	r.mu.Lock()
	r.calls = append(r.calls, *in)
	r.mu.Unlock()
	return r.Inner.ListObjectsV2(ctx, in, optFns...)
}

// Calls are the listing inputs so far.
func (r *RecordingLister) Calls() []s3.ListObjectsV2Input {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]s3.ListObjectsV2Input(nil), r.calls...)
}

// Scripted is a client of an HTTP server whose handler plays one failure,
// for the error classes gofakes3 cannot produce (throttling, 5xx, resets).
func Scripted(t testing.TB, handler http.HandlerFunc) *s3.Client {
	t.Helper()
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return UnitClient(server.URL)
}

// ErrorXML is S3's REST error body.
func ErrorXML(code, message string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + message +
		`</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>example</HostId></Error>`
}
