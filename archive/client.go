package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// S3API is the part of the S3 API the input uses: listing and reading.
// *s3.Client satisfies it; tests wrap or fake it. A client that also has
// HeadObject (as *s3.Client does) lets the start-up check tell a missing
// kms:Decrypt from a missing s3:GetObject.
type S3API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// s3Header is the optional HeadObject of an S3API.
type s3Header interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// roleSessionName names the input's sessions in the assumed role's
// CloudTrail events, so its reads are recognisable in the trail itself.
const roleSessionName = "opsworks-trail-cloudtrail_s3"

// NewS3Client builds an S3 client from the input's configuration with the
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
func NewS3Client(ctx context.Context, cfg *InputConfig) (S3API, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxRetries + 1
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(cfg.Profile))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if cfg.Profile != "" {
			return nil, fmt.Errorf("profile: loading AWS configuration for profile %q: %w", cfg.Profile, err)
		}
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("region: no AWS region configured; set region (the bucket's region), or AWS_REGION, or a region in the profile")
	}
	if cfg.RoleARN != "" {
		awsCfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), cfg.RoleARN,
			func(o *stscreds.AssumeRoleOptions) {
				o.RoleSessionName = roleSessionName
				if cfg.ExternalID != "" {
					o.ExternalID = aws.String(cfg.ExternalID)
				}
			}))
	}
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
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

// gate holds new S3 calls (and local reads and listing steps) while the
// input is paused. A call already under way finishes.
type gate struct {
	mu     sync.Mutex
	paused bool
	resume chan struct{} // closed when the pause ends
}

func (g *gate) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.paused {
		g.paused, g.resume = true, make(chan struct{})
	}
}

func (g *gate) unpause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.paused = false
		close(g.resume)
	}
}

func (g *gate) isPaused() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// wait returns once the gate is open, or with ctx's error.
func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		paused, ch := g.paused, g.resume
		g.mu.Unlock()
		if !paused {
			return ctx.Err()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// gatedS3 passes every call through the gate first.
type gatedS3 struct {
	inner S3API
	gate  *gate
}

func (g gatedS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := g.gate.wait(ctx); err != nil {
		return nil, err
	}
	return g.inner.ListObjectsV2(ctx, in, optFns...)
}

func (g gatedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := g.gate.wait(ctx); err != nil {
		return nil, err
	}
	return g.inner.GetObject(ctx, in, optFns...)
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

// s3Access runs the start-up check of S3 mode: a listing of the prefix
// (s3:ListBucket), then the first byte of one log file (s3:GetObject, and
// kms:Decrypt for SSE-KMS trails). It reads a log file rather than any
// object because digest files are never SSE-KMS encrypted, and they sort
// first. An archive with no log file yet passes with a warning.
type s3Access struct {
	client S3API
	cfg    *InputConfig
	warn   func(format string, args ...any)
}

func (a *s3Access) check(ctx context.Context) error {
	root := NormalizePrefix(a.cfg.Prefix)
	if a.cfg.OrgID != "" {
		root += a.cfg.OrgID + "/"
	}
	key, err := a.sampleLogKey(ctx, root)
	if err != nil {
		return err
	}
	if key == "" {
		a.warn("no CloudTrail log file found under s3://%s/%s yet (checked the first accounts listed); nothing to read so far", a.cfg.Bucket, root)
		return nil
	}
	return a.checkGet(ctx, key)
}

// sampleLogKey finds one log file's key: under the first configured or
// listed accounts (and organizations, with discover_orgs).
func (a *s3Access) sampleLogKey(ctx context.Context, root string) (string, error) {
	children, err := a.children(ctx, root)
	if err != nil {
		return "", err
	}
	accounts := a.cfg.Accounts
	if len(accounts) == 0 {
		accounts = filterNames(children, isAccount)
	}
	if len(accounts) == 0 && a.cfg.DiscoverOrgs {
		if orgs := filterNames(children, isOrgID); len(orgs) > 0 {
			root += orgs[0] + "/"
			if children, err = a.children(ctx, root); err != nil {
				return "", err
			}
			accounts = filterNames(children, isAccount)
		}
	}
	for i, acct := range accounts {
		if i == 3 {
			break // enough: this is a permission check, not a search
		}
		prefix := root + acct + "/" + KindLog.Folder() + "/"
		if len(a.cfg.Regions) > 0 {
			prefix += a.cfg.Regions[0] + "/"
		}
		out, err := a.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(a.cfg.Bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
		if err != nil {
			return "", a.listError(prefix, err)
		}
		if len(out.Contents) > 0 {
			return aws.ToString(out.Contents[0].Key), nil
		}
	}
	return "", nil
}

// children is one page of the folders under prefix.
func (a *s3Access) children(ctx context.Context, prefix string) ([]string, error) {
	out, err := a.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(a.cfg.Bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	if err != nil {
		return nil, a.listError(prefix, err)
	}
	var names []string
	for _, cp := range out.CommonPrefixes {
		names = append(names, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/"))
	}
	return names, nil
}

func (a *s3Access) listError(prefix string, err error) error {
	where := fmt.Sprintf("listing s3://%s/%s", a.cfg.Bucket, prefix)
	switch classify(err) {
	case ReasonAccessDenied:
		return &AccessError{Permission: "s3:ListBucket", Resource: "arn:aws:s3:::" + a.cfg.Bucket, Detail: where, Err: err}
	case ReasonNoSuchBucket:
		return &AccessError{Detail: fmt.Sprintf("bucket %q does not exist (check bucket, region and endpoint)", a.cfg.Bucket), Err: err}
	}
	return &AccessError{Detail: where, Err: err}
}

// checkGet reads the first byte of key. Only a denial fails the check:
// an archived or vanished object says nothing about permissions.
func (a *s3Access) checkGet(ctx context.Context, key string) error {
	out, err := a.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.cfg.Bucket), Key: aws.String(key), Range: aws.String("bytes=0-0")})
	if err == nil {
		io.Copy(io.Discard, out.Body)
		out.Body.Close()
		return nil
	}
	if classify(err) != ReasonAccessDenied {
		a.warn("start-up read of s3://%s/%s failed (%s); continuing: %v", a.cfg.Bucket, key, classify(err), err)
		return nil
	}
	where := fmt.Sprintf("reading s3://%s/%s", a.cfg.Bucket, key)
	if kmsKey, isKMS := a.kmsKeyOf(ctx, key, err); isKMS {
		resource := kmsKey
		if resource == "" {
			resource = "the trail's KMS key"
		}
		return &AccessError{Permission: "kms:Decrypt", Resource: resource, Detail: where + ", an SSE-KMS encrypted object", Err: err}
	}
	return &AccessError{Permission: "s3:GetObject", Resource: "arn:aws:s3:::" + a.cfg.Bucket + "/" + key, Detail: where, Err: err}
}

// kmsKeyOf tells whether a denied GET was about the object's KMS key: S3
// says so in the message, or HeadObject (which needs no kms:Decrypt)
// shows SSE-KMS encryption.
func (a *s3Access) kmsKeyOf(ctx context.Context, key string, getErr error) (string, bool) {
	var apiErr smithy.APIError
	mentionsKMS := errors.As(getErr, &apiErr) && strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "kms")
	h, ok := a.client.(s3Header)
	if !ok {
		return "", mentionsKMS
	}
	head, err := h.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(a.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return "", mentionsKMS
	}
	if strings.HasPrefix(string(head.ServerSideEncryption), "aws:kms") {
		return aws.ToString(head.SSEKMSKeyId), true
	}
	return "", mentionsKMS
}

// localAccess is the start-up check of local mode: the directory must be
// readable.
func localAccess(fsys fs.FS, path string) error {
	if _, err := fs.ReadDir(fsys, "."); err != nil {
		return fmt.Errorf("path: cannot read %s: %w", path, err)
	}
	return nil
}
