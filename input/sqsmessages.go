package input

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// The life of a received SQS message after its objects were dispatched:
// heartbeat while they are read, deletion once all were delivered, release
// at stop (see the top of sqs.go for the semantics).

// track starts the message's heartbeat.
func (c *sqsSource) track(msg *message) {
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
func (c *sqsSource) heartbeat(ctx context.Context, msg *message) {
	defer c.beats.Done()
	vt := c.o.visibilityTimeout
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
			c.env.logf(LogDebug, "SQS message %s: visibility extended by %s", msg.id, vt)
		case ctx.Err() == nil:
			c.env.warn.Warn("sqs visibility", fmt.Sprintf("extending the visibility of SQS message %s failed (%s); another consumer may receive it and read its objects again: %v",
				msg.id, cloudtrail.SQSErrorReason(err), err))
		}
	}
}

// settle records the outcome of one of msg's objects: failure is "" when
// it was delivered. The last one decides the message's fate.
func (c *sqsSource) settle(msg *message, failure string) {
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
	c.env.logf(LogWarn, "SQS message %s (received %d times): %d object(s) failed: %v; not deleted: it is received again after visibility_timeout (%s), and the queue's redrive policy moves it to the dead-letter queue after maxReceiveCount receives",
		msg.id, msg.received, len(failures), failures, c.o.visibilityTimeout)
	c.releaseSlots(1)
}

// queueDelete hands msg to the deleter (which frees its slot).
func (c *sqsSource) queueDelete(msg *message) {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		c.env.logf(LogDebug, "SQS message %s settled after the input stopped: not deleted, it will be received again", msg.id)
		return
	}
	c.deletes = append(c.deletes, msg)
	c.mu.Unlock()
	c.signalDeletes()
}

func (c *sqsSource) signalDeletes() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deleter deletes settled messages in batches of up to 10 until stop.
func (c *sqsSource) deleter() {
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
func (c *sqsSource) linger() {
	deadline := time.Now().Add(deleteLinger)
	for c.waitingDeletes() < cloudtrail.SQSBatchLimit && time.Now().Before(deadline) {
		select {
		case <-c.life.Done():
			return
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (c *sqsSource) waitingDeletes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.deletes)
}

// flushDeletes deletes what is left, within flushTimeout.
func (c *sqsSource) flushDeletes() {
	for c.deleteBatch() {
	}
}

// deleteBatch deletes up to 10 waiting messages; false when none waited.
// The call is not canceled by Stop (records were delivered: the deletion
// must go through), only bounded by flushTimeout.
func (c *sqsSource) deleteBatch() bool {
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
		c.env.warn.Warn("sqs delete", fmt.Sprintf("deleting %d SQS message(s) failed (%s): they will be received again and their objects read again: %v", n, cloudtrail.SQSErrorReason(err), err))
	default:
		for _, f := range out.Failed {
			failed++
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			c.env.warn.Warn("sqs delete", fmt.Sprintf("deleting SQS message %s failed (%s: %s): it will be received again and its objects read again",
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
func (c *sqsSource) stop() {
	if !c.started {
		return
	}
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
func (c *sqsSource) release(open []*message) {
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
			c.env.logf(LogWarn, "releasing %d SQS message(s) in progress failed: they are received again after visibility_timeout: %v", len(part), err)
			continue
		}
		released += len(part) - len(out.Failed)
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			c.env.logf(LogWarn, "releasing SQS message %s in progress failed (%s: %s): it is received again after visibility_timeout",
				part[min(i, len(part)-1)].id, aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	c.env.logf(LogInfo, "released %d SQS message(s) still in progress at stop: they are received again (here or by another consumer) and their objects read again", released)
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

func (c *sqsSource) addStats(st *Stats) {
	s := c.stats()
	st.SQS = &s
}

func (c *sqsSource) stats() SQSStats {
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
