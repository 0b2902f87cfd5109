package input

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// isolateAWSEnv clears every environment variable the SDK's default chain
// reads, so tests see only what they set (and never the machine's
// credentials or instance metadata).
func isolateAWSEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return dir
}

// authRecorder serves gofakes3 and remembers the access key IDs that
// signed the requests.
type authRecorder struct {
	mu   sync.Mutex
	keys map[string]int
}

func (a *authRecorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
			a.mu.Lock()
			a.keys[strings.Split(cred, "/")[0]]++
			a.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func newRecordedFake(t *testing.T) (string, *authRecorder) {
	backend := s3mem.New()
	if err := backend.CreateBucket(s3test.TestBucket); err != nil {
		t.Fatal(err)
	}
	rec := &authRecorder{keys: map[string]int{}}
	server := httptest.NewServer(rec.wrap(gofakes3.New(backend).Server()))
	t.Cleanup(server.Close)
	return server.URL, rec
}

func mustInputConfig(t *testing.T, m config.MapGetter) *Config {
	t.Helper()
	cfg, err := LoadConfig(m)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestNewS3ClientRegion(t *testing.T) {
	dir := isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	_, err := cloudtrail.NewS3Client(context.Background(), mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket}).S3ClientOptions())
	if err == nil || !strings.HasPrefix(err.Error(), "region: ") {
		t.Fatalf("no region: got %v, want an error naming region", err)
	}
	// The chain's region (a profile) is enough.
	os.WriteFile(filepath.Join(dir, "config"), []byte("[profile audit]\nregion = eu-west-1\n"), 0o600)
	c, err := cloudtrail.NewS3Client(context.Background(), mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket, "profile": "audit"}).S3ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.(*s3.Client).Options().Region; got != "eu-west-1" {
		t.Errorf("region from profile = %q", got)
	}
	// The key wins over the chain; max_retries sets the SDK's attempts.
	c, err = cloudtrail.NewS3Client(context.Background(), mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket, "profile": "audit", "region": "us-west-2", "max_retries": "7"}).S3ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	if o := c.(*s3.Client).Options(); o.Region != "us-west-2" || o.Retryer.MaxAttempts() != 8 {
		t.Errorf("region %q, attempts %d", o.Region, o.Retryer.MaxAttempts())
	}
	if _, err := cloudtrail.NewS3Client(context.Background(), mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket, "profile": "nosuch"}).S3ClientOptions()); err == nil || !strings.HasPrefix(err.Error(), "profile: ") {
		t.Errorf("unknown profile: %v", err)
	}
}

func TestNewS3ClientEndpointAndEnvCredentials(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	url, rec := newRecordedFake(t)
	c, err := cloudtrail.NewS3Client(context.Background(), mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket, "region": "us-east-1", "endpoint": url, "force_path_style": "on"}).S3ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(s3test.TestBucket)}); err != nil {
		t.Fatal(err)
	}
	if rec.keys["AKIDENV"] == 0 {
		t.Errorf("requests not signed with the environment's key: %v", rec.keys)
	}
}

// fakeSTS answers AssumeRole (query protocol) with fixed credentials and
// records the parameters.
func fakeSTS(t *testing.T, form *map[string]string) string {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got := map[string]string{}
		for k := range r.PostForm {
			got[k] = r.PostForm.Get(k)
		}
		*form = got
		w.Header().Set("Content-Type", "text/xml")
		w.Write([]byte(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>s</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/audit/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleResponse>`))
	}))
	t.Cleanup(server.Close)
	return server.URL
}

func TestNewS3ClientAssumeRole(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDBASE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	var form map[string]string
	t.Setenv("AWS_ENDPOINT_URL_STS", fakeSTS(t, &form))
	url, rec := newRecordedFake(t)
	c, err := cloudtrail.NewS3Client(context.Background(), mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket, "region": "us-east-1",
		"endpoint": url, "force_path_style": "on", "role_arn": "arn:aws:iam::111122223333:role/audit", "external_id": "ext-42"}).S3ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(s3test.TestBucket)}); err != nil {
		t.Fatal(err)
	}
	if form["Action"] != "AssumeRole" || form["RoleArn"] != "arn:aws:iam::111122223333:role/audit" || form["ExternalId"] != "ext-42" || form["RoleSessionName"] != cloudtrail.RoleSessionName {
		t.Errorf("AssumeRole parameters: %v", form)
	}
	if rec.keys["ASIAASSUMED"] == 0 || rec.keys["AKIDBASE"] != 0 {
		t.Errorf("S3 requests should be signed with the role's key only: %v", rec.keys)
	}
}

// deniedS3 denies chosen calls as S3 does (AccessDenied), optionally
// saying the object is SSE-KMS encrypted when asked with HeadObject.
type deniedS3 struct {
	cloudtrail.S3API
	denyList, denyGet, denyHead bool
	kmsKey                      string
	getMessage                  string
}

var errAccessDenied = &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}

func (d *deniedS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if d.denyList {
		return nil, errAccessDenied
	}
	return d.S3API.ListObjectsV2(ctx, in, optFns...)
}

func (d *deniedS3) GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if d.denyGet {
		msg := d.getMessage
		if msg == "" {
			msg = "Access Denied"
		}
		return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: msg}
	}
	return d.S3API.GetObject(ctx, in, optFns...)
}

func (d *deniedS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if d.denyHead {
		return nil, errAccessDenied
	}
	out := &s3.HeadObjectOutput{}
	if d.kmsKey != "" {
		out.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		out.SSEKMSKeyId = aws.String(d.kmsKey)
	}
	return out, nil
}

func TestS3AccessCheck(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	logKey := "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/30/111122223333_CloudTrail_us-east-1_20240530T0005Z_abcdefABCDEF0123.json.gz"
	f.Put(t, "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/30/111122223333_CloudTrail-Digest_us-east-1_main_us-east-1_20240530T000000Z.json.gz", []byte("{}"))
	f.Put(t, logKey, []byte(`{"Records":[]}`))
	kmsARN := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name   string
		client *deniedS3
		want   []string // substrings; none: success
	}{
		{"allowed", &deniedS3{}, nil},
		{"list denied", &deniedS3{denyList: true}, []string{"s3:ListBucket", "arn:aws:s3:::" + s3test.TestBucket}},
		{"get denied", &deniedS3{denyGet: true, denyHead: true}, []string{"s3:GetObject", "arn:aws:s3:::" + s3test.TestBucket + "/" + logKey}},
		{"kms key denied", &deniedS3{denyGet: true, kmsKey: kmsARN}, []string{"kms:Decrypt", kmsARN}},
		{"kms named in the message", &deniedS3{denyGet: true, denyHead: true, getMessage: "User is not authorized to perform: kms:Decrypt"}, []string{"kms:Decrypt"}},
		{"plain object, get denied", &deniedS3{denyGet: true}, []string{"s3:GetObject"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.client.S3API = f.Client
			a := &s3Access{client: tt.client, bucket: s3test.TestBucket, list: mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket}).ListOptions(), warn: t.Logf}
			err := a.check(context.Background())
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ae *cloudtrail.AccessError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want an AccessError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestS3AccessCheckEmptyAndMissingBucket(t *testing.T) {
	f := s3test.NewFakeBucket(t)
	var warned []string
	a := &s3Access{client: f.Client, bucket: s3test.TestBucket, list: mustInputConfig(t, config.MapGetter{"bucket": s3test.TestBucket, "accounts": "111122223333"}).ListOptions(),
		warn: func(format string, args ...any) { warned = append(warned, format) }}
	if err := a.check(context.Background()); err != nil || len(warned) != 1 {
		t.Fatalf("empty archive: err %v, warnings %v", err, warned)
	}
	a.bucket, a.list = "no-such-bucket", mustInputConfig(t, config.MapGetter{"bucket": "no-such-bucket"}).ListOptions()
	if err := a.check(context.Background()); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("missing bucket: %v", err)
	}
}
