package sqstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Region is the region of every server and client here. local-aws-sqs
// accepts requests signed for any region; it only puts this one in ARNs.
const Region = "us-east-1"

// AccountID is the account in the servers' queue URLs and ARNs
// (http://127.0.0.1:PORT/000000000000/NAME, arn:aws:sqs:us-east-1:000000000000:NAME).
const AccountID = "000000000000"

// callTimeout bounds each API call the helpers make.
const callTimeout = 10 * time.Second

// NewClient returns an SQS client for a local endpoint: an explicit region
// and static credentials "test"/"test" (nothing read from the environment or
// ~/.aws, so tests never pick up a developer's real account), and the SDK's
// default retries and MD5 checks of message bodies. optFns are applied last.
func NewClient(endpoint, region string, optFns ...func(*sqs.Options)) *sqs.Client {
	o := sqs.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
	return sqs.New(o, optFns...)
}

// Client is an SQS client for the server (see NewClient).
func (s *Server) Client(t testing.TB, optFns ...func(*sqs.Options)) *sqs.Client {
	t.Helper()
	return NewClient(s.Endpoint, s.Region, optFns...)
}

// QueueOptions are the attributes CreateQueue sets; the zero value is a
// standard queue with SQS's defaults.
type QueueOptions struct {
	// VisibilityTimeout is the queue's default visibility timeout, in whole
	// seconds (SQS has no finer unit) up to 12 hours; 0 keeps the default,
	// 30 s. ReceiveMessage and ChangeMessageVisibility can override it per
	// message, down to 0.
	VisibilityTimeout time.Duration
	// DeadLetter creates NAME-dlq first and gives the queue a redrive
	// policy that moves a message there once it has been received
	// MaxReceiveCount times without being deleted.
	DeadLetter bool
	// MaxReceiveCount is the redrive policy's maxReceiveCount, 1 to 1000;
	// it must be set with DeadLetter, and only with it.
	MaxReceiveCount int
}

// CreateQueue creates a standard queue (and its dead-letter queue, with
// opts.DeadLetter) and returns its URL. The test fails on any error.
func (s *Server) CreateQueue(t testing.TB, name string, opts QueueOptions) string {
	t.Helper()
	url, _ := s.createQueue(t, name, opts)
	return url
}

// CreateQueueWithDLQ is CreateQueue with opts.DeadLetter set, returning the
// dead-letter queue's URL too (its name is name+"-dlq").
func (s *Server) CreateQueueWithDLQ(t testing.TB, name string, opts QueueOptions) (queueURL, dlqURL string) {
	t.Helper()
	opts.DeadLetter = true
	return s.createQueue(t, name, opts)
}

func (s *Server) createQueue(t testing.TB, name string, opts QueueOptions) (queueURL, dlqURL string) {
	t.Helper()
	attrs := map[string]string{}
	if v := opts.VisibilityTimeout; v != 0 {
		if v < 0 || v > 12*time.Hour || v%time.Second != 0 {
			t.Fatalf("sqstest: QueueOptions.VisibilityTimeout is %v; SQS takes whole seconds from 0 to 12h", v)
		}
		attrs["VisibilityTimeout"] = strconv.Itoa(int(v / time.Second))
	}
	switch {
	case opts.DeadLetter && (opts.MaxReceiveCount < 1 || opts.MaxReceiveCount > 1000):
		t.Fatalf("sqstest: QueueOptions.MaxReceiveCount is %d; set it to 1–1000 with DeadLetter", opts.MaxReceiveCount)
	case !opts.DeadLetter && opts.MaxReceiveCount != 0:
		t.Fatalf("sqstest: QueueOptions.MaxReceiveCount is set without DeadLetter; set DeadLetter (or use CreateQueueWithDLQ)")
	}

	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	c := s.Client(t)
	if opts.DeadLetter {
		dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
		if err != nil {
			t.Fatalf("sqstest: creating queue %s-dlq: %v", name, err)
		}
		dlqURL = aws.ToString(dlq.QueueUrl)
		got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       dlq.QueueUrl,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatalf("sqstest: reading the ARN of %s: %v", dlqURL, err)
		}
		policy, _ := json.Marshal(struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}{got.Attributes[string(types.QueueAttributeNameQueueArn)], opts.MaxReceiveCount})
		attrs["RedrivePolicy"] = string(policy)
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("sqstest: creating queue %s (attributes %v): %v", name, attrs, err)
	}
	return aws.ToString(out.QueueUrl), dlqURL
}

// Counts returns a queue's ApproximateNumberOfMessages (messages available
// for retrieval) and ApproximateNumberOfMessagesNotVisible (received and
// neither deleted nor back). On a server started here both are exact, and
// mean what they mean in SQS (local-aws-sqs itself counts messages in
// flight in the first; server.js corrects that). Delayed messages are in
// neither.
func Counts(ctx context.Context, c *sqs.Client, queueURL string) (visible, inFlight int, err error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("counting messages in %s: %w", queueURL, err)
	}
	n := func(name types.QueueAttributeName) (int, error) {
		v, ok := out.Attributes[string(name)]
		if !ok {
			return 0, fmt.Errorf("counting messages in %s: the response has no %s", queueURL, name)
		}
		i, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("counting messages in %s: %s is %q", queueURL, name, v)
		}
		return i, nil
	}
	if visible, err = n(types.QueueAttributeNameApproximateNumberOfMessages); err != nil {
		return 0, 0, err
	}
	if inFlight, err = n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible); err != nil {
		return 0, 0, err
	}
	return visible, inFlight, nil
}

// SendBodies sends one message per body, in order, with SendMessageBatch
// (10 per request, the SQS maximum). Entries the server refuses make an
// error naming them (by index in bodies); the batches before theirs, and
// the other entries of it, were sent.
func SendBodies(ctx context.Context, c *sqs.Client, queueURL string, bodies ...string) error {
	for start := 0; start < len(bodies); start += 10 {
		batch := bodies[start:min(start+10, len(bodies))]
		entries := make([]types.SendMessageBatchRequestEntry, len(batch))
		for i, b := range batch {
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(start + i)), MessageBody: aws.String(b)}
		}
		out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("sending messages %d–%d to %s: %w", start, start+len(batch)-1, queueURL, err)
		}
		if len(out.Failed) > 0 {
			var errs []error
			for _, f := range out.Failed {
				errs = append(errs, fmt.Errorf("message %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
			}
			return fmt.Errorf("sending messages to %s: %d of %d refused: %w", queueURL, len(out.Failed), len(batch), errors.Join(errs...))
		}
		if len(out.Successful) != len(batch) {
			return fmt.Errorf("sending messages to %s: %d of %d acknowledged", queueURL, len(out.Successful), len(batch))
		}
	}
	return nil
}
