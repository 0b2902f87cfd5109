package input

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
)

// DefaultEventSources is the default event_sources push-down: the two
// OpsWorks services, as in the filter.
const DefaultEventSources = "opsworks.amazonaws.com,opsworks-cm.amazonaws.com"

// Batch sizes: batch_size's default follows the push-down. Fluent Bit
// collects from the input once a second, so the batch is the most the
// input hands on per second: 4M is far above what the OpsWorks push-down
// keeps of an archive, and well under the opsworks filter's default
// emitter_mem_buf_limit (10M), which its re-tagged events pass through.
// Reading every event (`event_sources *`), 4M would hold a backfill to
// 4 MB/s; AllEventsBatchSize lets it run at about 45 MB/s
// (test/bench/s3/allevents.sh) and stays under buffer_size's default, so
// a collect can take a whole batch. A filter that re-tags every event
// needs its emitter_mem_buf_limit raised in step, to two batches (one
// arriving while the previous waits for its flush); the README says so
// and TestBatchSizesInStepWithTheEmitter checks it.
const (
	DefaultBatchSize   = "4M"
	AllEventsBatchSize = "48M"
)

// Record modes.
const (
	RecordModeEvent  = "event"  // one record per CloudTrail event
	RecordModeObject = "object" // one record per log file: {"Records": [...], provenance}
)

// Options is the complete list of keys the cloudtrail_s3 input
// accepts, with their defaults, in README order (the plugin builds its
// config map from it).
var Options = []config.Option{
	{Key: "bucket", Default: "", Description: "S3 bucket of the trail (S3 mode). Exactly one of `bucket`, `path` and `queue_url` is required."},
	{Key: "prefix", Default: cloudtrail.DefaultPrefix, Description: "The trail's S3 key prefix, or the path up to `AWSLogs/` (S3 mode)."},
	{Key: "path", Default: "", Description: "Local directory holding a copy of the archive (local mode), e.g. from `aws s3 sync`."},
	{Key: "accounts", Default: "", Description: "Comma-separated 12-digit account IDs to read. Unset: every account found."},
	{Key: "regions", Default: "", Description: "Comma-separated regions to read. Unset: every region found."},
	{Key: "org_id", Default: "", Description: "Organization trail ID (`o-…`): read `AWSLogs/<org_id>/…`. Unset: the single-account layout (or `discover_orgs`)."},
	{Key: "discover_orgs", Default: "off", Description: "Find every organization ID under the prefix and read them all, plus single-account trees next to them (S3 mode)."},
	{Key: "start_time", Default: "", Description: "Read files delivered at or after this time (RFC 3339 or YYYY-MM-DD, UTC). Unset: from the start of the archive."},
	{Key: "end_time", Default: "", Description: "Read files delivered before this time (RFC 3339 or YYYY-MM-DD, UTC). Unset: up to now. Not with `follow`."},
	{Key: "follow", Default: "off", Description: "Keep polling for new files after the backfill. `off` stops after one pass (a bounded backfill)."},
	{Key: "exit_on_eof", Default: "off", Description: "Fluent Bit only (tail's name for it): when the window is read to its end and every batch was collected and committed, stop Fluent Bit gracefully; it exits 0, or 2 when objects failed or were unusable. Not with `follow on` or `queue_url`."},
	{Key: "poll_interval", Default: "5m", Description: "With `follow on`: the wait between two listings."},
	{Key: "late_arrival_window", Default: "1h", Description: "How far behind the newest delivered file late files are still looked for."},
	{Key: "include_insight", Default: "off", Description: "Also read CloudTrail Insights files (`CloudTrail-Insight/`)."},
	{Key: "event_sources", Default: DefaultEventSources, Description: "Comma-separated eventSource values to read (push-down: other events are dropped before decoding). `*` reads every event; an empty value is the same as none (the default)."},
	{Key: "record_mode", Default: RecordModeEvent, Description: "`event`: one record per CloudTrail event with `s3_bucket`/`s3_key` (local: `file_path`). `object`: one record per file, `{\"Records\": [...]}` with the same fields."},
	{Key: "workers", Default: "4", Description: "Objects read in parallel."},
	{Key: "buffer_size", Default: "64M", Description: "Most bytes of records prepared but not yet collected by Fluent Bit; readers wait when it is full. This bounds the input's memory."},
	{Key: "batch_size", Default: DefaultBatchSize, Description: "Most bytes of records handed to Fluent Bit per collect, that is per second (whole files only; a larger file goes alone). Unset with `event_sources *`: " + AllEventsBatchSize + ". Keep it under half the opsworks filter's `emitter_mem_buf_limit` when the filter re-tags most events."},
	{Key: "max_object_size", Default: "512M", Description: "Largest accepted file, uncompressed; larger ones are reported and skipped."},
	{Key: "state_dir", Default: "", Description: "Directory for the checkpoint file. Unset: no checkpoint, so a restart reads everything from `start_time` again."},
	{Key: "progress_interval", Default: "30s", Description: "How often progress is logged (0 disables)."},
	{Key: "region", Default: "", Description: "AWS region of the bucket. Unset: from the environment or the shared config (`AWS_REGION`, the profile)."},
	{Key: "profile", Default: "", Description: "Shared config/credentials profile."},
	{Key: "role_arn", Default: "", Description: "IAM role to assume (STS AssumeRole) with the default credentials."},
	{Key: "external_id", Default: "", Description: "External ID for `role_arn`."},
	{Key: "endpoint", Default: "", Description: "S3 endpoint URL (MinIO, LocalStack, a VPC endpoint)."},
	{Key: "force_path_style", Default: "off", Description: "Path-style S3 addressing (`endpoint/bucket/key`), as MinIO and LocalStack usually need."},
	{Key: "max_retries", Default: "5", Description: "Retries of a throttled or failed S3 request (with backoff), and again of a whole object read, before it counts as failed."},
	{Key: "api_timeout", Default: "120s", Description: "Deadline of one S3 list or head, STS or SQS call, and of a GetObject until its response headers arrive; a call past it is retried like a broken connection. Longer than `wait_time`."},
	{Key: "stall_timeout", Default: "60s", Description: "A GetObject body that delivers no byte for this long is abandoned, logged with its key and read again (up to `max_retries`); a body that keeps moving is never cut, however large the object."},
	{Key: "validate_integrity", Default: "off", Description: "CloudTrail log file integrity validation while reading (polling and local mode): each week's digests are read first, every event carries its file's verdict in `s3_integrity`, and every problem becomes an integrity record (see \"Integrity\" in the README)."},
	{Key: "public_keys_file", Default: "", Description: "With `validate_integrity`: comma-separated files in the JSON `aws cloudtrail list-public-keys` prints. Unset: CloudTrail `ListPublicKeys` per region, with the input's credentials (`AWS_ENDPOINT_URL_CLOUDTRAIL` selects another endpoint)."},
	{Key: "integrity_delay", Default: "90m", Description: "With `validate_integrity` and `follow on`: log files are read once they were delivered this long ago, when the digest that names them exists (the next hour's), so that their verdict is final."},
	{Key: "queue_url", Default: "", Description: "SQS queue URL: notification mode. The input receives S3 event notifications (also via SNS), CloudTrail's SNS notifications or EventBridge Object Created events and reads the objects they name, in whichever bucket. Not with `bucket`/`path` (bucket polling)."},
	{Key: "max_messages", Default: "1000", Description: "SQS mode: most messages in progress at once (received and not yet deleted). Fluent Bit collects once a second and a message is deleted after its records were collected, so this bounds the files per second one instance reads."},
	{Key: "wait_time", Default: "20s", Description: "SQS mode: long-poll wait of a receive (0s to 20s)."},
	{Key: "visibility_timeout", Default: "5m", Description: "SQS mode: visibility timeout of received messages; extended at half of it while their objects are in progress (2s to 12h)."},
	{Key: "sqs_region", Default: "", Description: "SQS mode: the queue's region. Unset: from the queue URL, else as `region`."},
	{Key: "sqs_role_arn", Default: "", Description: "SQS mode: IAM role to assume for the queue (it may be in another account than the bucket). Unset: the default credentials (not `role_arn`, which is for S3)."},
	{Key: "sqs_endpoint", Default: "", Description: "SQS mode: SQS endpoint URL (a VPC endpoint, a local SQS). Unset: from the queue URL when it is not an AWS one, else AWS's."},
}

// sqsOnlyKeys make sense only with queue_url; pollingOnlyKeys only without.
var (
	sqsOnlyKeys     = []string{"max_messages", "wait_time", "visibility_timeout", "sqs_region", "sqs_role_arn", "sqs_endpoint"}
	pollingOnlyKeys = []struct{ key, why string }{
		{"bucket", "notifications name the bucket of each object"},
		{"path", "notifications name S3 objects"},
		{"prefix", "notifications name whole keys; narrow them with the notification's prefix filter"},
		{"discover_orgs", "notifications name whole keys"},
		{"follow", "SQS mode always runs until stopped"},
		{"exit_on_eof", "SQS mode always runs until stopped"},
		{"poll_interval", "SQS mode receives continuously"},
		{"late_arrival_window", "a late file is announced like any other"},
		{"state_dir", "the queue is the state: a message is deleted once its objects are delivered"},
		{"validate_integrity", "a notification names one log file; the digest that vouches for it comes an hour later in another message. Verify the bucket with validate_integrity in polling mode or opsworks-trail verify"},
	}
)

// Config is the typed configuration of the cloudtrail_s3 input, with
// defaults applied. Keys are Options.
type Config struct {
	Bucket            string
	Prefix            string
	Path              string
	Accounts          []string
	Regions           []string
	OrgID             string
	DiscoverOrgs      bool
	StartTime         time.Time // zero: unset
	EndTime           time.Time // zero: unset
	Follow            bool
	ExitOnEOF         bool // Fluent Bit only: the CLI ends at the end of a window anyway
	PollInterval      time.Duration
	LateArrivalWindow time.Duration
	IncludeInsight    bool
	EventSources      []string // empty: no push-down, every event
	RecordMode        string   // RecordModeEvent or RecordModeObject
	Workers           int
	BufferSize        int
	BatchSize         int
	MaxObjectSize     int
	StateDir          string
	ProgressInterval  time.Duration
	Region            string
	Profile           string
	RoleARN           string
	ExternalID        string
	Endpoint          string
	ForcePathStyle    bool
	MaxRetries        int
	APITimeout        time.Duration
	StallTimeout      time.Duration

	// Integrity validation (polling and local mode).
	ValidateIntegrity bool
	PublicKeysFiles   []string // empty: ListPublicKeys
	IntegrityDelay    time.Duration

	// SQS mode (QueueURL set).
	QueueURL          string
	MaxMessages       int
	WaitTime          time.Duration
	VisibilityTimeout time.Duration
	SQSRegion         string
	SQSRoleARN        string
	SQSEndpoint       string
}

// S3Mode reports whether the input reads S3 (a bucket, or the objects
// that SQS notifications name), else a local path.
func (c *Config) S3Mode() bool { return c.Bucket != "" || c.QueueURL != "" }

// SQSMode reports whether the input is in SQS notification mode.
func (c *Config) SQSMode() bool { return c.QueueURL != "" }

// ListOptions is the listing the configuration selects (polling mode,
// and `opsworks-trail enqueue`).
func (c *Config) ListOptions() cloudtrail.ListOptions {
	return cloudtrail.ListOptions{Prefix: c.Prefix, OrgID: c.OrgID, DiscoverOrgs: c.DiscoverOrgs, Accounts: c.Accounts, Regions: c.Regions,
		Start: c.StartTime, End: c.EndTime, IncludeInsight: c.IncludeInsight}
}

// LoadConfig reads every key through g, applies defaults and
// validates. Errors start with the key they are about ("workers: …").
func LoadConfig(g config.Getter) (*Config, error) {
	if err := checkModeKeys(g); err != nil {
		return nil, err
	}
	r := config.NewReader(g, Options)
	c := &Config{
		Bucket: r.String("bucket"), Prefix: r.String("prefix"), Path: r.String("path"),
		Accounts: r.List("accounts"), Regions: r.List("regions"), OrgID: r.String("org_id"),
		RecordMode: strings.ToLower(r.String("record_mode")), StateDir: r.String("state_dir"),
		Region: r.String("region"), Profile: r.String("profile"), RoleARN: r.String("role_arn"), ExternalID: r.String("external_id"),
		Endpoint: r.String("endpoint"), QueueURL: r.String("queue_url"),
		SQSRegion: r.String("sqs_region"), SQSRoleARN: r.String("sqs_role_arn"), SQSEndpoint: r.String("sqs_endpoint"),
		EventSources: parseEventSources(r.String("event_sources")),

		DiscoverOrgs: r.Bool("discover_orgs"), Follow: r.Bool("follow"), ExitOnEOF: r.Bool("exit_on_eof"), IncludeInsight: r.Bool("include_insight"),
		ForcePathStyle: r.Bool("force_path_style"), ValidateIntegrity: r.Bool("validate_integrity"),
		PublicKeysFiles: r.List("public_keys_file"), IntegrityDelay: r.Duration("integrity_delay"),

		PollInterval: r.Duration("poll_interval"), LateArrivalWindow: r.Duration("late_arrival_window"),
		ProgressInterval: r.Duration("progress_interval"), WaitTime: r.Duration("wait_time"),
		VisibilityTimeout: r.Duration("visibility_timeout"), APITimeout: r.Duration("api_timeout"),
		StallTimeout: r.Duration("stall_timeout"),

		Workers: r.Int("workers"), MaxRetries: r.Int("max_retries"), MaxMessages: r.Int("max_messages"),
		BufferSize: r.Size("buffer_size"), BatchSize: r.Size("batch_size"), MaxObjectSize: r.Size("max_object_size"),
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(c.EventSources) == 0 && !r.Set("batch_size") {
		c.BatchSize, _ = config.ParseSize(AllEventsBatchSize)
	}
	var err error
	if c.StartTime, err = parseTimeKey("start_time", r.String("start_time")); err != nil {
		return nil, err
	}
	if c.EndTime, err = parseTimeKey("end_time", r.String("end_time")); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

// parseEventSources: "*" turns the push-down off (every event is read).
// An empty value is an unset one (see config.Getter): the default.
func parseEventSources(v string) []string {
	if v == "*" {
		return nil
	}
	return config.SplitList(v)
}

// Validate checks values and combinations; each error names its key.
func (c *Config) Validate() error {
	for _, check := range []func() error{c.validateSource, c.validateSelection, c.validateTimes, c.validateSizes, c.validateAWS, c.validateSQS, c.validateIntegrity} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Config) validateSource() error {
	switch {
	case c.QueueURL != "" && (c.Bucket != "" || c.Path != ""):
		return fmt.Errorf("queue_url: SQS notification mode and bucket polling are mutually exclusive: set queue_url, or bucket (or path), not both")
	case c.RecordMode != RecordModeEvent && c.RecordMode != RecordModeObject:
		return fmt.Errorf("record_mode: must be 'event' or 'object', got %q", c.RecordMode)
	case c.QueueURL != "":
		return nil
	case c.Bucket != "" && c.Path != "":
		return fmt.Errorf("bucket: set exactly one of bucket (S3 mode) and path (local mode), not both")
	case c.Bucket == "" && c.Path == "":
		return fmt.Errorf("bucket: one of bucket (S3 mode), path (local mode) or queue_url (SQS mode) is required")
	case c.Path != "" && c.DiscoverOrgs:
		return fmt.Errorf("discover_orgs: only for S3 mode (a local path finds every organization by itself)")
	case strings.ContainsAny(c.Bucket, "/ "):
		return fmt.Errorf("bucket: %q is not a bucket name (give the key prefix in `prefix`)", c.Bucket)
	}
	return nil
}

func (c *Config) validateSelection() error {
	opts := c.ListOptions()
	if err := opts.Validate(); err != nil {
		return err
	}
	for _, s := range c.EventSources {
		if !strings.HasSuffix(s, ".amazonaws.com") {
			return fmt.Errorf("event_sources: %q is not an eventSource (expected a name like opsworks.amazonaws.com, or * for every event)", s)
		}
	}
	return nil
}

func (c *Config) validateTimes() error {
	switch { // the order of start_time and end_time: ListOptions.Validate
	case c.Follow && !c.EndTime.IsZero():
		return fmt.Errorf("end_time: cannot be combined with follow on (a followed archive has no end)")
	case c.Follow && c.ExitOnEOF:
		return fmt.Errorf("exit_on_eof: cannot be combined with follow on (a followed archive has no end)")
	case c.PollInterval <= 0:
		return fmt.Errorf("poll_interval: must be positive, got %s", c.PollInterval)
	case c.LateArrivalWindow <= 0:
		return fmt.Errorf("late_arrival_window: must be positive, got %s", c.LateArrivalWindow)
	case c.ProgressInterval < 0:
		return fmt.Errorf("progress_interval: must not be negative (0 disables)")
	}
	return nil
}

func (c *Config) validateSizes() error {
	switch {
	case c.Workers < 1 || c.Workers > 256:
		return fmt.Errorf("workers: must be between 1 and 256, got %d", c.Workers)
	case c.BufferSize < 1000:
		return fmt.Errorf("buffer_size: must be at least 1K, got %d bytes", c.BufferSize)
	case c.BatchSize < 1000:
		return fmt.Errorf("batch_size: must be at least 1K, got %d bytes", c.BatchSize)
	case c.MaxObjectSize < 1000:
		return fmt.Errorf("max_object_size: must be at least 1K, got %d bytes", c.MaxObjectSize)
	case c.MaxRetries < 0 || c.MaxRetries > 50:
		return fmt.Errorf("max_retries: must be between 0 and 50, got %d", c.MaxRetries)
	}
	return nil
}

func (c *Config) validateAWS() error {
	if err := checkHTTPURL("endpoint", c.Endpoint); err != nil {
		return err
	}
	switch {
	case c.RoleARN != "" && !strings.HasPrefix(c.RoleARN, "arn:"):
		return fmt.Errorf("role_arn: %q is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)", c.RoleARN)
	case c.ExternalID != "" && c.RoleARN == "":
		return fmt.Errorf("external_id: needs role_arn (the external ID is sent when assuming that role)")
	case c.Region != "" && !cloudtrail.IsRegion(c.Region):
		return fmt.Errorf("region: %q is not an AWS region name", c.Region)
	case c.APITimeout < time.Second:
		return fmt.Errorf("api_timeout: must be at least 1s, got %s", c.APITimeout)
	case c.SQSMode() && c.APITimeout <= c.WaitTime:
		return fmt.Errorf("api_timeout: must be longer than wait_time (%s): a receive waits that long for messages", c.WaitTime)
	case c.StallTimeout < 100*time.Millisecond:
		return fmt.Errorf("stall_timeout: must be at least 100ms, got %s", c.StallTimeout)
	}
	return nil
}

// checkHTTPURL: "" or an http(s) URL with a host.
func checkHTTPURL(key, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s: %q is not an http(s) URL", key, v)
	}
	return nil
}

// checkModeKeys rejects keys set for the other mode, so that a setting
// that would be ignored is never silently ignored.
func checkModeKeys(g config.Getter) error {
	set := func(k string) bool { return strings.TrimSpace(g.Get(k)) != "" }
	if set("queue_url") {
		for _, p := range pollingOnlyKeys {
			if set(p.key) && p.key != "bucket" && p.key != "path" { // those two get the "mutually exclusive" error
				return fmt.Errorf("%s: not used in SQS mode (queue_url): %s", p.key, p.why)
			}
		}
		return nil
	}
	for _, k := range sqsOnlyKeys {
		if set(k) {
			return fmt.Errorf("%s: only for SQS mode; set queue_url too, or remove %s", k, k)
		}
	}
	return nil
}

func (c *Config) validateSQS() error {
	if !c.SQSMode() {
		return nil
	}
	if _, err := cloudtrail.ParseQueueURL(c.QueueURL); err != nil {
		return fmt.Errorf("queue_url: %v", err)
	}
	if err := checkHTTPURL("sqs_endpoint", c.SQSEndpoint); err != nil {
		return err
	}
	switch {
	case c.MaxMessages < 1 || c.MaxMessages > 10000:
		return fmt.Errorf("max_messages: must be between 1 and 10000, got %d", c.MaxMessages)
	case c.WaitTime < 0 || c.WaitTime > 20*time.Second || c.WaitTime%time.Second != 0:
		return fmt.Errorf("wait_time: must be whole seconds from 0s to 20s (SQS's long-poll limit), got %s", c.WaitTime)
	case c.VisibilityTimeout < 2*time.Second || c.VisibilityTimeout > 12*time.Hour || c.VisibilityTimeout%time.Second != 0:
		return fmt.Errorf("visibility_timeout: must be whole seconds from 2s to 12h, got %s", c.VisibilityTimeout)
	case c.SQSRegion != "" && !cloudtrail.IsRegion(c.SQSRegion):
		return fmt.Errorf("sqs_region: %q is not an AWS region name", c.SQSRegion)
	case c.SQSRoleARN != "" && !strings.HasPrefix(c.SQSRoleARN, "arn:"):
		return fmt.Errorf("sqs_role_arn: %q is not an ARN (arn:aws:iam::ACCOUNT:role/NAME)", c.SQSRoleARN)
	}
	return nil
}

func (c *Config) validateIntegrity() error {
	switch {
	case len(c.PublicKeysFiles) > 0 && !c.ValidateIntegrity:
		return fmt.Errorf("public_keys_file: only used with validate_integrity on")
	case c.IntegrityDelay < 0:
		return fmt.Errorf("integrity_delay: must not be negative, got %s", c.IntegrityDelay)
	}
	return nil
}

// parseTimeKey reads RFC 3339 or a UTC day (YYYY-MM-DD); "" is zero.
func parseTimeKey(key, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%s: %q is not a time (RFC 3339 such as 2024-05-01T00:00:00Z, or YYYY-MM-DD)", key, v)
}

// sqsRegion is the region SQS calls are signed for: sqs_region, else the
// queue URL's, else region.
func (c *Config) sqsRegion() string {
	if c.SQSRegion != "" {
		return c.SQSRegion
	}
	if q, err := cloudtrail.ParseQueueURL(c.QueueURL); err == nil && q.Region != "" {
		return q.Region
	}
	return c.Region
}

// SQSClientOptions are the input's SQS settings.
func (c *Config) SQSClientOptions() cloudtrail.SQSClientOptions {
	return cloudtrail.SQSClientOptions{QueueURL: c.QueueURL, Region: c.SQSRegion, DefaultRegion: c.Region, Profile: c.Profile, RoleARN: c.SQSRoleARN,
		Endpoint: c.SQSEndpoint, MaxRetries: c.MaxRetries, APITimeout: c.APITimeout}
}

// S3ClientOptions are the input's S3 settings.
func (c *Config) S3ClientOptions() cloudtrail.S3ClientOptions {
	return cloudtrail.S3ClientOptions{Region: c.Region, Profile: c.Profile, RoleARN: c.RoleARN, ExternalID: c.ExternalID,
		Endpoint: c.Endpoint, ForcePathStyle: c.ForcePathStyle, MaxRetries: c.MaxRetries, APITimeout: c.APITimeout}
}
