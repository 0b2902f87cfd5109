package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const testBucket = "example-trail-bucket"

// newClient is an S3 client for a local endpoint: path-style addressing,
// an explicit region, static credentials, no retries (tests see the first
// failure), and no checksum negotiation the fakes do not speak.
func newClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""),
		RetryMaxAttempts:           1,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// fakeS3 is an in-process S3 (gofakes3) on 127.0.0.1 with one bucket.
type fakeS3 struct {
	backend *s3mem.Backend
	client  *s3.Client
}

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	server := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(server.Close)
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	return &fakeS3{backend: backend, client: newClient(server.URL)}
}

func (f *fakeS3) put(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := f.backend.PutObject(testBucket, key, map[string]string{}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func gzipped(t testing.TB, data []byte) []byte {
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

// recordingLister wraps a client and records every ListObjectsV2 input, so
// tests can assert which prefixes were (and were not) listed.
type recordingLister struct {
	inner s3Lister
	mu    sync.Mutex
	calls []s3.ListObjectsV2Input
}

func (r *recordingLister) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	r.mu.Lock()
	r.calls = append(r.calls, *in)
	r.mu.Unlock()
	return r.inner.ListObjectsV2(ctx, in, optFns...)
}

// scriptedS3 is an HTTP server whose handler plays one failure, for the
// error classes gofakes3 cannot produce (throttling, 5xx, resets).
func scriptedS3(t *testing.T, handler http.HandlerFunc) *s3.Client {
	t.Helper()
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)
	return newClient(server.URL)
}

// s3ErrorXML is S3's REST error body.
func s3ErrorXML(code, message string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + message +
		`</Message><RequestId>4442587FB7D0A2F9</RequestId><HostId>example</HostId></Error>`
}
