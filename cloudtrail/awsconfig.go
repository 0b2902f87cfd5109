package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/smithy-go/middleware"
)

// AWSOptions is what every AWS client here (S3, SQS, STS, CloudTrail)
// is built from: credentials, region, retries and the STS deadline.
type AWSOptions struct {
	Region     string
	Profile    string
	RoleARN    string // assumed on top of the default chain; "": none
	ExternalID string
	MaxRetries int
	APITimeout time.Duration // the deadline of an STS call (AssumeRole); 0: none
}

// NewAWSConfig is the one place the AWS configuration and its HTTP client
// are made, for S3, SQS, STS and CloudTrail alike: the SDK's default
// credential chain (environment, shared files with Profile, web
// identity/IRSA, ECS, EC2 instance metadata), Region, the standard retryer
// (newRetryer), RoleARN assumed through STS with the APITimeout, and
// newHTTPClient's transport. The SDK applies HTTPS_PROXY/NO_PROXY (through
// the transport's ProxyFromEnvironment) and AWS_CA_BUNDLE (to the
// transport's roots) to that client; api_timeout and stall_timeout are
// per call (WithS3Deadline, WithSQSDeadline, ReadOptions), not here.
// A config without a region is an error naming the keys that set one.
func NewAWSConfig(ctx context.Context, o AWSOptions) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(newRetryer(o.MaxRetries)),
		config.WithHTTPClient(newHTTPClient()),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(o.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if o.Profile != "" {
			return aws.Config{}, fmt.Errorf("profile: loading AWS configuration for profile %q: %w", o.Profile, err)
		}
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return aws.Config{}, errNoRegion
	}
	if o.RoleARN != "" {
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient(awsCfg, o.APITimeout), o.RoleARN,
			func(ao *stscreds.AssumeRoleOptions) {
				ao.RoleSessionName = RoleSessionName
				if o.ExternalID != "" {
					ao.ExternalID = aws.String(o.ExternalID)
				}
			}))
	}
	return awsCfg, nil
}

var errNoRegion = errors.New("region: no AWS region configured; set region (the bucket's region), or AWS_REGION, or a region in the profile")

// maxIdleConnsPerHost is how many idle connections to one endpoint the
// HTTP client keeps: at least the input's largest `workers` (256), so
// that every worker reading small objects reuses its connection instead
// of opening (and for HTTPS, handshaking) a new one per object; the SDK's
// default is 10.
const maxIdleConnsPerHost = 256

// newHTTPClient is the HTTP client of every AWS client (through
// NewAWSConfig): the SDK's buildable client, so that the SDK can still add
// AWS_CA_BUNDLE's roots and an STS deadline to it, with a connection pool
// sized for the input's workers and read buffers sized for whole small
// objects.
func newHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 2 * maxIdleConnsPerHost // S3 and SQS endpoints, or a few regions
		t.MaxIdleConnsPerHost = maxIdleConnsPerHost
		// Go's default 4 KiB buffer takes several reads for one stored
		// CloudTrail object (typically 5–50 KB); 64 KiB takes most whole.
		t.ReadBufferSize = 64 << 10
	})
}

// unneededMiddleware are SDK steps the input's S3 and SQS calls do without:
// each costs an allocation or a random number per request and sends
// nothing the service needs. ClientRequestID is the amz-sdk-invocation-id
// header (a random UUID per call, for client metrics); RecursionDetection copies the Lambda trace ID (the input never
// runs in Lambda); the AWSChecksum steps set up and count response
// checksum validation, which is off (gzip's CRC checks every object).
var unneededMiddleware = []string{"ClientRequestID", "RecursionDetection",
	"AWSChecksum:SetupOutputContext", "AWSChecksum:ResponseMetricsTracking"}

// removeUnneeded takes unneededMiddleware out of an operation's stack.
// Steps that an operation or SDK version lacks are skipped (looked up
// first: Remove of a missing step builds an error per call).
func removeUnneeded(stack *middleware.Stack) error {
	for _, id := range unneededMiddleware {
		if _, ok := stack.Initialize.Get(id); ok {
			stack.Initialize.Remove(id)
		}
		if _, ok := stack.Build.Get(id); ok {
			stack.Build.Remove(id)
		}
		if _, ok := stack.Finalize.Get(id); ok {
			stack.Finalize.Remove(id)
		}
	}
	return nil
}
