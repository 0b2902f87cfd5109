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

// consumer is the SQS side of an engine in SQS mode.
type consumer struct {
	e     *Engine
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

func newConsumer(e *Engine, api cloudtrail.SQSAPI) *consumer {
	q, _ := cloudtrail.ParseQueueURL(e.cfg.QueueURL) // Validate checked it
	c := &consumer{e: e, api: api, queue: q, url: e.cfg.QueueURL, slots: make(chan struct{}, e.cfg.MaxMessages),
		inflight: map[*message]struct{}{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.life, c.end = context.WithCancel(context.Background())
	return c
}

// check is the start-up check: the queue exists and may be read. It also
// warns when the queue has no dead-letter queue.
func (c *consumer) check(ctx context.Context) error {
	out, err := c.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(c.url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy, types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		switch cloudtrail.SQSErrorReason(err) {
		case cloudtrail.ReasonAccessDenied:
			return &cloudtrail.AccessError{Permission: "sqs:GetQueueAttributes", Resource: c.queue.ARN(c.e.cfg.sqsRegion()), Detail: "reading the queue's attributes", Err: err}
		case cloudtrail.ReasonNotFound:
			return &cloudtrail.AccessError{Detail: fmt.Sprintf("queue %s does not exist (check queue_url, sqs_region and sqs_endpoint)", c.url), Err: err}
		}
		return &cloudtrail.AccessError{Detail: "reading the attributes of queue " + c.url, Err: err}
	}
	if out.Attributes[string(types.QueueAttributeNameRedrivePolicy)] == "" {
		c.e.logf(LogWarn, "queue %s has no redrive policy: a message whose objects keep failing is received again every visibility_timeout, forever; give the queue a dead-letter queue (maxReceiveCount)", c.url)
	}
	c.e.logf(LogInfo, "queue %s: about %s messages waiting", c.url, out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	return nil
}

// start runs the deleter; the receive loop is Engine.consume.
func (c *consumer) start() {
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

// consume runs the receive loops of SQS mode (the counterpart of passes):
// min(workers, maxReceivers) of them share the max_messages slots.
func (e *Engine) consume() {
	defer e.background.Done()
	var loops sync.WaitGroup
	for i := 0; i < min(e.cfg.Workers, maxReceivers); i++ {
		loops.Add(1)
		go func() {
			defer loops.Done()
			e.receiveLoop()
		}()
	}
	loops.Wait()
	close(e.jobs)
	e.workers.Wait()
}

// receiveLoop receives and dispatches until the run ends.
func (e *Engine) receiveLoop() {
	c := e.sq
	for attempt := 0; ; {
		if e.gate.wait(e.ctx) != nil {
			return
		}
		n, ok := c.acquire(e.ctx)
		if !ok {
			return
		}
		out, err := c.receive(e.ctx, n)
		if err != nil {
			c.releaseSlots(n)
			if e.ctx.Err() != nil {
				return
			}
			if !e.receiveFailed(err, attempt) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		c.releaseSlots(n - len(out.Messages))
		if len(out.Messages) == 0 && e.cfg.WaitTime == 0 && !e.sleep(time.Second) {
			return // short polling: do not hammer an empty queue
		}
		for i := range out.Messages {
			if !e.handleMessage(&out.Messages[i]) {
				return
			}
		}
	}
}

// acquire waits for one free slot, then takes up to cloudtrail.SQSBatchLimit.
func (c *consumer) acquire(ctx context.Context) (int, bool) {
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

func (c *consumer) tryAcquire() bool {
	select {
	case c.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (c *consumer) releaseSlots(n int) {
	for i := 0; i < n; i++ {
		<-c.slots
	}
}

func (c *consumer) receive(ctx context.Context, n int) (*sqs.ReceiveMessageOutput, error) {
	cfg := c.e.cfg
	return c.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(c.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(cfg.WaitTime / time.Second),
		VisibilityTimeout:           int32(cfg.VisibilityTimeout / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
}

// receiveFailed logs a failed receive and waits before the next; it
// reports whether the loop goes on. Receiving is retried forever: a queue
// that is throttled or unreachable for a while must not stop the input.
func (e *Engine) receiveFailed(err error, attempt int) bool {
	reason := cloudtrail.SQSErrorReason(err)
	level := LogWarn
	if !reason.Retryable() {
		level = LogError // denied, no such queue: keeps failing until fixed
	}
	wait := e.backoff(attempt)
	e.st.failure("sqs receive: "+string(reason), "")
	msg := fmt.Sprintf("receiving from %s failed (%s), trying again in %s: %v", e.sq.url, reason, wait.Round(time.Millisecond), err)
	if level == LogError && attempt == 0 {
		e.logf(level, "%s", msg) // the first of a run of denials is always an error line
	} else {
		e.warn.Warn("sqs receive "+string(reason), msg)
	}
	return e.sleep(wait)
}

// handleMessage turns one message into jobs; false when the run ended.
func (e *Engine) handleMessage(m *types.Message) bool {
	c := e.sq
	c.received.Add(1)
	msg := &message{id: aws.ToString(m.MessageId), receipt: aws.ToString(m.ReceiptHandle), received: 1}
	if v, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); err == nil {
		msg.received = v
	}
	n, err := cloudtrail.ParseNotification([]byte(aws.ToString(m.Body)))
	if err != nil {
		c.invalid.Add(1)
		e.st.failure("sqs: not a notification", "")
		e.logf(LogWarn, "SQS message %s (received %d times) is not an object notification, left in the queue for its redrive policy: %v", msg.id, msg.received, err)
		c.releaseSlots(1)
		return true
	}
	msg.shape = n.Shape
	objs := e.selectNotified(msg, n)
	if len(objs) == 0 {
		if n.Shape == cloudtrail.ShapeS3TestEvent || n.Shape == cloudtrail.ShapeSNSTestEvent {
			c.tests.Add(1)
			e.logf(LogInfo, "SQS message %s is an S3 test event (%s): deleted", msg.id, n.Shape)
		}
		c.queueDelete(msg)
		return true
	}
	msg.pending = len(objs)
	c.track(msg)
	for _, o := range objs {
		if err := e.dispatchNotified(o, msg); err != nil {
			return false // stopped: Stop releases the message
		}
	}
	return true
}

// selectNotified keeps the announced objects that are CloudTrail log
// files of the selection (accounts, regions, org_id, include_insight,
// start_time, end_time); the others are counted and logged at debug.
func (e *Engine) selectNotified(msg *message, n *cloudtrail.Notification) []cloudtrail.Object {
	c := e.sq
	c.ignored.Add(int64(n.Ignored))
	var objs []cloudtrail.Object
	for _, ref := range n.Objects {
		key, ok := cloudtrail.ParseKey(ref.Key)
		why := ""
		switch {
		case !ok:
			why = "not a CloudTrail log file key"
		default:
			why = e.notSelected(key)
		}
		if why != "" {
			c.ignored.Add(1)
			e.logf(LogDebug, "SQS message %s: s3://%s/%s skipped: %s", msg.id, ref.Bucket, ref.Key, why)
			continue
		}
		objs = append(objs, cloudtrail.Object{Key: key, Bucket: ref.Bucket})
	}
	return objs
}

// notSelected says why a notified CloudTrail key is outside the
// configured selection, or "". The selection is the listers' own filter
// (ListOptions.wants), so both modes read the same files.
func (e *Engine) notSelected(k cloudtrail.Key) string {
	switch {
	case k.Kind == cloudtrail.KindDigest:
		return "a digest file"
	case k.Kind == cloudtrail.KindInsight && !e.cfg.IncludeInsight:
		return "an Insights file (include_insight is off)"
	}
	opts := e.cfg.ListOptions()
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

// dispatchNotified hands a notified object to a worker.
func (e *Engine) dispatchNotified(o cloudtrail.Object, msg *message) error {
	e.st.listed(o.Key.Time)
	e.st.objectsListed.Add(1)
	j := job{seq: e.q.assign(o.Key.Time), obj: o, msg: msg}
	select {
	case e.jobs <- j:
		return nil
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
}

// track starts the message's heartbeat.
func (c *consumer) track(msg *message) {
	ctx, cancel := context.WithCancel(c.life)
	msg.stopBeat = cancel
	c.mu.Lock()
	c.inflight[msg] = struct{}{}
	c.mu.Unlock()
	c.beats.Add(1)
	go c.heartbeat(ctx, msg)
}

// heartbeat extends the message's visibility every visibility_timeout/2
// while its objects are in progress (paused input included).
func (c *consumer) heartbeat(ctx context.Context, msg *message) {
	defer c.beats.Done()
	vt := c.e.cfg.VisibilityTimeout
	t := time.NewTicker(vt / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_, err := c.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(c.url),
			ReceiptHandle: aws.String(msg.receipt), VisibilityTimeout: int32(vt / time.Second)})
		switch {
		case err == nil:
			c.extended.Add(1)
			c.e.logf(LogDebug, "SQS message %s: visibility extended by %s", msg.id, vt)
		case ctx.Err() == nil:
			c.e.warn.Warn("sqs visibility", fmt.Sprintf("extending the visibility of SQS message %s failed (%s); another consumer may receive it and read its objects again: %v",
				msg.id, cloudtrail.SQSErrorReason(err), err))
		}
	}
}

// settle records the outcome of one of msg's objects: failure is "" when
// it was delivered. The last one decides the message's fate.
func (c *consumer) settle(msg *message, failure string) {
	msg.mu.Lock()
	if failure != "" {
		msg.failures = append(msg.failures, failure)
	}
	msg.pending--
	last := msg.pending == 0 && !msg.abandoned
	if last {
		msg.abandoned = true
	}
	failures := msg.failures
	msg.mu.Unlock()
	if !last {
		return
	}
	msg.stopBeat()
	c.mu.Lock()
	delete(c.inflight, msg)
	c.mu.Unlock()
	if len(failures) == 0 {
		c.queueDelete(msg)
		return
	}
	c.left.Add(1)
	c.e.logf(LogWarn, "SQS message %s (received %d times): %d object(s) failed: %v; not deleted: it is received again after visibility_timeout (%s), and the queue's redrive policy moves it to the dead-letter queue after maxReceiveCount receives",
		msg.id, msg.received, len(failures), failures, c.e.cfg.VisibilityTimeout)
	c.releaseSlots(1)
}

// queueDelete hands msg to the deleter (which frees its slot).
func (c *consumer) queueDelete(msg *message) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		c.e.logf(LogDebug, "SQS message %s settled after the input stopped: not deleted, it will be received again", msg.id)
		return
	}
	c.deletes = append(c.deletes, msg)
	c.mu.Unlock()
	c.signalDeletes()
}

func (c *consumer) signalDeletes() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deleter deletes settled messages in batches of up to 10 until stop.
func (c *consumer) deleter() {
	for {
		select {
		case <-c.wake:
		case <-c.life.Done():
			c.flushDeletes()
			return
		}
		c.linger()
		for c.deleteBatch() {
		}
	}
}

// deleteLinger is how long a deleter waits for a full batch: messages
// settle one by one, and without it most calls would carry one or two
// entries (measured: 1.9 per call) instead of 10.
const deleteLinger = 20 * time.Millisecond

// linger waits until 10 deletions wait, deleteLinger passed, or Stop.
func (c *consumer) linger() {
	deadline := time.Now().Add(deleteLinger)
	for c.waitingDeletes() < cloudtrail.SQSBatchLimit && time.Now().Before(deadline) {
		select {
		case <-c.life.Done():
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (c *consumer) waitingDeletes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.deletes)
}

// flushDeletes deletes what is left, within flushTimeout.
func (c *consumer) flushDeletes() {
	for c.deleteBatch() {
	}
}

// deleteBatch deletes up to 10 waiting messages; false when none waited.
// The call is not canceled by Stop (records were delivered: the deletion
// must go through), only bounded by flushTimeout.
func (c *consumer) deleteBatch() bool {
	c.mu.Lock()
	n := min(len(c.deletes), cloudtrail.SQSBatchLimit)
	batch := c.deletes[:n:n]
	c.deletes = c.deletes[n:]
	more := len(c.deletes) > 0
	c.mu.Unlock()
	if n == 0 {
		return false
	}
	if more {
		c.signalDeletes() // another deleter takes the next batch meanwhile
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, n)
	for i, m := range batch {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	out, err := c.api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.url), Entries: entries})
	failed := 0
	switch {
	case err != nil:
		failed = n
		c.e.warn.Warn("sqs delete", fmt.Sprintf("deleting %d SQS message(s) failed (%s): they will be received again and their objects read again: %v", n, cloudtrail.SQSErrorReason(err), err))
	default:
		for _, f := range out.Failed {
			failed++
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			c.e.warn.Warn("sqs delete", fmt.Sprintf("deleting SQS message %s failed (%s: %s): it will be received again and its objects read again",
				batch[min(i, n-1)].id, aws.ToString(f.Code), aws.ToString(f.Message)))
		}
	}
	c.deleted.Add(int64(n - failed))
	c.deleteFailures.Add(int64(failed))
	c.releaseSlots(n)
	return true
}

// stop ends the heartbeats, deletes the settled messages and releases the
// ones still in progress. Called by Engine.Stop once no worker runs.
func (c *consumer) stop() {
	c.mu.Lock()
	c.stopped = true
	var open []*message
	for m := range c.inflight {
		open = append(open, m)
	}
	c.inflight = map[*message]struct{}{}
	c.mu.Unlock()
	for _, m := range open {
		m.mu.Lock()
		m.abandoned = true
		m.mu.Unlock()
		m.stopBeat()
	}
	c.end()
	<-c.done
	c.beats.Wait()
	c.release(open)
}

// release makes messages visible again at once, so that another consumer
// takes them without waiting for their visibility timeout.
func (c *consumer) release(open []*message) {
	if len(open) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	released := 0
	for start := 0; start < len(open); start += cloudtrail.SQSBatchLimit {
		part := open[start:min(start+cloudtrail.SQSBatchLimit, len(open))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(part))
		for i, m := range part {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: 0}
		}
		out, err := c.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(c.url), Entries: entries})
		if err != nil {
			c.e.logf(LogWarn, "releasing %d SQS message(s) in progress failed: they are received again after visibility_timeout: %v", len(part), err)
			continue
		}
		released += len(part) - len(out.Failed)
	}
	c.e.logf(LogInfo, "released %d SQS message(s) still in progress at stop: they are received again (here or by another consumer) and their objects read again", released)
}

// SQSStats are the counters of SQS mode.
type SQSStats struct {
	MessagesReceived int64 // every receive of a message (a redelivered one counts again)
	MessagesDeleted  int64 // all their objects delivered (or none to read)
	MessagesLeft     int64 // an object failed: left for redelivery and the redrive policy
	MessagesInvalid  int64 // not a notification: left for the redrive policy
	TestEvents       int64 // s3:TestEvent messages (deleted)
	ObjectsIgnored   int64 // announced but not read: other S3 events, digests, not selected
	Extensions       int64 // visibility extensions (heartbeats)
	DeleteFailures   int64 // deletions that failed: those messages come back
	InProgress       int   // messages received and not yet deleted or left
}

func (c *consumer) stats() SQSStats {
	c.mu.Lock()
	inProgress := len(c.inflight) + len(c.deletes)
	c.mu.Unlock()
	return SQSStats{MessagesReceived: c.received.Load(), MessagesDeleted: c.deleted.Load(), MessagesLeft: c.left.Load(),
		MessagesInvalid: c.invalid.Load(), TestEvents: c.tests.Load(), ObjectsIgnored: c.ignored.Load(),
		Extensions: c.extended.Load(), DeleteFailures: c.deleteFailures.Load(), InProgress: inProgress}
}

func (s SQSStats) line() string {
	return fmt.Sprintf("SQS messages: %d received, %d deleted, %d left after failures, %d not notifications, %d test events, %d in progress; %d objects ignored, %d visibility extensions",
		s.MessagesReceived, s.MessagesDeleted, s.MessagesLeft, s.MessagesInvalid, s.TestEvents, s.InProgress, s.ObjectsIgnored, s.Extensions)
}
