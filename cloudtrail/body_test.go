package cloudtrail

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// A log file with two OpsWorks events, gzip-compressed, in the fake bucket
// behind a fault proxy.
func stallFixture(t *testing.T, rules ...s3test.Rule) (*s3test.FaultProxy, string) {
	t.Helper()
	endpoint, client := s3test.Fake(t, s3test.TestBucket)
	key := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T1200Z_aaaaaaaaaaaaaaaa.json.gz"
	body := `{"Records":[{"eventSource":"opsworks.amazonaws.com","eventID":"1"},{"eventSource":"opsworks.amazonaws.com","eventID":"2"}]}`
	if err := s3test.PutObject(context.Background(), client, s3test.TestBucket, key, s3test.MustGzip(t, []byte(strings.Repeat(" ", 4000)+body))); err != nil {
		t.Fatal(err)
	}
	return s3test.NewFaultProxy(t, endpoint, rules...), key
}

// Read with no retries of the SDK's own, so that each case shows one attempt.
func getOnce(t *testing.T, proxy *s3test.FaultProxy, key string, o ReadOptions) (*Result, error) {
	client := s3test.UnitClient(proxy.URL)
	return NewObjectReader(o).Get(context.Background(), client, s3test.TestBucket, key)
}

func TestStallTimeout(t *testing.T) {
	proxy, key := stallFixture(t, s3test.Rule{Method: "GET", KeyRegexp: "CloudTrail_", Times: 1, Fault: s3test.StallMidBody})
	_, err := getOnce(t, proxy, key, ReadOptions{StallTimeout: 200 * time.Millisecond})
	var oe *ObjectError
	if !errors.As(err, &oe) || oe.Reason != ReasonTimeout || !errors.Is(err, ErrStalled) || !oe.Reason.Retryable() {
		t.Fatalf("stalled body: %v, want a retryable %q error wrapping ErrStalled", err, ReasonTimeout)
	}
	if !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "stall_timeout") {
		t.Errorf("the error should name the object and the option: %v", err)
	}
	// The rule is spent: the next read gets the whole body (a generous
	// stall_timeout, so that a loaded machine cannot fake a stall).
	res, err := getOnce(t, proxy, key, ReadOptions{StallTimeout: 10 * time.Second})
	if err != nil || len(res.Events) != 2 {
		t.Fatalf("second read: %v, %v", res, err)
	}
}

func TestAPITimeoutOnGetObject(t *testing.T) {
	proxy, key := stallFixture(t, s3test.Rule{Method: "GET", KeyRegexp: "CloudTrail_", Times: 1, Fault: s3test.NoResponse})
	_, err := getOnce(t, proxy, key, ReadOptions{APITimeout: 200 * time.Millisecond, StallTimeout: time.Minute})
	var oe *ObjectError
	if !errors.As(err, &oe) || oe.Reason != ReasonTimeout || !strings.Contains(err.Error(), "api_timeout") {
		t.Fatalf("a GetObject without an answer: %v, want %q naming api_timeout", err, ReasonTimeout)
	}
}

// A slow body that keeps delivering is never cut, even when the whole
// read takes far longer than stall_timeout.
func TestSlowBodyIsNotAStall(t *testing.T) {
	data := strings.Repeat("x", 40) // 40 × 30 ms: longer than the 1 s window, never 1 s without a byte
	g := guardStall(&tricklingReader{data: data, every: 30 * time.Millisecond}, time.Second, func() {
		t.Error("aborted a body that kept delivering")
	})
	defer g.stop()
	got, err := io.ReadAll(g)
	if err != nil || string(got) != data {
		t.Fatalf("read %q, %v", got, err)
	}
}

// tricklingReader delivers one byte per every.
type tricklingReader struct {
	data  string
	every time.Duration
}

func (r *tricklingReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.EOF
	}
	time.Sleep(r.every)
	p[0], r.data = r.data[0], r.data[1:]
	return 1, nil
}

// WithS3Deadline: a listing that gets no answer fails as a retryable
// timeout instead of hanging.
func TestS3DeadlineOnListing(t *testing.T) {
	proxy, _ := stallFixture(t, s3test.Rule{Method: "GET", KeyRegexp: "^$", Times: 1, Fault: s3test.NoResponse})
	client := WithS3Deadline(s3test.UnitClient(proxy.URL), 200*time.Millisecond)
	l, err := NewS3Lister(client, s3test.TestBucket, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = l.List(context.Background(), func(Object) error { return nil })
	if err == nil || Classify(err) != ReasonTimeout || !Retryable(err) {
		t.Fatalf("listing with no answer: %v (%s), want a retryable %q", err, Classify(err), ReasonTimeout)
	}
}
