package cloudtrail

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ct "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
)

// PublicKey is one of CloudTrail's digest signing keys: Value is the PKCS #1
// DER RSA public key.
type PublicKey struct {
	Fingerprint string
	Value       []byte
}

// ListPublicKeys returns the digest signing keys CloudTrail used in region
// between start and end (CloudTrail ListPublicKeys, all pages). The client
// is the SDK's default configuration with cfg's credentials options and
// region; the SDK's standard AWS_ENDPOINT_URL_CLOUDTRAIL (or
// AWS_ENDPOINT_URL) selects another endpoint. Errors name the region.
func ListPublicKeys(ctx context.Context, cfg S3ClientOptions, region string, start, end time.Time) ([]PublicKey, error) {
	cfg.Region = region
	awsCfg, err := NewAWSConfig(ctx, cfg.AWSOptions())
	if err != nil {
		return nil, err
	}
	client := ct.NewFromConfig(awsCfg)
	in := &ct.ListPublicKeysInput{}
	if !start.IsZero() {
		in.StartTime = aws.Time(start)
	}
	if !end.IsZero() {
		in.EndTime = aws.Time(end)
	}
	var keys []PublicKey
	p := ct.NewListPublicKeysPaginator(client, in)
	for p.HasMorePages() {
		callCtx, cancel := ctx, context.CancelFunc(func() {})
		if cfg.APITimeout > 0 {
			callCtx, cancel = context.WithTimeout(ctx, cfg.APITimeout)
		}
		out, err := p.NextPage(callCtx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("cloudtrail:ListPublicKeys in %s: %w", region, err)
		}
		for _, k := range out.PublicKeyList {
			keys = append(keys, PublicKey{Fingerprint: aws.ToString(k.Fingerprint), Value: k.Value})
		}
	}
	return keys, nil
}
