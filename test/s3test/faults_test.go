package s3test_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

const (
	bucket = "example-trail-bucket"
	// key has characters the SDK percent-encodes in the path, to check the
	// proxy matches rules on the decoded key.
	key  = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/05/31/odd key+%=.json"
	body = `{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks"},{"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances"}]}`
)

// fakeBehindProxy is gofakes3 (in-process, no signature checks) holding
// one object, behind a fault proxy.
func fakeBehindProxy(t *testing.T, rules ...s3test.Rule) *s3test.FaultProxy {
	t.Helper()
	backend := s3mem.New()
	server := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(server.Close)
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	if _, err := backend.PutObject(bucket, key, map[string]string{}, bytes.NewReader([]byte(body)), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
	return s3test.NewFaultProxy(t, server.URL, rules...)
}

// client is a fresh client (its own connections, see FaultProxy on
// keep-alive replays) making at most attempts attempts per call.
func client(p *s3test.FaultProxy, attempts int) *s3.Client {
	return s3test.NewClient(p.URL, "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", s3test.FastRetries(attempts))
}

func get(c *s3.Client) ([]byte, error) {
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// TestFaultsSurfaceAsS3Errors: with retries off, each fault reaches the
// caller as the SDK error S3 would cause, and archive classifies it.
func TestFaultsSurfaceAsS3Errors(t *testing.T) {
	cases := []struct {
		fault     s3test.Fault
		code      string // smithy API error code; "" for transport errors
		status    int
		retryable bool
	}{
		{s3test.SlowDown, "SlowDown", 503, true},
		{s3test.InternalError, "InternalError", 500, true},
		{s3test.AccessDenied, "AccessDenied", 403, false},
		{s3test.InvalidObjectState, "InvalidObjectState", 403, false},
		{s3test.ConnectionResetBeforeResponse, "", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.fault.String(), func(t *testing.T) {
			p := fakeBehindProxy(t, s3test.Rule{Method: "GET", KeyRegexp: "odd key", Fault: tc.fault})
			_, err := get(client(p, 1))
			if err == nil {
				t.Fatal("GetObject succeeded through the fault")
			}
			checkError(t, err, tc.code, tc.status)
			if got := cloudtrail.Retryable(err); got != tc.retryable {
				t.Errorf("cloudtrail.Retryable = %v, want %v (err: %v)", got, tc.retryable, err)
			}
			if n := p.Injected("GET", key); n != 1 {
				t.Errorf("faults injected for the key = %d, want 1", n)
			}
		})
	}
}

func checkError(t *testing.T, err error, code string, status int) {
	t.Helper()
	if code == "" {
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("err = %v, want a connection reset", err)
		}
		return
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code {
		t.Errorf("err = %v, want API error code %s", err, code)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) || respErr.HTTPStatusCode() != status {
		t.Errorf("err = %v, want HTTP status %d", err, status)
	}
}

// TestSDKRetriesTransientFaults: throttling, 5xx and resets are retried by
// the SDK's standard retryer and the call succeeds once the fault is spent;
// denied and archived objects are not retried.
func TestSDKRetriesTransientFaults(t *testing.T) {
	cases := []struct {
		name     string
		fault    s3test.Fault
		times    int
		requests int // GETs of the key, including the failed ones
		ok       bool
	}{
		{"SlowDown twice", s3test.SlowDown, 2, 3, true},
		{"InternalError twice", s3test.InternalError, 2, 3, true},
		{"reset twice", s3test.ConnectionResetBeforeResponse, 2, 3, true},
		{"SlowDown always", s3test.SlowDown, 0, 3, false}, // gives up after 3 attempts
		{"AccessDenied", s3test.AccessDenied, 0, 1, false},
		{"InvalidObjectState", s3test.InvalidObjectState, 0, 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fakeBehindProxy(t, s3test.Rule{Method: "GET", KeyRegexp: "^AWSLogs/", Times: tc.times, Fault: tc.fault})
			got, err := get(client(p, 3))
			if ok := err == nil; ok != tc.ok {
				t.Fatalf("err = %v, want success %v", err, tc.ok)
			}
			if tc.ok && string(got) != body {
				t.Errorf("body = %q, want the object", got)
			}
			if n := p.Count("GET", key); n != tc.requests {
				t.Errorf("GET requests = %d, want %d", n, tc.requests)
			}
		})
	}
}

// TestResetMidBody: the SDK returns the response (headers arrived), the
// body read fails, nothing is retried; archive's reader reports a
// retryable transport error.
func TestResetMidBody(t *testing.T) {
	p := fakeBehindProxy(t, s3test.Rule{KeyRegexp: "odd key", Times: 2, Fault: s3test.ResetMidBody})
	got, err := get(client(p, 3))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read %d bytes, err = %v; want io.ErrUnexpectedEOF", len(got), err)
	}
	if len(got) != len(body)/2 {
		t.Errorf("read %d bytes before the cut, want %d", len(got), len(body)/2)
	}
	_, err = cloudtrail.NewObjectReader(cloudtrail.ReadOptions{}).Get(context.Background(), client(p, 3), bucket, key)
	var oe *cloudtrail.ObjectError
	if !errors.As(err, &oe) || oe.Reason != cloudtrail.ReasonTransport || !cloudtrail.Retryable(err) {
		t.Fatalf("ObjectReader.Get err = %v, want a retryable %q", err, cloudtrail.ReasonTransport)
	}
	if n := p.Count("GET", key); n != 2 {
		t.Errorf("GET requests = %d, want 2 (a body cut is not retried by the SDK)", n)
	}
	res, err := cloudtrail.NewObjectReader(cloudtrail.ReadOptions{}).Get(context.Background(), client(p, 1), bucket, key)
	if err != nil || res.Total != 2 {
		t.Fatalf("after the rule is spent: %v, %+v", err, res)
	}
}

// TestRuleMatching: method, key pattern and Times select requests; bucket
// requests have the empty key; requests are recorded with their fault.
func TestRuleMatching(t *testing.T) {
	p := fakeBehindProxy(t,
		s3test.Rule{Method: "PUT", Fault: s3test.AccessDenied},
		s3test.Rule{KeyRegexp: "^$", Times: 1, Fault: s3test.SlowDown},
	)
	c := client(p, 3)
	ctx := context.Background()
	if _, err := get(c); err != nil {
		t.Fatalf("GET matched no rule but failed: %v", err)
	}
	if err := s3test.PutObject(ctx, c, bucket, "other.json", []byte("{}")); err == nil {
		t.Fatal("PUT should be denied")
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("list after one SlowDown: %v, %v", out, err)
	}
	if n, f := p.Count("GET", ""), p.Injected("GET", ""); n != 2 || f != 1 {
		t.Errorf("bucket GETs = %d with %d faulted, want 2 with 1", n, f)
	}
	reqs := p.Requests()
	if len(reqs) != 4 || reqs[1].Fault != s3test.AccessDenied || reqs[1].Bucket != bucket || reqs[1].Key != "other.json" {
		t.Errorf("requests = %+v", reqs)
	}
	p.ClearRules()
	if err := s3test.PutObject(ctx, c, bucket, "other.json", []byte("{}")); err != nil {
		t.Errorf("PUT after ClearRules: %v", err)
	}
}
