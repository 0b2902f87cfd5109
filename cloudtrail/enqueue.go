package cloudtrail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// EnqueueConfigurationID marks the notifications Enqueue sends (the
// configurationId of their S3 event records), so they can be told from
// S3's own.
const EnqueueConfigurationID = "opsworks-trail-enqueue"

// EnqueueOptions configure Enqueue.
type EnqueueOptions struct {
	Lister   Lister // the objects to announce (an S3Lister over the window)
	Sender   SQSSender
	QueueURL string
	Bucket   string
	Region   string // the bucket's region, as S3 names it in notifications (cosmetic)
	// Senders is how many SendMessageBatch calls run at once (default 4).
	Senders int
	// MaxRetries bounds the resends of entries that failed (throttled, or a
	// batch call that failed as a whole); default 5.
	MaxRetries int
	// Progress, when set, is called after every batch sent.
	Progress func(EnqueueStats)
	// Now stamps the notifications (default time.Now).
	Now func() time.Time
}

// EnqueueStats count an Enqueue run.
type EnqueueStats struct {
	Listed   int64 // objects listed in the window
	Sent     int64 // notifications accepted by SQS
	Retries  int64 // entries sent again after a retryable failure
	Newest   time.Time
	Messages int64 // SendMessageBatch calls that succeeded
}

// Enqueue announces every CloudTrail log file the lister finds to an SQS
// queue, one S3-event-notification-shaped message per object (exactly what
// S3 itself would have sent when the file was delivered), so that a fleet of
// cloudtrail_s3 inputs in SQS mode reads a backfill in parallel. It stops at
// the first entry that cannot be sent (after retries) and returns the
// counts so far with the error.
func Enqueue(ctx context.Context, o EnqueueOptions) (EnqueueStats, error) {
	if o.Senders <= 0 {
		o.Senders = 4
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	q := &enqueuer{o: o, batches: make(chan []Object, o.Senders)}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := 0; i < o.Senders; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range q.batches {
				if err := q.send(ctx, b); err != nil {
					cancel(err)
				}
			}
		}()
	}
	listErr := q.list(ctx)
	close(q.batches)
	wg.Wait()
	st := q.stats()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return st, cause
	}
	if listErr != nil {
		return st, listErr
	}
	return st, ctx.Err()
}

type enqueuer struct {
	o       EnqueueOptions
	batches chan []Object

	listed, sent, retries, calls atomic.Int64
	mu                           sync.Mutex
	newest                       time.Time
}

func (q *enqueuer) stats() EnqueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return EnqueueStats{Listed: q.listed.Load(), Sent: q.sent.Load(), Retries: q.retries.Load(), Messages: q.calls.Load(), Newest: q.newest}
}

// list feeds batches of up to 10 objects to the senders.
func (q *enqueuer) list(ctx context.Context) error {
	var batch []Object
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		select {
		case q.batches <- batch:
			batch = nil
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := q.o.Lister.List(ctx, func(obj Object) error {
		q.listed.Add(1)
		q.mu.Lock()
		if obj.Key.Time.After(q.newest) {
			q.newest = obj.Key.Time
		}
		q.mu.Unlock()
		batch = append(batch, obj)
		if len(batch) == SQSBatchLimit {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

// send sends one batch, resending the entries that failed retryably.
func (q *enqueuer) send(ctx context.Context, objs []Object) error {
	pending := make(map[string]Object, len(objs))
	for i, obj := range objs {
		pending[strconv.Itoa(i)] = obj
	}
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > q.o.MaxRetries {
			return fmt.Errorf("sending to %s: %d notification(s) not confirmed after %d retries", q.o.QueueURL, len(pending), q.o.MaxRetries)
		}
		if attempt > 0 {
			q.retries.Add(int64(len(pending)))
			if err := Sleep(ctx, Backoff(200*time.Millisecond, 10*time.Second, attempt-1)); err != nil {
				return err
			}
		}
		entries := make([]types.SendMessageBatchRequestEntry, 0, len(pending))
		for id, obj := range pending {
			entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(q.body(obj))})
		}
		out, err := q.o.Sender.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.o.QueueURL), Entries: entries})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if reason := SQSErrorReason(err); !reason.Retryable() || attempt >= q.o.MaxRetries {
				return fmt.Errorf("sending to %s failed (%s): %w", q.o.QueueURL, reason, err)
			}
			continue
		}
		q.calls.Add(1)
		for _, s := range out.Successful {
			delete(pending, aws.ToString(s.Id))
			q.sent.Add(1)
		}
		for _, f := range out.Failed {
			obj := pending[aws.ToString(f.Id)]
			if f.SenderFault || attempt >= q.o.MaxRetries {
				return fmt.Errorf("sending the notification of s3://%s/%s to %s failed: %s: %s",
					q.o.Bucket, obj.Key.Path, q.o.QueueURL, aws.ToString(f.Code), aws.ToString(f.Message))
			}
		}
		if q.o.Progress != nil {
			q.o.Progress(q.stats())
		}
	}
	return nil
}

// body is the S3 event notification S3 would send for obj.
func (q *enqueuer) body(obj Object) string {
	rec := map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": q.o.Region,
		"eventTime": q.o.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "eventName": "ObjectCreated:Put",
		"s3": map[string]any{
			"s3SchemaVersion": "1.0", "configurationId": EnqueueConfigurationID,
			"bucket": map[string]any{"name": q.o.Bucket, "arn": "arn:aws:s3:::" + q.o.Bucket},
			"object": map[string]any{"key": EncodeNotificationKey(obj.Key.Path), "size": obj.Size},
		},
	}
	b, _ := json.Marshal(map[string]any{"Records": []any{rec}})
	return string(b)
}

// EncodeNotificationKey encodes a key as S3 event notifications do: form
// URL encoding (a space is "+"), with "/" left as it is.
func EncodeNotificationKey(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}
