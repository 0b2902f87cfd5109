package cloudtrail

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// The one configuration of every client: its HTTP client is the
// buildable one with the input's pool (so AWS_CA_BUNDLE and the STS
// deadline can still be added to it) and the proxy from the environment.
func TestNewAWSConfigHTTPClient(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	cfg, err := NewAWSConfig(context.Background(), AWSOptions{Region: "eu-west-1", MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		t.Fatalf("HTTPClient is %T, want *awshttp.BuildableClient", cfg.HTTPClient)
	}
	tr := bc.GetTransport()
	if tr.MaxIdleConnsPerHost != maxIdleConnsPerHost || tr.Proxy == nil {
		t.Errorf("transport: MaxIdleConnsPerHost %d (want %d), Proxy set %v", tr.MaxIdleConnsPerHost, maxIdleConnsPerHost, tr.Proxy != nil)
	}
	if cfg.Retryer().MaxAttempts() != 4 {
		t.Errorf("retryer: %d attempts, want 4", cfg.Retryer().MaxAttempts())
	}
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	if _, err := NewAWSConfig(context.Background(), AWSOptions{}); err == nil || !strings.HasPrefix(err.Error(), "region: ") {
		t.Errorf("no region: %v", err)
	}
}

// The middleware the input removes sends only client metrics: a GetObject
// without it is still signed and still read.
func TestS3RequestsWithoutUnneededMiddleware(t *testing.T) {
	endpoint, client := s3test.Fake(t, s3test.TestBucket)
	files := corpus.LogFiles(corpus.Options{Seed: 3, Events: 40, OpsWorksShare: 0.5, EventsPerFile: 40})
	if _, err := s3test.UploadFiles(context.Background(), client, s3test.TestBucket, files, true); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var headers []http.Header
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		headers = append(headers, r.Header.Clone())
		mu.Unlock()
		up, _ := http.NewRequest(r.Method, endpoint+r.URL.RequestURI(), r.Body)
		up.Header = r.Header
		resp, err := http.DefaultTransport.RoundTrip(up)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		w.Write(b.Bytes())
	}))
	defer proxy.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.FakeAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.FakeSecretKey)
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	api, err := NewS3Client(context.Background(), S3ClientOptions{Region: "us-east-1", Endpoint: proxy.URL, ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := NewObjectReader(ReadOptions{}).Get(context.Background(), api, s3test.TestBucket, files[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := s3test.CountEvents(files[0].Body)
	if err != nil || res.Total != want {
		t.Errorf("read %d events, want %d (%v)", res.Total, want, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(headers) != 1 {
		t.Fatalf("%d requests, want 1", len(headers))
	}
	h := headers[0]
	if !strings.HasPrefix(h.Get("Authorization"), "AWS4-HMAC-SHA256 ") || h.Get("X-Amz-Date") == "" {
		t.Errorf("request not signed: %v", h)
	}
	if v := h.Get("Amz-Sdk-Invocation-Id"); v != "" {
		t.Errorf("Amz-Sdk-Invocation-Id: %q sent, want none", v)
	}
}

// A released result's buffer serves the next read: the first result's
// events are gone (not silently overwritten under the caller), the second
// result is whole.
func TestResultRelease(t *testing.T) {
	r := NewObjectReader(ReadOptions{})
	files := corpus.LogFiles(corpus.Options{Seed: 5, Events: 60, EventsPerFile: 30, Accounts: []string{"111122223333"}, Regions: []string{"us-east-1"}})
	first, err := r.Decode(bytes.NewReader(files[0].Body), int64(len(files[0].Body)))
	if err != nil {
		t.Fatal(err)
	}
	first.Release()
	first.Release() // twice: nothing
	if first.Events != nil {
		t.Error("Events still set after Release")
	}
	for range 3 {
		second, err := r.Decode(bytes.NewReader(files[1].Body), int64(len(files[1].Body)))
		if err != nil {
			t.Fatal(err)
		}
		raw := files[1].Body
		for i, ev := range second.Events {
			if !bytes.Contains(raw, ev) || ev[0] != '{' || ev[len(ev)-1] != '}' {
				t.Fatalf("event %d is not one of the file's: %.60s", i, ev)
			}
		}
		if second.Total != second.Kept || second.Total == 0 {
			t.Fatalf("second read: %d of %d kept", second.Kept, second.Total)
		}
		second.Release()
	}
}
