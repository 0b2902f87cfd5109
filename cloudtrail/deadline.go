package cloudtrail

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Deadlines on every remote call (api_timeout). A call that gets no
// answer within the deadline fails with context.DeadlineExceeded, which
// Classify maps to ReasonTimeout: retryable, so a hung listing or receive
// is retried with backoff instead of freezing the input. GetObject is
// bounded inside ObjectReader.Get instead (until its headers; the body has
// StallTimeout), because a deadline on the whole call would cut a large
// object that is still arriving.

// WithS3Deadline bounds every ListObjectsV2 and HeadObject of api by d
// (d <= 0: api itself). GetObject passes through.
func WithS3Deadline(api S3API, d time.Duration) S3API {
	if d <= 0 {
		return api
	}
	return deadlineS3{inner: api, d: d}
}

type deadlineS3 struct {
	inner S3API
	d     time.Duration
}

func (c deadlineS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.inner.ListObjectsV2(ctx, in, optFns...)
}

func (c deadlineS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return c.inner.GetObject(ctx, in, optFns...)
}

// errNoHead: the wrapped client has no HeadObject (a test fake).
var errNoHead = errors.New("HeadObject not supported by this client")

func (c deadlineS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	h, ok := c.inner.(S3Header)
	if !ok {
		return nil, errNoHead
	}
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return h.HeadObject(ctx, in, optFns...)
}

// WithSQSDeadline bounds every call of api by d (d <= 0: api itself); d
// must be longer than a receive's long poll (the input checks that
// api_timeout is longer than wait_time).
func WithSQSDeadline(api SQSAPI, d time.Duration) SQSAPI {
	if d <= 0 {
		return api
	}
	return deadlineSQS{inner: api, d: d}
}

type deadlineSQS struct {
	inner SQSAPI
	d     time.Duration
}

func (c deadlineSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.inner.ReceiveMessage(ctx, in, optFns...)
}

func (c deadlineSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.inner.DeleteMessageBatch(ctx, in, optFns...)
}

func (c deadlineSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.inner.ChangeMessageVisibility(ctx, in, optFns...)
}

func (c deadlineSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.inner.ChangeMessageVisibilityBatch(ctx, in, optFns...)
}

func (c deadlineSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.d)
	defer cancel()
	return c.inner.GetQueueAttributes(ctx, in, optFns...)
}
