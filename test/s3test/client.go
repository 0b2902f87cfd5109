package s3test

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Region is the region every local server and client here uses. MinIO
// accepts any region in signatures as long as it is the configured one, and
// us-east-1 is its default.
const Region = "us-east-1"

// NewClient returns an S3 client for a local endpoint: path-style
// addressing (no bucket DNS names on 127.0.0.1), an explicit region and
// static credentials (nothing read from the environment or ~/.aws, so tests
// never pick up a developer's real account), and checksums only where the
// API requires them (gofakes3 does not speak the aws-chunked trailers the
// SDK would otherwise send). optFns are applied last.
func NewClient(endpoint, accessKey, secretKey string, optFns ...func(*s3.Options)) *s3.Client {
	o := s3.Options{
		Region:                     Region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	return s3.New(o, optFns...)
}

// FastRetries makes the client's standard retryer try up to maxAttempts
// times (1: no retries) with a 5 ms backoff and no retry quota, so tests of
// retry behaviour take milliseconds, not the default backoff's seconds, and
// many faults in a row never exhaust the token bucket. Which errors are
// retried stays the SDK's own decision: that is what the tests observe.
func FastRetries(maxAttempts int) func(*s3.Options) {
	return func(o *s3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) {
				return 5 * time.Millisecond, nil
			})
			so.RateLimiter = ratelimit.None
		})
	}
}
