package input_test

// Integration tests of SQS notification mode against real servers on
// loopback: local-aws-sqs (test/sqstest installs it with npm on first use)
// and MinIO.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
)

type sqsEnv struct {
	*minioEnv
	sqs    *sqstest.Server
	queues *sqs.Client
}

func startSQS(t *testing.T) *sqsEnv {
	t.Helper()
	srv := sqstest.Start(t)
	return &sqsEnv{minioEnv: startMinIO(t), sqs: srv, queues: srv.Client(t)}
}

// consumer starts an engine in SQS mode on queueURL.
func (env *sqsEnv) consumer(t *testing.T, queueURL string, props map[string]string, s3api cloudtrail.S3API) *input.Engine {
	t.Helper()
	g := config.MapGetter{"queue_url": queueURL, "region": "us-east-1", "progress_interval": "0", "wait_time": "1s",
		"visibility_timeout": "30s", "max_retries": "1"}
	for k, v := range props {
		g[k] = v
	}
	cfg, err := input.LoadConfig(g)
	if err != nil {
		t.Fatal(err)
	}
	if s3api == nil {
		s3api = env.client(2)
	}
	eng, err := input.NewEngine(cfg, input.Deps{S3: s3api, SQS: env.queues, Logf: func(level int, format string, args ...any) {
		if level <= input.LogWarn || os.Getenv("SQS_TEST_DEBUG") != "" {
			t.Logf("engine: "+format, args...)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Stop() })
	return eng
}

// collectUntil collects and commits from eng until done() holds.
func collectUntil(t *testing.T, eng *input.Engine, timeout time.Duration, done func([]map[string]any) bool) []map[string]any {
	t.Helper()
	var out []map[string]any
	deadline := time.Now().Add(timeout)
	for !done(out) {
		if time.Now().After(deadline) {
			t.Fatalf("not done after %s: %d records; %+v", timeout, len(out), eng.Stats())
		}
		b := eng.Collect(0)
		if b == nil {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		out = append(out, decodeAll(t, b.Records)...)
		eng.Commit(b)
	}
	return out
}

// queueEmpty waits until the queue has no message, visible or in flight.
func (env *sqsEnv) queueEmpty(t *testing.T, queueURL string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		visible, inFlight, err := sqstest.Counts(context.Background(), env.queues, queueURL)
		if err != nil {
			t.Fatal(err)
		}
		if visible == 0 && inFlight == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue still has %d visible and %d in-flight messages after %s", visible, inFlight, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func s3Notification(bucketName, key string) string {
	return fmt.Sprintf(`{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":%q},"object":{"key":%q}}}]}`,
		bucketName, cloudtrail.EncodeNotificationKey(key))
}

func snsEnvelope(inner string) string {
	b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:t", "Message": inner})
	return string(b)
}

// Every notification shape, a URL-encoded key, a test event, a digest,
// an ObjectRemoved event and garbage: every announced log file's OpsWorks
// events arrive once with their bucket and key; only the garbage message
// stays in the queue, for its redrive policy.
func TestSQSNotificationShapes(t *testing.T) {
	env := startSQS(t)
	files := corpus.LogFiles(corpus.Options{Seed: 41, Events: 300, OpsWorksShare: 0.5, EventsPerFile: 30})
	if len(files) < 6 {
		t.Fatalf("corpus too small: %d files", len(files))
	}
	// One file under a prefix that needs URL encoding in S3 notifications.
	files[0].Key = "audit logs+2024 (copy)/" + files[0].Key
	env.srv.UploadArchive(t, bucket, files, true)
	queue := env.sqs.CreateQueue(t, "shapes", sqstest.QueueOptions{})
	key := func(i int) string { return files[i].Key }
	ctBody, _ := json.Marshal(map[string]any{"s3Bucket": bucket, "s3ObjectKey": []string{key(3), key(4)}})
	ebBody, _ := json.Marshal(map[string]any{"version": "0", "source": "aws.s3", "detail-type": "Object Created",
		"detail": map[string]any{"bucket": map[string]string{"name": bucket}, "object": map[string]any{"key": key(5), "size": 1}}})
	digest := "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2023/03/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20230301T010000Z.json.gz"
	bodies := []string{
		s3Notification(bucket, key(0)),
		snsEnvelope(s3Notification(bucket, key(1))),
		snsEnvelope(string(ctBody)),
		s3Notification(bucket, key(2)),
		string(ebBody),
		`{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-03-05T11:59:00.000Z","Bucket":"trail","RequestId":"1","HostId":"2"}`,
		s3Notification(bucket, digest),
		strings.Replace(s3Notification(bucket, key(0)), "ObjectCreated:Put", "ObjectRemoved:Delete", 1),
		"this is not a notification",
	}
	if err := sqstest.SendBodies(context.Background(), env.queues, queue, bodies...); err != nil {
		t.Fatal(err)
	}
	eng := env.consumer(t, queue, nil, nil)
	want := expected(t, files, func(f corpus.File) bool {
		for i := 0; i < 6; i++ {
			if f.Key == key(i) {
				return true
			}
		}
		return false
	})
	recs := collectUntil(t, eng, 30*time.Second, func(r []map[string]any) bool { return len(r) >= len(want) })
	exactlyOnce(t, want, recs)
	if !hasKey(recs, key(0)) {
		t.Errorf("no record names the URL-encoded key %q", key(0))
	}
	waitFor(t, 10*time.Second, func() bool {
		st := eng.Stats().SQS
		return st.MessagesDeleted == int64(len(bodies)-1) && st.MessagesInvalid >= 1
	}, func() string { return fmt.Sprintf("%+v", *eng.Stats().SQS) })
	st := eng.Stats().SQS
	if st.TestEvents != 1 || st.ObjectsIgnored != 2 || st.MessagesLeft != 0 {
		t.Errorf("SQS stats %+v: want 1 test event, 2 objects ignored (digest, removal), none left", *st)
	}
	// The garbage message is still there (in flight until its visibility
	// timeout), for the queue's redrive policy.
	visible, inFlight, err := sqstest.Counts(context.Background(), env.queues, queue)
	if err != nil || visible+inFlight != 1 {
		out, _ := env.queues.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &queue, MaxNumberOfMessages: 10})
		for _, m := range out.Messages {
			t.Logf("left: %s", *m.Body)
		}
		t.Errorf("queue: %d visible + %d in flight (%v), want only the garbage message", visible, inFlight, err)
	}
}

func hasKey(recs []map[string]any, key string) bool {
	for _, r := range recs {
		if r["s3_key"] == key {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool, state func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s: %s", timeout, state())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// `enqueue` announces a window's 1,000 log files; three consumers share the
// queue: every OpsWorks event arrives, none is lost, duplicates (which SQS's
// at-least-once delivery allows) are counted, and the queue ends empty.
func TestSQSEnqueueThreeConsumers(t *testing.T) {
	env := startSQS(t)
	start := time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)
	files := corpus.LogFiles(corpus.Options{Seed: 42, Events: 10000, OpsWorksShare: 0.2, EventsPerFile: 10,
		Start: start, End: start.Add(72 * time.Hour), Accounts: []string{"111122223333", "444455556666"}, Regions: []string{"us-east-1", "eu-west-1"}})
	if len(files) < 1000 {
		t.Fatalf("corpus has %d files, want at least 1000", len(files))
	}
	files = files[:1000]
	env.srv.UploadArchive(t, bucket, files, true)
	queue := env.sqs.CreateQueue(t, "backfill", sqstest.QueueOptions{})

	cfg, err := input.LoadConfig(config.MapGetter{"bucket": bucket, "start_time": "2022-06-01", "end_time": "2022-06-04"})
	if err != nil {
		t.Fatal(err)
	}
	lister, err := cloudtrail.NewS3Lister(env.client(2), bucket, cfg.ListOptions())
	if err != nil {
		t.Fatal(err)
	}
	st, err := cloudtrail.Enqueue(context.Background(), cloudtrail.EnqueueOptions{Lister: lister, Sender: env.queues, QueueURL: queue, Bucket: bucket, Region: "us-east-1"})
	if err != nil || st.Listed != 1000 || st.Sent != 1000 {
		t.Fatalf("enqueue: %+v, %v; want 1000 listed and sent", st, err)
	}

	want := expected(t, files, func(corpus.File) bool { return true })
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	total := func() int { mu.Lock(); defer mu.Unlock(); return len(seen) }
	engines := make([]*input.Engine, 3)
	for i := range engines {
		engines[i] = env.consumer(t, queue, map[string]string{"workers": "2", "max_messages": "20"}, nil)
	}
	for _, eng := range engines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(90 * time.Second)
			for total() < len(want) && time.Now().Before(deadline) {
				b := eng.Collect(0)
				if b == nil {
					time.Sleep(5 * time.Millisecond)
					continue
				}
				recs := decodeAll(t, b.Records)
				mu.Lock()
				for _, r := range recs {
					if e, ok := r["opsworks_error"]; ok {
						t.Errorf("error record: %v", e)
					}
					seen[r["eventID"].(string)]++
				}
				mu.Unlock()
				eng.Commit(b)
			}
		}()
	}
	wg.Wait()
	env.queueEmpty(t, queue, 20*time.Second)
	duplicates := 0
	for id, n := range seen {
		if !want[id] {
			t.Fatalf("unexpected event %q", id)
		}
		duplicates += n - 1
	}
	if len(seen) != len(want) {
		t.Fatalf("delivered %d of %d OpsWorks events", len(seen), len(want))
	}
	// The queue is empty once SQS deleted the messages; each consumer
	// counts a deletion when the call returns, a moment later.
	deletedSoFar := func() (n int64) {
		for _, eng := range engines {
			n += eng.Stats().SQS.MessagesDeleted
		}
		return n
	}
	waitFor(t, 10*time.Second, func() bool { return deletedSoFar() >= 1000 }, func() string { return fmt.Sprintf("%d deleted", deletedSoFar()) })
	var received, deleted int64
	for i, eng := range engines {
		s := eng.Stats()
		received += s.SQS.MessagesReceived
		deleted += s.SQS.MessagesDeleted
		t.Logf("consumer %d: %d objects read, SQS %+v", i, s.ObjectsRead, *s.SQS)
		if s.SQS.MessagesReceived == 0 {
			t.Errorf("consumer %d received nothing: the queue was not shared", i)
		}
	}
	t.Logf("%d events delivered, %d duplicates; %d messages received, %d deleted", len(seen), duplicates, received, deleted)
	if deleted < 1000 {
		t.Errorf("%d messages deleted, want 1000", deleted)
	}
	if int64(duplicates) > (received-1000)*10 {
		t.Errorf("%d duplicate events but only %d messages were received more than once", duplicates, received-1000)
	}
}

// slowS3 delays the GETs of keys containing match.
type slowS3 struct {
	cloudtrail.S3API
	match string
	delay time.Duration
}

func (s slowS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if strings.Contains(*in.Key, s.match) {
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s.S3API.GetObject(ctx, in, optFns...)
}

// An object that cannot be read (its bucket does not exist) leaves its
// message undeleted: it is received again after the visibility timeout and
// the redrive policy moves it to the dead-letter queue after
// maxReceiveCount receives, while a good message beside it is delivered and
// deleted.
func TestSQSFailedObjectIsRedelivered(t *testing.T) {
	env := startSQS(t)
	files := corpus.LogFiles(corpus.Options{Seed: 43, Events: 60, OpsWorksShare: 1, EventsPerFile: 30})
	env.srv.UploadArchive(t, bucket, files[:1], true)
	queue, dlq := env.sqs.CreateQueueWithDLQ(t, "failing", sqstest.QueueOptions{MaxReceiveCount: 2})
	if err := sqstest.SendBodies(context.Background(), env.queues, queue,
		s3Notification("no-such-bucket", files[1].Key), s3Notification(bucket, files[0].Key)); err != nil {
		t.Fatal(err)
	}
	eng := env.consumer(t, queue, map[string]string{"visibility_timeout": "2s", "max_retries": "0"}, nil)
	want := expected(t, files[:1], func(corpus.File) bool { return true })
	exactlyOnce(t, want, collectUntil(t, eng, 20*time.Second, func(r []map[string]any) bool { return len(r) >= len(want) }))

	// Received, failed, left; received again after 2 s, failed again; then
	// moved to the dead-letter queue.
	waitFor(t, 30*time.Second, func() bool {
		visible, inFlight, err := sqstest.Counts(context.Background(), env.queues, dlq)
		return err == nil && visible+inFlight == 1
	}, func() string { return fmt.Sprintf("%+v", *eng.Stats().SQS) })
	st := eng.Stats()
	if st.SQS.MessagesLeft < 2 || st.SQS.MessagesDeleted != 1 || st.ObjectsFailed < 2 {
		t.Errorf("stats: %d objects failed, SQS %+v; want the failing message left twice and the good one deleted", st.ObjectsFailed, *st.SQS)
	}
	if st.Failures["no such bucket"] < 2 {
		t.Errorf("failures %v: want no such bucket counted per attempt", st.Failures)
	}
	env.queueEmpty(t, queue, 10*time.Second)
	if c := collectUntil(t, eng, time.Second, func([]map[string]any) bool { return true }); len(c) != 0 {
		t.Errorf("records for the failed object: %v", c)
	}
}

// While a slow object is read, its message's visibility is extended: a
// second consumer polling the queue all along never receives it, although
// the read takes three visibility timeouts; then the message is deleted.
func TestSQSVisibilityExtendedWhileSlow(t *testing.T) {
	env := startSQS(t)
	files := corpus.LogFiles(corpus.Options{Seed: 44, Events: 30, OpsWorksShare: 1, EventsPerFile: 30})
	env.srv.UploadArchive(t, bucket, files, true)
	queue := env.sqs.CreateQueue(t, "slow", sqstest.QueueOptions{})
	slow := slowS3{S3API: env.client(2), match: files[0].Key, delay: 6 * time.Second}
	eng := env.consumer(t, queue, map[string]string{"visibility_timeout": "2s"}, slow)
	files = files[:1]
	if err := sqstest.SendBodies(context.Background(), env.queues, queue, s3Notification(bucket, files[0].Key)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return eng.Stats().SQS.MessagesReceived == 1 }, func() string { return "not received" })

	stolen := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the other consumer: polls without deleting
		for ctx.Err() == nil {
			out, err := env.queues.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, WaitTimeSeconds: 1, VisibilityTimeout: 1})
			if err == nil && len(out.Messages) > 0 {
				stolen <- *out.Messages[0].MessageId
				return
			}
		}
	}()
	want := expected(t, files, func(corpus.File) bool { return true })
	exactlyOnce(t, want, collectUntil(t, eng, 20*time.Second, func(r []map[string]any) bool { return len(r) >= len(want) }))
	env.queueEmpty(t, queue, 5*time.Second)
	cancel()
	select {
	case id := <-stolen:
		t.Fatalf("message %s was received by the other consumer while its object was in progress", id)
	default:
	}
	if st := eng.Stats().SQS; st.Extensions < 2 || st.MessagesDeleted != 1 || st.MessagesReceived != 1 {
		t.Errorf("SQS stats %+v: want at least 2 extensions, the message received once and deleted", *st)
	}
}

// A paused input receives nothing; Resume carries on. Stop releases the
// messages still in progress so that another consumer gets them at once.
func TestSQSPauseAndRelease(t *testing.T) {
	env := startSQS(t)
	files := corpus.LogFiles(corpus.Options{Seed: 45, Events: 60, OpsWorksShare: 1, EventsPerFile: 30})
	env.srv.UploadArchive(t, bucket, files, true)
	queue := env.sqs.CreateQueue(t, "pause", sqstest.QueueOptions{})
	// Short polls (wait_time 0), so that a receive under way ends within
	// the pauses below.
	eng := env.consumer(t, queue, map[string]string{"visibility_timeout": "60s", "wait_time": "0s"},
		slowS3{S3API: env.client(2), match: files[1].Key, delay: time.Hour})
	eng.Pause()
	time.Sleep(1500 * time.Millisecond) // a receive under way when paused may finish
	if err := sqstest.SendBodies(context.Background(), env.queues, queue, s3Notification(bucket, files[0].Key)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond)
	if visible, _, _ := sqstest.Counts(context.Background(), env.queues, queue); visible != 1 || eng.Stats().SQS.MessagesReceived != 0 {
		t.Fatalf("paused input received: %d visible, SQS %+v", visible, *eng.Stats().SQS)
	}
	eng.Resume()
	want := expected(t, files[:1], func(corpus.File) bool { return true })
	exactlyOnce(t, want, collectUntil(t, eng, 20*time.Second, func(r []map[string]any) bool { return len(r) >= len(want) }))

	// The next object's read never ends: Stop releases its message.
	if err := sqstest.SendBodies(context.Background(), env.queues, queue, s3Notification(bucket, files[1].Key)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { return eng.Stats().SQS.MessagesReceived == 2 }, func() string { return fmt.Sprintf("%+v", *eng.Stats().SQS) })
	// Fluent Bit pauses its inputs before it exits; a receive already sent
	// then still finishes. Stop without that pause would cut such a
	// receive short, and SQS (local-aws-sqs too, when busy) may hand the
	// released message to the abandoned call: it then reappears only after
	// visibility_timeout (see sqs.go). Seen 2 times in 15 under load.
	eng.Pause()
	time.Sleep(1500 * time.Millisecond)
	eng.Stop()
	out, err := env.queues.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: &queue, WaitTimeSeconds: 2})
	if err != nil || len(out.Messages) != 1 || !strings.Contains(*out.Messages[0].Body, cloudtrail.EncodeNotificationKey(files[1].Key)) {
		t.Fatalf("after Stop the in-progress message should be visible at once: %+v, %v", out, err)
	}
}
