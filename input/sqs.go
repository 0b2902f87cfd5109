package input

// SQS notification mode (queue_url). Beats' awss3 input is the model:
//
//   - The receive loop asks for messages only while the input is not
//     paused and fewer than max_messages messages are in progress.
//   - A message names objects (ParseNotification). Each object that is a
//     CloudTrail log file the configuration selects becomes a job for the
//     same workers, reader and ordered queue as bucket polling.
//   - While any of its objects is in progress, the message's visibility is
//     extended to visibility_timeout every visibility_timeout/2
//     (heartbeat), so no other consumer receives it meanwhile.
//   - A message is deleted only after every object it names was delivered:
//     its records accepted by Fluent Bit (Commit), or it had nothing to
//     deliver. An object that still fails after max_retries (throttling,
//     5xx, broken connections), or that cannot be read for a reason a
//     later attempt may not have (access denied, no such bucket, archived
//     in Glacier), leaves its message undeleted: it becomes visible again
//     after visibility_timeout, is received again (here or by another
//     consumer), and the queue's redrive policy moves it to the dead-letter
//     queue after maxReceiveCount receives. An object whose content is bad
//     (corrupt gzip, invalid JSON…) gives its error record, as in polling
//     mode, and counts as delivered: reading it again would fail the same
//     way.
//   - A message that is no notification at all is logged with its id and
//     left for the redrive policy; s3:TestEvent messages and notifications
//     of other S3 events, or of objects that are not CloudTrail log files
//     of the selection (digests, other accounts…), are deleted.
//   - Stop releases the messages still in progress (visibility 0), so that
//     another consumer takes them at once. Stop cuts a long poll short; SQS
//     may still hand a message to that abandoned receive, and such a
//     message reappears only after visibility_timeout (this is SQS
//     behaviour for any client that closes a long poll).
//
// Delivery is at least once: a message whose records were accepted but
// whose deletion failed, or that was released at Stop after its records
// were handed to Fluent Bit, is received and read again.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// flushTimeout bounds the deletions and releases at Stop.
const flushTimeout = 15 * time.Second

// message is one received SQS message and the objects it names.
type message struct {
	id       string
	receipt  string
	received int // ApproximateReceiveCount: 1 the first time
	shape    string

	mu        sync.Mutex
	pending   int      // objects not yet settled
	failures  []string // "s3://bucket/key (reason)"
	stopBeat  context.CancelFunc
	abandoned bool // settled or released: nothing more to do
}

// sqsOptions are what the SQS source needs.
type sqsOptions struct {
	queueURL          string
	region            string // the queue's, for its ARN in errors
	receivers         int    // receive loops: min(workers, maxReceivers)
	maxMessages       int
	waitTime          time.Duration
	visibilityTimeout time.Duration
	list              cloudtrail.ListOptions // the selection notified keys must be in
	includeInsight    bool
}

// sqsSource receives notifications (SQS mode) and deletes each message
// once every object it names was delivered.
type sqsSource struct {
	o       sqsOptions
	env     sourceEnv
	store   s3Store
	started bool // the deleters run: stop must end them

	api   cloudtrail.SQSAPI
	queue cloudtrail.QueueRef
	url   string

	slots chan struct{} // one per message in progress (max_messages)

	mu       sync.Mutex
	inflight map[*message]struct{}
	deletes  []*message
	stopped  bool
	wake     chan struct{} // a deletion is waiting
	done     chan struct{} // closed when the deleters have exited
	life     context.Context
	end      context.CancelFunc
	beats    sync.WaitGroup

	received, deleted, left, invalid, tests, ignored atomic.Int64
	extended, deleteFailures                         atomic.Int64
}

func newSQSSource(o sqsOptions, env sourceEnv, store s3Store, api cloudtrail.SQSAPI) *sqsSource {
	q, _ := cloudtrail.ParseQueueURL(o.queueURL) // Validate checked it
	c := &sqsSource{o: o, env: env, store: store, api: api, queue: q, url: o.queueURL, slots: make(chan struct{}, o.maxMessages),
		inflight: map[*message]struct{}{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.life, c.end = context.WithCancel(context.Background())
	return c
}

// start is the start-up check: the queue exists and may be read. It also
// warns when the queue has no dead-letter queue. The bucket is known only
// from the notifications, so there is no S3 check.
func (c *sqsSource) start(ctx context.Context) error {
	out, err := c.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(c.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy, types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		switch cloudtrail.SQSErrorReason(err) {
		case cloudtrail.ReasonAccessDenied:
			return &cloudtrail.AccessError{Permission: "sqs:GetQueueAttributes", Resource: c.queue.ARN(c.o.region), Detail: "reading the queue's attributes", Err: err}
		case cloudtrail.ReasonNotFound:
			return &cloudtrail.AccessError{Detail: fmt.Sprintf("queue %s does not exist (check queue_url, sqs_region and sqs_endpoint)", c.url), Err: err}
		}
		return &cloudtrail.AccessError{Detail: "reading the attributes of queue " + c.url, Err: err}
	}
	if out.Attributes[string(types.QueueAttributeNameRedrivePolicy)] == "" {
		c.env.logf(LogWarn, "queue %s has no redrive policy: a message whose objects keep failing is received again every visibility_timeout, forever; give the queue a dead-letter queue (maxReceiveCount)", c.url)
	}
	c.env.logf(LogInfo, "queue %s: about %s messages waiting", c.url, out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	return nil
}

// startDeleters runs the deleters; the receive loops are run.
func (c *sqsSource) startDeleters() {
	c.started = true
	var wg sync.WaitGroup
	for i := 0; i < deleters; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.deleter()
		}()
	}
	go func() {
		wg.Wait()
		close(c.done)
	}()
}

// Concurrency of the SQS calls. One receive or delete call returns in
// milliseconds on loopback but tens of milliseconds from AWS; with one of
// each, a call's latency would cap the objects per second an instance
// reads (10 per call), however small the objects.
const (
	maxReceivers = 4
	deleters     = 4
)

// run runs the receive loops (the counterpart of a polling pass): they
// share the max_messages slots.
func (c *sqsSource) run(ctx context.Context) {
	c.startDeleters()
	var loops sync.WaitGroup
	for i := 0; i < c.o.receivers; i++ {
		loops.Add(1)
		go func() {
			defer loops.Done()
			c.receiveLoop(ctx)
		}()
	}
	loops.Wait()
}

func (c *sqsSource) describe(workers int, recordMode string) string {
	return fmt.Sprintf("receiving from %s with %d workers (max_messages %d, visibility_timeout %s, record_mode %s)",
		c.url, workers, c.o.maxMessages, c.o.visibilityTimeout, recordMode)
}

// bounded: a queue is never exhausted.
func (c *sqsSource) bounded() bool { return false }

// receiveLoop receives and dispatches until the run ends.
func (c *sqsSource) receiveLoop(ctx context.Context) {
	for attempt := 0; ; {
		if c.env.gate.wait(ctx) != nil {
			return
		}
		n, ok := c.acquire(ctx)
		if !ok {
			return
		}
		out, err := c.receive(ctx, n)
		if err != nil {
			c.releaseSlots(n)
			if ctx.Err() != nil {
				return
			}
			if !c.receiveFailed(ctx, err, attempt) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		c.releaseSlots(n - len(out.Messages))
		if len(out.Messages) == 0 && c.o.waitTime == 0 && !sleep(ctx, time.Second) {
			return // short polling: do not hammer an empty queue
		}
		for i := range out.Messages {
			if !c.handleMessage(ctx, &out.Messages[i]) {
				return
			}
		}
	}
}

// acquire waits for one free slot, then takes up to cloudtrail.SQSBatchLimit.
func (c *sqsSource) acquire(ctx context.Context) (int, bool) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	}
	n := 1
	for n < cloudtrail.SQSBatchLimit && c.tryAcquire() {
		n++
	}
	return n, true
}

func (c *sqsSource) tryAcquire() bool {
	select {
	case c.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (c *sqsSource) releaseSlots(n int) {
	for i := 0; i < n; i++ {
		<-c.slots
	}
}

func (c *sqsSource) receive(ctx context.Context, n int) (*sqs.ReceiveMessageOutput, error) {
	return c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(c.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(c.o.waitTime / time.Second),
		VisibilityTimeout:           int32(c.o.visibilityTimeout / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
}

// receiveFailed logs a failed receive and waits before the next; it
// reports whether the loop goes on. Receiving is retried forever: a queue
// that is throttled or unreachable for a while must not stop the input.
func (c *sqsSource) receiveFailed(ctx context.Context, err error, attempt int) bool {
	reason := cloudtrail.SQSErrorReason(err)
	level := LogWarn
	if !reason.Retryable() {
		level = LogError // denied, no such queue: keeps failing until fixed
	}
	wait := c.env.backoff(attempt)
	c.env.st.failure("sqs receive: "+string(reason), "")
	msg := fmt.Sprintf("receiving from %s failed (%s), trying again in %s: %v", c.url, reason, wait.Round(time.Millisecond), err)
	if level == LogError && attempt == 0 {
		c.env.logf(level, "%s", msg) // the first of a run of denials is always an error line
	} else {
		c.env.warn.Warn("sqs receive "+string(reason), msg)
	}
	return sleep(ctx, wait)
}

// handleMessage turns one message into jobs; false when the run ended.
func (c *sqsSource) handleMessage(ctx context.Context, m *types.Message) bool {
	c.received.Add(1)
	msg := &message{id: aws.ToString(m.MessageId), receipt: aws.ToString(m.ReceiptHandle), received: 1}
	if v, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		msg.received = v
	}
	n, err := cloudtrail.ParseNotification([]byte(aws.ToString(m.Body)))
	if err != nil {
		c.invalid.Add(1)
		c.env.st.failure("sqs: not a notification", "")
		c.env.logf(LogWarn, "SQS message %s (received %d times) is not an object notification, left in the queue for its redrive policy: %v", msg.id, msg.received, err)
		c.releaseSlots(1)
		return true
	}
	msg.shape = n.Shape
	objs := c.selectNotified(msg, n)
	if len(objs) == 0 {
		if n.Shape == cloudtrail.ShapeS3TestEvent || n.Shape == cloudtrail.ShapeSNSTestEvent {
			c.tests.Add(1)
			c.env.logf(LogInfo, "SQS message %s is an S3 test event (%s): deleted", msg.id, n.Shape)
		}
		c.queueDelete(msg)
		return true
	}
	msg.pending = len(objs)
	c.track(msg)
	for _, o := range objs {
		if err := c.dispatch(ctx, o, msg); err != nil {
			return false // stopped: Stop releases the message
		}
	}
	return true
}

// selectNotified keeps the announced objects that are CloudTrail log
// files of the selection (accounts, regions, org_id, include_insight,
// start_time, end_time); the others are counted and logged at debug.
func (c *sqsSource) selectNotified(msg *message, n *cloudtrail.Notification) []cloudtrail.Object {
	c.ignored.Add(int64(n.Ignored))
	var objs []cloudtrail.Object
	for _, ref := range n.Objects {
		key, ok := cloudtrail.ParseKey(ref.Key)
		why := ""
		switch {
		case !ok:
			why = "not a CloudTrail log file key"
		default:
			why = c.notSelected(key)
		}
		if why != "" {
			c.ignored.Add(1)
			c.env.logf(LogDebug, "SQS message %s: s3://%s/%s skipped: %s", msg.id, ref.Bucket, ref.Key, why)
			continue
		}
		objs = append(objs, cloudtrail.Object{Key: key, Bucket: ref.Bucket})
	}
	return objs
}

// notSelected says why a notified CloudTrail key is outside the
// configured selection, or "". The selection is the listers' own filter
// (ListOptions.wants), so both modes read the same files.
func (c *sqsSource) notSelected(k cloudtrail.Key) string {
	switch {
	case k.Kind == cloudtrail.KindDigest:
		return "a digest file"
	case k.Kind == cloudtrail.KindInsight && !c.o.includeInsight:
		return "an Insights file (include_insight is off)"
	}
	opts := c.o.list
	end := opts.End
	if end.IsZero() {
		end = maxTime
	}
	if !opts.Wants(k, opts.Start, end) {
		return "outside org_id, accounts, regions, start_time or end_time"
	}
	return ""
}

// maxTime is the end of an unbounded selection.
var maxTime = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// dispatch hands a notified object to the workers.
func (c *sqsSource) dispatch(ctx context.Context, o cloudtrail.Object, msg *message) error {
	c.env.st.listed(o.Key.Time)
	c.env.st.objectsListed.Add(1)
	return c.env.put(ctx, o, msg, nil)
}

func (c *sqsSource) delivered(j job) {
	c.env.st.objectsCommitted.Add(1)
	c.settle(j.msg, "")
}

// gaveUp leaves the object's message undeleted (see the top of this file).
func (c *sqsSource) gaveUp(j job, err error) {
	reason := cloudtrail.ReasonOf(err)
	c.env.warn.Warn(string(reason), fmt.Sprintf("%v; giving up on it in this receive of SQS message %s", err, j.msg.id))
	c.settle(j.msg, c.store.where(j.obj)+" ("+string(reason)+")")
}

// redeliverable: in SQS mode these failures leave the message for
// redelivery (and the dead-letter queue) instead of giving an error
// record: access can be granted, a bucket created, an object restored, and
// the dead-letter queue can then be redriven.
func (c *sqsSource) redeliverable(r cloudtrail.Reason) bool {
	return r == cloudtrail.ReasonAccessDenied || r == cloudtrail.ReasonNoSuchBucket || r == cloudtrail.ReasonArchived
}

// save: the queue is the state; a message is deleted once delivered.
func (c *sqsSource) save() error { return nil }
