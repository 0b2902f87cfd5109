package sqstest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// The tests share a server per test function and run in parallel, waiting
// parts included: the whole file takes about three seconds.

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recv is one ReceiveMessage asking for ApproximateReceiveCount the current
// way (MessageSystemAttributeNames). vis 0 means the queue's default.
func recv(t *testing.T, c *sqs.Client, url string, max, wait, vis int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctxT(t), &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(url),
		MaxNumberOfMessages:         max,
		WaitTimeSeconds:             wait,
		VisibilityTimeout:           vis,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

func receiveCount(t *testing.T, m types.Message) int {
	t.Helper()
	v, ok := m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]
	if !ok {
		t.Fatalf("message %s has no ApproximateReceiveCount (attributes %v)", aws.ToString(m.MessageId), m.Attributes)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("ApproximateReceiveCount is %q", v)
	}
	return n
}

func changeVisibility(t *testing.T, c *sqs.Client, url string, m types.Message, seconds int32) {
	t.Helper()
	if _, err := c.ChangeMessageVisibility(ctxT(t), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds,
	}); err != nil {
		t.Fatalf("ChangeMessageVisibility(%d): %v", seconds, err)
	}
}

func wantCounts(t *testing.T, c *sqs.Client, url string, visible, inFlight int) {
	t.Helper()
	v, f, err := Counts(ctxT(t), c, url)
	if err != nil {
		t.Fatal(err)
	}
	if v != visible || f != inFlight {
		t.Fatalf("Counts(%s) = %d visible, %d in flight; want %d, %d", url, v, f, visible, inFlight)
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	url := s.CreateQueue(t, "roundtrip", QueueOptions{})
	if want := s.Endpoint + "/" + AccountID + "/roundtrip"; url != want {
		t.Errorf("queue URL %s, want %s", url, want)
	}
	for _, tc := range []struct{ name, body string }{
		{"ascii", "hello"},
		{"s3 notification", `{"Records":[{"eventSource":"aws:s3","s3":{"bucket":{"name":"trail"},"object":{"key":"AWSLogs/1/CloudTrail/us-east-1/2024/05/31/x.json.gz","size":1234}}}]}`},
		{"multibyte UTF-8", "événement – 日本語 – 🚀"},
		{"XML-special characters", `<a href="x">&amp;</a> 'q'`},
		{"256 KiB", strings.Repeat("0123456789abcdef", 16<<10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent, err := c.SendMessage(ctxT(t), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(tc.body)})
			if err != nil { // includes the SDK's check of MD5OfMessageBody
				t.Fatalf("SendMessage: %v", err)
			}
			if got := aws.ToString(sent.MD5OfMessageBody); got != md5Hex(tc.body) {
				t.Errorf("MD5OfMessageBody %q, want %q", got, md5Hex(tc.body))
			}
			msgs := recv(t, c, url, 10, 0, 0) // the SDK checks MD5OfBody against Body
			if len(msgs) != 1 {
				t.Fatalf("received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if aws.ToString(m.Body) != tc.body {
				t.Errorf("body %.80q, want %.80q", aws.ToString(m.Body), tc.body)
			}
			// The SDK skips its check when MD5OfBody is absent: make sure it was there.
			if got := aws.ToString(m.MD5OfBody); got != md5Hex(tc.body) {
				t.Errorf("MD5OfBody %q, want %q", got, md5Hex(tc.body))
			}
			if aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) {
				t.Errorf("MessageId %s, sent %s", aws.ToString(m.MessageId), aws.ToString(sent.MessageId))
			}
			if n := receiveCount(t, m); n != 1 {
				t.Errorf("ApproximateReceiveCount %d, want 1", n)
			}
			wantCounts(t, c, url, 0, 1)
			if _, err := c.DeleteMessage(ctxT(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
			wantCounts(t, c, url, 0, 0)
		})
	}
}

func TestSendBodiesAndCounts(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	url := s.CreateQueue(t, "bodies", QueueOptions{VisibilityTimeout: 30 * time.Second})
	var bodies []string
	for i := range 25 {
		bodies = append(bodies, fmt.Sprintf("body-%02d", i))
	}
	if err := SendBodies(ctxT(t), c, url, bodies...); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, c, url, 25, 0)

	// local-aws-sqs hands messages out in the order they were sent.
	var got []string
	for len(got) < 25 {
		msgs := recv(t, c, url, 10, 0, 0)
		if len(msgs) == 0 {
			t.Fatalf("queue empty after %d of 25 messages", len(got))
		}
		for _, m := range msgs {
			got = append(got, aws.ToString(m.Body))
		}
		wantCounts(t, c, url, 25-len(got), len(got))
	}
	if strings.Join(got, ",") != strings.Join(bodies, ",") {
		t.Errorf("received %v, want %v", got, bodies)
	}

	// SendBodies reports the entries refused in a batch that was accepted.
	small, err := c.CreateQueue(ctxT(t), &sqs.CreateQueueInput{
		QueueName:  aws.String("bodies-small"),
		Attributes: map[string]string{"MaximumMessageSize": "1024"},
	})
	if err != nil {
		t.Fatal(err)
	}
	err = SendBodies(ctxT(t), c, *small.QueueUrl, "ok", strings.Repeat("x", 1025), "ok too")
	if err == nil || !strings.Contains(err.Error(), "1 of 3 refused") || !strings.Contains(err.Error(), "message 1:") {
		t.Errorf("SendBodies with an oversized body: error %v, want one naming message 1", err)
	}
	wantCounts(t, c, *small.QueueUrl, 2, 0)
}

// TestVisibility receives three messages with different visibility
// timeouts, extends one, and watches which come back when. Whole seconds
// are the unit of every visibility timeout in the API; in local-aws-sqs a
// timeout is a JavaScript timer and receives look for messages every
// 10 ms, so a message is back within about 10 ms of its timeout.
func TestVisibility(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	url := s.CreateQueue(t, "visibility", QueueOptions{VisibilityTimeout: time.Second})
	if err := SendBodies(ctxT(t), c, url, "queue default 1 s", "2 s", "2 s extended to 10 s"); err != nil {
		t.Fatal(err)
	}
	const never = time.Duration(-1)
	wantBack := map[string]time.Duration{
		"queue default 1 s":    time.Second,
		"2 s":                  2 * time.Second,
		"2 s extended to 10 s": never,
	}
	received := map[string]types.Message{}
	first := append(recv(t, c, url, 1, 0, 0), recv(t, c, url, 2, 0, 2)...)
	start := time.Now()
	for _, m := range first {
		received[aws.ToString(m.Body)] = m
	}
	if len(received) != 3 {
		t.Fatalf("first receives got %d distinct messages, want 3", len(received))
	}
	extended := received["2 s extended to 10 s"]
	changeVisibility(t, c, url, extended, 10)

	// Watch for 3 s, deleting what comes back so it comes back only once.
	back := map[string]time.Duration{}
	for deadline := start.Add(3 * time.Second); time.Until(deadline) > 0; {
		wait := int32(time.Until(deadline) / time.Second) // the last second in short polls
		for _, m := range recv(t, c, url, 10, wait, 0) {
			body := aws.ToString(m.Body)
			if _, dup := back[body]; dup {
				t.Errorf("%q came back twice", body)
			}
			back[body] = time.Since(start)
			if n := receiveCount(t, m); n != 2 {
				t.Errorf("%q came back with ApproximateReceiveCount %d, want 2", body, n)
			}
			if aws.ToString(m.ReceiptHandle) == aws.ToString(received[body].ReceiptHandle) {
				t.Errorf("%q came back with its first receipt handle", body)
			}
			if _, err := c.DeleteMessage(ctxT(t), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for body, want := range wantBack {
		got, ok := back[body]
		switch {
		case want == never && ok:
			t.Errorf("%q came back after %v, want not within 3 s", body, got)
		case want == never:
		case !ok:
			t.Errorf("%q did not come back within 3 s, want after %v", body, want)
		case got < want-100*time.Millisecond || got > want+time.Second:
			t.Errorf("%q came back after %v, want %v", body, got, want)
		default:
			t.Logf("%q came back after %v", body, got)
		}
	}
	wantCounts(t, c, url, 0, 1)

	// Setting its visibility to 0 brings the extended one back at once. The
	// extension was not a receive (local-aws-sqs counted it as one;
	// server.js fixes that).
	changeVisibility(t, c, url, extended, 0)
	now := time.Now()
	again := recv(t, c, url, 1, 5, 0)
	if len(again) != 1 {
		t.Fatalf("received %d messages after setting the visibility to 0, want 1", len(again))
	}
	if d := time.Since(now); d > time.Second {
		t.Errorf("back %v after setting its visibility to 0", d)
	}
	if n := receiveCount(t, again[0]); n != 2 {
		t.Errorf("ApproximateReceiveCount %d after 2 receives and 2 visibility changes, want 2", n)
	}
}

func TestLongPoll(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	for _, max := range []int32{1, 10} {
		t.Run(fmt.Sprintf("MaxNumberOfMessages %d returns when a message arrives", max), func(t *testing.T) {
			t.Parallel()
			url := s.CreateQueue(t, fmt.Sprintf("poll-%d", max), QueueOptions{})
			go func() {
				time.Sleep(300 * time.Millisecond)
				if err := SendBodies(context.Background(), c, url, "late"); err != nil {
					t.Error(err)
				}
			}()
			start := time.Now()
			msgs := recv(t, c, url, max, 10, 0)
			elapsed := time.Since(start)
			if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "late" {
				t.Fatalf("received %d messages, want the one sent after 300 ms", len(msgs))
			}
			// local-aws-sqs itself waited for MaxNumberOfMessages messages or
			// the whole wait; server.js makes it answer as SQS does.
			if elapsed > 2*time.Second {
				t.Errorf("a 10 s long poll returned %v after it started, want ~300 ms", elapsed)
			}
		})
	}
	t.Run("empty queue waits WaitTimeSeconds", func(t *testing.T) {
		t.Parallel()
		url := s.CreateQueue(t, "poll-empty", QueueOptions{})
		start := time.Now()
		if msgs := recv(t, c, url, 10, 1, 0); len(msgs) != 0 {
			t.Fatalf("received %d messages from an empty queue", len(msgs))
		}
		if d := time.Since(start); d < time.Second || d > 2*time.Second {
			t.Errorf("a 1 s long poll of an empty queue took %v", d)
		}
	})
	t.Run("short poll returns at once", func(t *testing.T) {
		t.Parallel()
		url := s.CreateQueue(t, "poll-short", QueueOptions{})
		if err := SendBodies(ctxT(t), c, url, "a", "b", "c"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		msgs := recv(t, c, url, 10, 0, 0)
		if len(msgs) != 3 {
			t.Errorf("a short poll got %d of 3 messages", len(msgs))
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("a short poll took %v", d)
		}
	})
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	t.Run("moved to the DLQ after maxReceiveCount receives", func(t *testing.T) {
		t.Parallel()
		url, dlq := s.CreateQueueWithDLQ(t, "redrive", QueueOptions{MaxReceiveCount: 2})
		if want := s.Endpoint + "/" + AccountID + "/redrive-dlq"; dlq != want {
			t.Errorf("DLQ URL %s, want %s", dlq, want)
		}
		if err := SendBodies(ctxT(t), c, url, "poison"); err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 2; i++ {
			msgs := recv(t, c, url, 10, 5, 1)
			if len(msgs) != 1 {
				t.Fatalf("receive %d: got %d messages, want 1", i, len(msgs))
			}
			if n := receiveCount(t, msgs[0]); n != i {
				t.Errorf("receive %d: ApproximateReceiveCount %d", i, n)
			}
			if i == 1 { // a consumer giving up on it: back at once, not in 1 s
				changeVisibility(t, c, url, msgs[0], 0)
			}
		}
		wantCounts(t, c, url, 0, 1)
		// local-aws-sqs moves the message when its last visibility timeout
		// expires, without waiting for another receive as SQS does.
		time.Sleep(1200 * time.Millisecond)
		wantCounts(t, c, url, 0, 0)
		wantCounts(t, c, dlq, 1, 0)
		if msgs := recv(t, c, url, 10, 0, 0); len(msgs) != 0 {
			t.Fatalf("received %q from the source queue after maxReceiveCount receives", aws.ToString(msgs[0].Body))
		}
		out, err := c.ReceiveMessage(ctxT(t), &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(dlq),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("receiving from the DLQ: %d messages, %v", len(out.Messages), err)
		}
		m := out.Messages[0]
		if aws.ToString(m.Body) != "poison" {
			t.Errorf("DLQ message body %q", aws.ToString(m.Body))
		}
		t.Logf("in the DLQ: ApproximateReceiveCount %s, DeadLetterQueueSourceArn %q",
			m.Attributes["ApproximateReceiveCount"], m.Attributes["DeadLetterQueueSourceArn"])
	})
	t.Run("visibility changes do not count as receives", func(t *testing.T) {
		t.Parallel()
		url, dlq := s.CreateQueueWithDLQ(t, "redrive-extend", QueueOptions{MaxReceiveCount: 2})
		if err := SendBodies(ctxT(t), c, url, "slow"); err != nil {
			t.Fatal(err)
		}
		msgs := recv(t, c, url, 1, 0, 1)
		if len(msgs) != 1 {
			t.Fatalf("received %d messages, want 1", len(msgs))
		}
		// Extended twice, then given up: local-aws-sqs counted 3 receives
		// and moved it to the DLQ when the visibility expired.
		changeVisibility(t, c, url, msgs[0], 5)
		changeVisibility(t, c, url, msgs[0], 5)
		changeVisibility(t, c, url, msgs[0], 0)
		again := recv(t, c, url, 1, 5, 0)
		if len(again) != 1 {
			t.Fatalf("after one receive and three visibility changes the message is gone (in the DLQ?): got %d messages", len(again))
		}
		if n := receiveCount(t, again[0]); n != 2 {
			t.Errorf("ApproximateReceiveCount %d, want 2", n)
		}
		wantCounts(t, c, dlq, 0, 0)
	})
	t.Run("redrive policy attribute", func(t *testing.T) {
		t.Parallel()
		url, _ := s.CreateQueueWithDLQ(t, "redrive-attr", QueueOptions{MaxReceiveCount: 5, VisibilityTimeout: 7 * time.Second})
		out, err := c.GetQueueAttributes(ctxT(t), &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(url),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		var p struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &p); err != nil {
			t.Fatalf("RedrivePolicy %q: %v", out.Attributes["RedrivePolicy"], err)
		}
		if want := "arn:aws:sqs:" + Region + ":" + AccountID + ":redrive-attr-dlq"; p.DeadLetterTargetArn != want || p.MaxReceiveCount != 5 {
			t.Errorf("RedrivePolicy %+v, want %s and 5", p, want)
		}
		if v := out.Attributes["VisibilityTimeout"]; v != "7" {
			t.Errorf("VisibilityTimeout %q, want 7", v)
		}
	})
}

// TestLimits pins the limits local-aws-sqs enforces, those that are SQS's
// and those that differ (see the package documentation).
func TestLimits(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := s.Client(t)
	url := s.CreateQueue(t, "limits", QueueOptions{})
	entries := func(n int, body string) []types.SendMessageBatchRequestEntry {
		var e []types.SendMessageBatchRequestEntry
		for i := range n {
			e = append(e, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(body)})
		}
		return e
	}
	for _, tc := range []struct {
		name     string
		call     func() error
		wantCode string // "" for success
	}{
		{"1 MiB message", func() error {
			_, err := c.SendMessage(ctxT(t), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("x", 1<<20))})
			return err
		}, ""},
		{"1 MiB + 1 byte message", func() error {
			_, err := c.SendMessage(ctxT(t), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("x", 1<<20+1))})
			return err
		}, "InvalidParameterValue"},
		// Sizes are counted in UTF-16 code units, not bytes: 1.2 MB of
		// UTF-8 passes (SQS refuses it).
		{"1.2 MB of 2-byte characters (divergence)", func() error {
			_, err := c.SendMessage(ctxT(t), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("é", 600_000))})
			return err
		}, ""},
		// Characters SQS refuses (InvalidMessageContents) pass.
		{"control character (divergence)", func() error {
			_, err := c.SendMessage(ctxT(t), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("a\x01b")})
			return err
		}, ""},
		{"batch of 11", func() error {
			_, err := c.SendMessageBatch(ctxT(t), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries(11, "b")})
			return err
		}, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
		{"batch over 1 MiB", func() error {
			_, err := c.SendMessageBatch(ctxT(t), &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries(10, strings.Repeat("b", 200_000))})
			return err
		}, "AWS.SimpleQueueService.BatchRequestTooLong"},
		{"MaxNumberOfMessages 11", func() error {
			_, err := c.ReceiveMessage(ctxT(t), &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"WaitTimeSeconds 21", func() error {
			_, err := c.ReceiveMessage(ctxT(t), &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 21})
			return err
		}, "InvalidParameterValue"},
		{"unknown queue", func() error {
			_, err := c.SendMessage(ctxT(t), &sqs.SendMessageInput{QueueUrl: aws.String(s.Endpoint + "/" + AccountID + "/nope"), MessageBody: aws.String("x")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			switch {
			case tc.wantCode == "" && err != nil:
				t.Errorf("error %v, want success", err)
			case tc.wantCode != "" && !errors.As(err, &ae):
				t.Errorf("error %v, want API error %s", err, tc.wantCode)
			case tc.wantCode != "" && ae.ErrorCode() != tc.wantCode:
				t.Errorf("error code %s (%v), want %s", ae.ErrorCode(), err, tc.wantCode)
			}
		})
	}
}

func TestProcessLifetime(t *testing.T) {
	t.Parallel()
	ensureOrSkip(t)
	alive := func(s *Server) bool {
		resp, err := http.Get(s.Endpoint)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}
	t.Run("exits when its stdin closes", func(t *testing.T) {
		s, stop, err := StartProcess(t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		if !alive(s) {
			t.Fatal("server not answering after READY")
		}
		s.stdin.Close() // what happens when the Go process dies
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
			t.Fatal("server.js still running 5 s after its stdin closed")
		}
	})
	t.Run("stop kills it, twice is fine", func(t *testing.T) {
		s, stop, err := StartProcess(t.Logf)
		if err != nil {
			t.Fatal(err)
		}
		stop()
		stop()
		if alive(s) {
			t.Fatal("server still answering after stop")
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close after stop: %v", err)
		}
	})
}

// TestEnsureLocalSQSFreshInstall installs into an empty cache (npm's own
// cache makes that a second or two) and checks that a stale server.js is
// replaced.
func TestEnsureLocalSQSFreshInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("runs npm install; not with -short")
	}
	ensureOrSkip(t)
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	dir, err := ensureLocalSQS(t.Logf) // not EnsureLocalSQS: its sync.Once has run
	if err != nil {
		if os.Getenv(RequireSQSEnv) != "" {
			t.Fatal(err)
		}
		t.Skipf("a fresh install failed (offline?), skipping (set %s to make this a failure): %v", RequireSQSEnv, err)
	}
	if want := filepath.Join(cache, "opsworks-trail", "local-aws-sqs-"+LocalSQSVersion); dir != want {
		t.Errorf("installed into %s, want %s", dir, want)
	}
	if !installed(dir) || !serverCurrent(dir) {
		t.Fatalf("%s lacks local-aws-sqs %s or the current server.js", dir, LocalSQSVersion)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cache, "opsworks-trail", "*.tmp-*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary directories left: %v", leftovers)
	}
	if err := os.WriteFile(filepath.Join(dir, "server.js"), []byte("// stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ensureLocalSQS(t.Logf); err != nil {
		t.Fatal(err)
	}
	if !serverCurrent(dir) {
		t.Error("a stale server.js was not replaced")
	}
}
