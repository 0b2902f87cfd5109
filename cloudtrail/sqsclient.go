package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The SQS calls, one narrow role each, so that tests can fake or wrap
// exactly what a piece of code uses. *sqs.Client has them all.
type (
	sqsReceiver interface {
		ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	}
	sqsDeleter interface {
		DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	}
	sqsVisibility interface {
		ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
		ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	}
	sqsInspector interface {
		GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	}
	// SQSSender is what `opsworks-trail enqueue` needs.
	SQSSender interface {
		SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	}
)

// SQSAPI is the part of the SQS API the input uses.
type SQSAPI interface {
	sqsReceiver
	sqsDeleter
	sqsVisibility
	sqsInspector
}

// queueRef is what a queue URL tells: https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
// (or the legacy https://REGION.queue.amazonaws.com/...). A URL on another
// host (a VPC endpoint with a private DNS name, a local SQS) has no region
// in it; its scheme and host are the endpoint to call.
type QueueRef struct {
	Region   string // "" when the host does not say
	Account  string
	Name     string
	Endpoint string // scheme://host of a non-AWS URL, else ""
}

func ParseQueueURL(raw string) (QueueRef, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return QueueRef{}, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return QueueRef{}, fmt.Errorf("%q is not a queue URL (expected https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE_NAME)", raw)
	}
	q := QueueRef{Account: parts[0], Name: parts[1]}
	host := strings.ToLower(u.Hostname())
	labels := strings.Split(host, ".")
	switch {
	case strings.HasSuffix(host, ".amazonaws.com") || strings.HasSuffix(host, ".amazonaws.com.cn"):
		if len(labels) >= 4 && labels[0] == "sqs" {
			q.Region = labels[1]
		} else if len(labels) >= 4 && labels[1] == "queue" {
			q.Region = labels[0]
		}
	default:
		q.Endpoint = u.Scheme + "://" + u.Host
	}
	return q, nil
}

// arn is the queue's ARN, for IAM messages; region falls back to the
// configured one.
func (q QueueRef) ARN(region string) string {
	if q.Region != "" {
		region = q.Region
	}
	if region == "" {
		region = "REGION"
	}
	return "arn:aws:sqs:" + region + ":" + q.Account + ":" + q.Name
}

// SQSClientOptions is what NewSQSClient needs; the input fills it from its
// keys, and `opsworks-trail enqueue` from its flags.
type SQSClientOptions struct {
	QueueURL string
	Region   string // "" : from the queue URL, else DefaultRegion, else the default chain
	// DefaultRegion is the region when neither Region nor the URL gives one.
	DefaultRegion string
	Profile       string
	RoleARN       string
	Endpoint      string // "" : from a non-AWS queue URL, else AWS's
	MaxRetries    int
	APITimeout    time.Duration // the deadline of an STS call (AssumeRole); 0: none
}

// NewSQSClient builds an SQS client with the SDK's default credential
// chain (as NewS3Client: environment, shared files with the profile, web
// identity, ECS, EC2), optionally assuming RoleARN on top of it, and the
// standard retryer (MaxRetries, no client-side retry quota).
func NewSQSClient(ctx context.Context, o SQSClientOptions) (*sqs.Client, error) {
	q, err := ParseQueueURL(o.QueueURL)
	if err != nil {
		return nil, fmt.Errorf("queue_url: %v", err)
	}
	region := o.Region
	if region == "" {
		region = q.Region
	}
	if region == "" {
		region = o.DefaultRegion
	}
	awsCfg, err := NewAWSConfig(ctx, AWSOptions{Region: region, Profile: o.Profile, RoleARN: o.RoleARN,
		MaxRetries: o.MaxRetries, APITimeout: o.APITimeout})
	switch {
	case errors.Is(err, errNoRegion):
		return nil, errors.New("sqs_region: no region for the queue; set sqs_region, or use an AWS queue URL (https://sqs.REGION.amazonaws.com/...), or set region / AWS_REGION")
	case err != nil:
		return nil, err // names the profile when one is set, as for S3
	}
	endpoint := o.Endpoint
	if endpoint == "" {
		endpoint = q.Endpoint
	}
	return sqs.NewFromConfig(awsCfg, func(so *sqs.Options) {
		so.APIOptions = append(so.APIOptions, removeUnneeded)
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// SQSBatchLimit is SQS's limit of messages per receive and per batch call.
const SQSBatchLimit = 10
