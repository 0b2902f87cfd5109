package s3test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Fake credentials of Fake's server (gofakes3 accepts any).
const (
	FakeAccessKey = "AKIDTEST"
	FakeSecretKey = "secret"
)

// Fake starts an in-process S3 (gofakes3, in memory) on loopback with the
// given bucket, for tests that need S3 semantics but not MinIO's fidelity,
// and returns its endpoint and a client. The server stops with the test.
func Fake(t testing.TB, bucket string) (endpoint string, client *s3.Client) {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	client = NewClient(srv.URL, FakeAccessKey, FakeSecretKey)
	if err := CreateBucket(context.Background(), client, bucket); err != nil {
		t.Fatal(err)
	}
	return srv.URL, client
}
