package input

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// fakeSQS is an in-memory queue for the error paths that a real server
// does not produce on demand; the behaviour itself is tested against
// local-aws-sqs in sqs_test.go.
type fakeSQS struct {
	mu         sync.Mutex
	bodies     []string // delivered once each, in order
	attrsErr   error
	receiveErr error
	redrive    bool
	deleteFail map[string]bool // receipt handles whose deletion fails
	deleted    []string
	receives   int
}

func (f *fakeSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	if f.attrsErr != nil {
		return nil, f.attrsErr
	}
	attrs := map[string]string{"ApproximateNumberOfMessages": "0"}
	if f.redrive {
		attrs["RedrivePolicy"] = `{"maxReceiveCount":"3"}`
	}
	return &sqs.GetQueueAttributesOutput{Attributes: attrs}, nil
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	f.mu.Lock()
	f.receives++
	if f.receiveErr != nil {
		f.mu.Unlock()
		return nil, f.receiveErr
	}
	n := min(int(in.MaxNumberOfMessages), len(f.bodies))
	var out []types.Message
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("m%d", f.receives*100+i)
		out = append(out, types.Message{MessageId: aws.String(id), ReceiptHandle: aws.String("rh-" + id), Body: aws.String(f.bodies[i])})
	}
	f.bodies = f.bodies[n:]
	f.mu.Unlock()
	if len(out) == 0 {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &sqs.ReceiveMessageOutput{Messages: out}, nil
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		if f.deleteFail[*e.ReceiptHandle] {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"), Message: aws.String("expired")})
			continue
		}
		f.deleted = append(f.deleted, *e.ReceiptHandle)
		out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(context.Context, *sqs.ChangeMessageVisibilityBatchInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	return &sqs.ChangeMessageVisibilityBatchOutput{}, nil
}

const fakeQueueURL = "https://sqs.us-east-1.amazonaws.com/111122223333/cloudtrail-objects"

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(level int, format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf("[%d] ", level)+fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

func apiError(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func TestSQSStartupCheck(t *testing.T) {
	tests := []struct {
		name string
		fake *fakeSQS
		want string // "" : start succeeds
		warn string
	}{
		{"denied", &fakeSQS{attrsErr: apiError("AccessDenied")}, "missing permission sqs:GetQueueAttributes on arn:aws:sqs:us-east-1:111122223333:cloudtrail-objects", ""},
		{"denied (json protocol)", &fakeSQS{attrsErr: apiError("AccessDeniedException")}, "missing permission sqs:GetQueueAttributes", ""},
		{"no such queue", &fakeSQS{attrsErr: apiError("AWS.SimpleQueueService.NonExistentQueue")}, "queue " + fakeQueueURL + " does not exist", ""},
		{"no redrive policy", &fakeSQS{}, "", "has no redrive policy"},
		{"with a redrive policy", &fakeSQS{redrive: true}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log logLines
			e := testEngine(t, config.MapGetter{"queue_url": fakeQueueURL, "progress_interval": "0"}, Deps{S3: s3test.NewFakeBucket(t).Client, SQS: tt.fake, Logf: log.logf})
			err := e.Start(context.Background())
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Start: %v, want %q", err, tt.want)
			}
			if tt.warn != "" && !log.has(tt.warn) || tt.warn == "" && log.has("redrive policy") {
				t.Errorf("log %v: want a warning %q", log.lines, tt.warn)
			}
		})
	}
}

// A denied receive is logged as an error naming the reason, then retried
// with backoff (the rest rate-limited), never given up.
func TestSQSReceiveDeniedIsRetried(t *testing.T) {
	var log logLines
	fake := &fakeSQS{receiveErr: apiError("AccessDenied")}
	e := testEngine(t, config.MapGetter{"queue_url": fakeQueueURL, "progress_interval": "0"}, Deps{S3: s3test.NewFakeBucket(t).Client, SQS: fake, Logf: log.logf})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fake.mu.Lock()
		n := fake.receives
		fake.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d receives in 5 s", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !log.has("[1] receiving from " + fakeQueueURL + " failed (access denied)") {
		t.Errorf("no error line: %v", log.lines)
	}
	if e.Stats().Failures["sqs receive: access denied"] < 3 {
		t.Errorf("failures %v", e.Stats().Failures)
	}
}

// A message whose deletion fails is counted and warned about (it will come
// back); the others of the batch are deleted.
func TestSQSDeleteFailureIsCounted(t *testing.T) {
	var log logLines
	fx := newTrailFixture(81)
	s3f := s3test.NewFakeBucket(t)
	fx.putS3(t, s3f)
	fake := &fakeSQS{redrive: true, bodies: []string{
		`{"Service":"Amazon S3","Event":"s3:TestEvent"}`,
		`{"s3Bucket":"` + s3test.TestBucket + `","s3ObjectKey":["` + fx.files[0].Key + `"]}`,
	}, deleteFail: map[string]bool{"rh-m100": true}}
	e := testEngine(t, config.MapGetter{"queue_url": fakeQueueURL, "progress_interval": "0"}, Deps{S3: s3f.Client, SQS: fake, Logf: log.logf})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := e.Stats().SQS; st.MessagesDeleted+st.DeleteFailures < 2; st = e.Stats().SQS {
		if b := e.Collect(0); b != nil {
			e.Commit(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", *st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := e.Stats().SQS
	if st.DeleteFailures != 1 || st.MessagesDeleted != 1 || st.TestEvents != 1 || !log.has("deleting SQS message m100 failed (ReceiptHandleIsInvalid: expired)") {
		t.Errorf("stats %+v, log %v", *st, log.lines)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.deleted) != 1 || fake.deleted[0] != "rh-m101" {
		t.Errorf("deleted %v, want rh-m101", fake.deleted)
	}
}

func TestSQSErrorReason(t *testing.T) {
	tests := []struct {
		err  error
		want cloudtrail.Reason
	}{
		{apiError("AWS.SimpleQueueService.NonExistentQueue"), cloudtrail.ReasonNotFound},
		{apiError("QueueDoesNotExist"), cloudtrail.ReasonNotFound},
		{apiError("AccessDeniedException"), cloudtrail.ReasonAccessDenied},
		{apiError("ThrottlingException"), cloudtrail.ReasonThrottled},
		{apiError("RequestThrottled"), cloudtrail.ReasonThrottled},
		{errors.New("something else"), cloudtrail.ReasonOther},
	}
	for _, tt := range tests {
		if got := cloudtrail.SQSErrorReason(tt.err); got != tt.want {
			t.Errorf("%v: %s, want %s", tt.err, got, tt.want)
		}
	}
}

// Notified keys are selected by the listers' own filter.
func TestSQSNotSelected(t *testing.T) {
	e := testEngine(t, config.MapGetter{"queue_url": fakeQueueURL, "accounts": "111122223333", "regions": "us-east-1",
		"start_time": "2024-03-01", "end_time": "2024-04-01"}, Deps{S3: s3test.NewFakeBucket(t).Client, SQS: &fakeSQS{}})
	key := func(account, region, stamp string) cloudtrail.Key {
		k, ok := cloudtrail.ParseKey("AWSLogs/" + account + "/CloudTrail/" + region + "/" + stamp[:4] + "/" + stamp[4:6] + "/" + stamp[6:8] + "/" +
			account + "_CloudTrail_" + region + "_" + stamp + "_abcdEFGH12345678.json.gz")
		if !ok {
			t.Fatalf("bad test key %s %s %s", account, region, stamp)
		}
		return k
	}
	tests := []struct {
		key  cloudtrail.Key
		want string
	}{
		{key("111122223333", "us-east-1", "20240305T1200Z"), ""},
		{key("444455556666", "us-east-1", "20240305T1200Z"), "outside"},
		{key("111122223333", "eu-west-1", "20240305T1200Z"), "outside"},
		{key("111122223333", "us-east-1", "20240229T2355Z"), "outside"},
		{key("111122223333", "us-east-1", "20240401T0000Z"), "outside"},
	}
	for _, tt := range tests {
		if got := e.src.(*sqsSource).notSelected(tt.key); tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.key.Path, got, tt.want)
		}
	}
	digest, _ := cloudtrail.ParseKey("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/03/05/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240305T120000Z.json.gz")
	if got := e.src.(*sqsSource).notSelected(digest); got != "a digest file" {
		t.Errorf("digest: %q", got)
	}
}
