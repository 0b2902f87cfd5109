package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// s3Access runs the start-up check of S3 mode: a listing of the prefix
// (s3:ListBucket), then the first byte of one log file (s3:GetObject, and
// kms:Decrypt for SSE-KMS trails). It reads a log file rather than any
// object because digest files are never SSE-KMS encrypted, and they sort
// first. An archive with no log file yet passes with a warning.
type s3Access struct {
	client  cloudtrail.S3API
	timeout time.Duration // api_timeout: the whole one-byte read, body included
	bucket  string
	list    cloudtrail.ListOptions // prefix, org_id, accounts, regions, discover_orgs
	warn    func(format string, args ...any)
}

func (a *s3Access) check(ctx context.Context) error {
	root := cloudtrail.NormalizePrefix(a.list.Prefix)
	if a.list.OrgID != "" {
		root += a.list.OrgID + "/"
	}
	key, err := a.sampleLogKey(ctx, root)
	if err != nil {
		return err
	}
	if key == "" {
		a.warn("no CloudTrail log file found under s3://%s/%s yet (checked the first accounts listed); nothing to read so far", a.bucket, root)
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
	accounts := a.list.Accounts
	if len(accounts) == 0 {
		accounts = cloudtrail.FilterNames(children, cloudtrail.IsAccount)
	}
	if len(accounts) == 0 && a.list.DiscoverOrgs {
		if orgs := cloudtrail.FilterNames(children, cloudtrail.IsOrgID); len(orgs) > 0 {
			root += orgs[0] + "/"
			if children, err = a.children(ctx, root); err != nil {
				return "", err
			}
			accounts = cloudtrail.FilterNames(children, cloudtrail.IsAccount)
		}
	}
	for i, acct := range accounts {
		if i == 3 {
			break // enough: this is a permission check, not a search
		}
		prefix := root + acct + "/" + cloudtrail.KindLog.Folder() + "/"
		if len(a.list.Regions) > 0 {
			prefix += a.list.Regions[0] + "/"
		}
		out, err := a.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(a.bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1)})
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
	out, err := a.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(a.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
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
	where := fmt.Sprintf("listing s3://%s/%s", a.bucket, prefix)
	switch cloudtrail.Classify(err) {
	case cloudtrail.ReasonAccessDenied:
		return &cloudtrail.AccessError{Permission: "s3:ListBucket", Resource: "arn:aws:s3:::" + a.bucket, Detail: where, Err: err}
	case cloudtrail.ReasonNoSuchBucket:
		return &cloudtrail.AccessError{Detail: fmt.Sprintf("bucket %q does not exist (check bucket, region and endpoint)", a.bucket), Err: err}
	}
	return &cloudtrail.AccessError{Detail: where, Err: err}
}

// checkGet reads the first byte of key. Only a denial fails the check:
// an archived or vanished object says nothing about permissions.
func (a *s3Access) checkGet(ctx context.Context, key string) error {
	if a.timeout > 0 { // one byte: a deadline on the whole read cuts nothing that is still arriving
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	out, err := a.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(key), Range: aws.String("bytes=0-0")})
	if err == nil {
		_, err = io.Copy(io.Discard, out.Body) // a body that fails is warned about below
		out.Body.Close()
	}
	if err == nil {
		return nil
	}
	if cloudtrail.Classify(err) != cloudtrail.ReasonAccessDenied {
		a.warn("start-up read of s3://%s/%s failed (%s); continuing: %v", a.bucket, key, cloudtrail.Classify(err), err)
		return nil
	}
	where := fmt.Sprintf("reading s3://%s/%s", a.bucket, key)
	if kmsKey, isKMS := a.kmsKeyOf(ctx, key, err); isKMS {
		resource := kmsKey
		if resource == "" {
			resource = "the trail's KMS key"
		}
		return &cloudtrail.AccessError{Permission: "kms:Decrypt", Resource: resource, Detail: where + ", an SSE-KMS encrypted object", Err: err}
	}
	return &cloudtrail.AccessError{Permission: "s3:GetObject", Resource: "arn:aws:s3:::" + a.bucket + "/" + key, Detail: where, Err: err}
}

// kmsKeyOf tells whether a denied GET was about the object's KMS key: S3
// says so in the message, or HeadObject (which needs no kms:Decrypt)
// shows SSE-KMS encryption.
func (a *s3Access) kmsKeyOf(ctx context.Context, key string, getErr error) (string, bool) {
	var apiErr smithy.APIError
	mentionsKMS := errors.As(getErr, &apiErr) && strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "kms")
	h, ok := a.client.(cloudtrail.S3Header)
	if !ok {
		return "", mentionsKMS
	}
	head, err := h.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(a.bucket), Key: aws.String(key)})
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
