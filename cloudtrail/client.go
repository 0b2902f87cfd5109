package cloudtrail

import (
	"context"
	"fmt"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// S3API is the part of the S3 API the input uses: listing and reading.
// *s3.Client satisfies it; tests wrap or fake it. A client that also has
// HeadObject (as *s3.Client does) lets the start-up check tell a missing
// kms:Decrypt from a missing s3:GetObject.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3Header is the optional HeadObject of an S3API: *s3.Client has it; the
// start-up check uses it to tell a missing kms:Decrypt from a missing
// s3:GetObject, and the deadline decorator forwards it.
type S3Header interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// roleSessionName names the input's sessions in the assumed role's
// CloudTrail events, so its reads are recognisable in the trail itself.
const RoleSessionName = "opsworks-trail-cloudtrail_s3"

// S3ClientOptions is what NewS3Client needs: the input fills it from its
// keys (region, profile, role_arn, external_id, endpoint, force_path_style,
// max_retries), the CLI from its flags.
type S3ClientOptions struct {
	Region         string
	Profile        string
	RoleARN        string
	ExternalID     string
	Endpoint       string
	ForcePathStyle bool
	MaxRetries     int
	APITimeout     time.Duration // the deadline of an STS call (AssumeRole); 0: none
}

// NewS3Client builds an S3 client with the
// SDK's default credential chain (environment, shared config and
// credentials files with `profile`, web identity/IRSA, ECS, EC2 instance
// metadata), optionally assuming `role_arn` (with `external_id`) on top of
// it. `region` is required unless the chain provides one (AWS_REGION, the
// profile's region). `endpoint` and `force_path_style` serve MinIO and
// LocalStack. Requests are retried by the SDK's standard retryer
// (exponential backoff with jitter on throttling, 5xx and broken
// connections) up to `max_retries` times; its client-side retry quota is
// off, because a backfill that is throttled for a while must slow down,
// not fail. Nothing here logs credentials.
func NewS3Client(ctx context.Context, cfg S3ClientOptions) (S3API, error) {
	awsCfg, err := NewAWSConfig(ctx, cfg.AWSOptions())
	if err != nil {
		return nil, err
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, removeUnneeded)
		o.UsePathStyle = cfg.ForcePathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// S3-compatible servers do not all speak the newer checksum
			// headers; gzip's own CRC already checks every object read.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	}), nil
}

// AWSOptions are the options' credentials, region and retries.
func (o S3ClientOptions) AWSOptions() AWSOptions {
	return AWSOptions{Region: o.Region, Profile: o.Profile, RoleARN: o.RoleARN, ExternalID: o.ExternalID,
		MaxRetries: o.MaxRetries, APITimeout: o.APITimeout}
}

// newRetryer is the SDK's standard retryer of every AWS client here (S3,
// SQS, STS, CloudTrail): maxRetries retries with backoff and jitter, no
// client-side retry quota (a backfill throttled for a while must slow
// down, not fail), and certificate errors not retried: the SDK counts a
// failed TLS handshake as a connection error, so a CA missing from
// AWS_CA_BUNDLE would otherwise take minutes of retries to report.
func newRetryer(maxRetries int) func() aws.Retryer {
	return func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxRetries + 1
			o.RateLimiter = ratelimit.None
			o.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				if IsCertificateError(err) {
					return aws.FalseTernary
				}
				return aws.UnknownTernary
			})}, o.Retryables...)
		})
	}
}

// AccessError is a failed start-up check: Permission is the IAM action
// that is missing ("" when the problem is not a permission) and Resource
// the ARN it is needed on.
type AccessError struct {
	Permission string
	Resource   string
	Detail     string
	Err        error
}

func (e *AccessError) Error() string {
	msg := "access check: " + e.Detail
	if e.Permission != "" {
		msg = fmt.Sprintf("access check: missing permission %s on %s (%s)", e.Permission, e.Resource, e.Detail)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *AccessError) Unwrap() error { return e.Err }

// stsClient is the STS client of AssumeRole, its calls bounded by timeout
// (api_timeout): a credentials refresh that hangs would hold every S3 or
// SQS call behind it.
func stsClient(cfg aws.Config, timeout time.Duration) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if timeout <= 0 {
			return
		}
		// The configuration's own client carries AWS_CA_BUNDLE's roots
		// (and the proxy settings): keep them, only add the deadline.
		if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = bc.WithTimeout(timeout)
		} else {
			o.HTTPClient = awshttp.NewBuildableClient().WithTimeout(timeout)
		}
	})
}
