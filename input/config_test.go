package input

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
)

// proxyGetter answers as the Go input proxy's FLBPluginConfigKey does:
// exact key only, "" for an unset key and for an empty one alike.
type proxyGetter map[string]string

func (p proxyGetter) Get(key string) string { return p[key] }

func TestInputConfigDefaults(t *testing.T) {
	c, err := LoadConfig(config.MapGetter{"bucket": "trail"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Bucket: "trail", Prefix: "AWSLogs/",
		PollInterval: 5 * time.Minute, LateArrivalWindow: time.Hour,
		EventSources: []string{"opsworks.amazonaws.com", "opsworks-cm.amazonaws.com"},
		RecordMode:   "event", Workers: 4, BufferSize: 64e6, BatchSize: 4e6, MaxObjectSize: 512e6,
		ProgressInterval: 30 * time.Second, MaxRetries: 5, APITimeout: 2 * time.Minute, StallTimeout: time.Minute, IntegrityDelay: 90 * time.Minute,
		MaxMessages: 1000, WaitTime: 20 * time.Second, VisibilityTimeout: 5 * time.Minute,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	// Every key has an entry, a description, and its default parses.
	seen := map[string]bool{}
	for _, o := range Options {
		if seen[o.Key] || o.Description == "" {
			t.Errorf("option %q duplicated or undocumented", o.Key)
		}
		seen[o.Key] = true
	}
	if len(Options) != reflect.TypeOf(Config{}).NumField() {
		t.Errorf("%d options for %d config fields", len(Options), reflect.TypeOf(Config{}).NumField())
	}
}

func TestInputConfigValues(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		set   config.Getter
		check func(c *Config) bool
	}{
		{"path mode", config.MapGetter{"path": "/data/trail"}, func(c *Config) bool { return c.Path == "/data/trail" && !c.S3Mode() }},
		{"lists", config.MapGetter{"bucket": "b", "accounts": "111122223333, 444455556666", "regions": "us-east-1,eu-west-1"},
			func(c *Config) bool {
				return reflect.DeepEqual(c.Accounts, []string{"111122223333", "444455556666"}) && len(c.Regions) == 2
			}},
		{"day", config.MapGetter{"bucket": "b", "start_time": "2024-05-01"}, func(c *Config) bool { return c.StartTime.Equal(day) }},
		{"rfc3339 with offset", config.MapGetter{"bucket": "b", "end_time": "2024-05-01T02:00:00+02:00"},
			func(c *Config) bool { return c.EndTime.Equal(day) && c.EndTime.Location() == time.UTC }},
		{"star: no push-down", config.MapGetter{"bucket": "b", "event_sources": "*"}, func(c *Config) bool { return c.EventSources == nil }},
		// An empty value is an unset one, through every getter (it used to
		// turn the push-down off through a map and not through the plugin).
		{"empty (map): default", config.MapGetter{"bucket": "b", "event_sources": ""}, func(c *Config) bool { return len(c.EventSources) == 2 }},
		{"empty (proxy): default", proxyGetter{"bucket": "b", "event_sources": " "}, func(c *Config) bool { return len(c.EventSources) == 2 }},
		{"unset (proxy): default", proxyGetter{"bucket": "b"}, func(c *Config) bool { return len(c.EventSources) == 2 }},
		{"keys in any case (map)", config.MapGetter{"Bucket": "b", "WORKERS": "2"}, func(c *Config) bool { return c.Bucket == "b" && c.Workers == 2 }},
		{"days", config.MapGetter{"bucket": "b", "poll_interval": "1d", "late_arrival_window": "1d12h", "progress_interval": "500ms"},
			func(c *Config) bool {
				return c.PollInterval == 24*time.Hour && c.LateArrivalWindow == 36*time.Hour && c.ProgressInterval == 500*time.Millisecond
			}},
		{"object mode", config.MapGetter{"bucket": "b", "record_mode": "OBJECT"}, func(c *Config) bool { return c.RecordMode == RecordModeObject }},
		{"bare seconds", config.MapGetter{"bucket": "b", "progress_interval": "0", "poll_interval": "90"},
			func(c *Config) bool { return c.ProgressInterval == 0 && c.PollInterval == 90*time.Second }},
		{"aws", config.MapGetter{"bucket": "b", "region": "eu-west-1", "role_arn": "arn:aws:iam::111122223333:role/r", "external_id": "x",
			"endpoint": "http://127.0.0.1:9000", "force_path_style": "on", "max_retries": "0"},
			func(c *Config) bool { return c.ForcePathStyle && c.MaxRetries == 0 && c.ExternalID == "x" }},
		{"follow", config.MapGetter{"bucket": "b", "follow": "yes", "start_time": "2024-05-01"}, func(c *Config) bool { return c.Follow }},
		{"sqs mode", config.MapGetter{"queue_url": sqsURL, "max_messages": "50", "wait_time": "5", "visibility_timeout": "1h",
			"accounts": "111122223333", "start_time": "2024-05-01"},
			func(c *Config) bool {
				return c.SQSMode() && c.S3Mode() && c.MaxMessages == 50 && c.WaitTime == 5*time.Second && c.VisibilityTimeout == time.Hour &&
					c.sqsRegion() == "eu-west-1" && c.StartTime.Equal(day)
			}},
		{"sqs region: sqs_region wins", config.MapGetter{"queue_url": sqsURL, "sqs_region": "us-west-2", "region": "us-east-1"},
			func(c *Config) bool { return c.sqsRegion() == "us-west-2" }},
		{"sqs region: region for a non-AWS URL", config.MapGetter{"queue_url": "http://127.0.0.1:9324/000000000000/q", "region": "us-east-1"},
			func(c *Config) bool { return c.sqsRegion() == "us-east-1" && c.SQSClientOptions().RoleARN == "" }},
		{"sqs role apart from the S3 role", config.MapGetter{"queue_url": sqsURL, "role_arn": "arn:aws:iam::1:role/s3", "sqs_role_arn": "arn:aws:iam::2:role/q"},
			func(c *Config) bool {
				return c.SQSClientOptions().RoleARN == "arn:aws:iam::2:role/q" && c.RoleARN == "arn:aws:iam::1:role/s3"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(tt.set)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

const sqsURL = "https://sqs.eu-west-1.amazonaws.com/111122223333/cloudtrail-objects"

func TestParseQueueURL(t *testing.T) {
	tests := []struct {
		url  string
		want cloudtrail.QueueRef
	}{
		{sqsURL, cloudtrail.QueueRef{Region: "eu-west-1", Account: "111122223333", Name: "cloudtrail-objects"}},
		{"https://eu-west-1.queue.amazonaws.com/111122223333/q", cloudtrail.QueueRef{Region: "eu-west-1", Account: "111122223333", Name: "q"}},
		{"https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q", cloudtrail.QueueRef{Region: "cn-north-1", Account: "111122223333", Name: "q"}},
		{"http://127.0.0.1:9324/000000000000/q", cloudtrail.QueueRef{Account: "000000000000", Name: "q", Endpoint: "http://127.0.0.1:9324"}},
	}
	for _, tt := range tests {
		got, err := cloudtrail.ParseQueueURL(tt.url)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %+v, %v; want %+v", tt.url, got, err, tt.want)
		}
	}
	if arn := (cloudtrail.QueueRef{Account: "1", Name: "q"}).ARN("us-east-2"); arn != "arn:aws:sqs:us-east-2:1:q" {
		t.Errorf("arn: %s", arn)
	}
}

func TestInputConfigErrors(t *testing.T) {
	tests := []struct {
		set     config.MapGetter
		key     string // the error must start with "<key>: "
		mention string
	}{
		{config.MapGetter{}, "bucket", "path"},
		{config.MapGetter{"bucket": "b", "path": "/x"}, "bucket", "path"},
		{config.MapGetter{"bucket": "b", "queue_url": sqsURL}, "queue_url", "mutually exclusive"},
		{config.MapGetter{"path": "/x", "queue_url": sqsURL}, "queue_url", "mutually exclusive"},
		{config.MapGetter{"queue_url": sqsURL, "follow": "on"}, "follow", "SQS mode"},
		{config.MapGetter{"queue_url": sqsURL, "state_dir": "/var/lib/x"}, "state_dir", "the queue is the state"},
		{config.MapGetter{"queue_url": sqsURL, "prefix": "trail/"}, "prefix", "prefix filter"},
		{config.MapGetter{"queue_url": sqsURL, "poll_interval": "1m"}, "poll_interval", "SQS mode"},
		{config.MapGetter{"bucket": "b", "max_messages": "5"}, "max_messages", "queue_url"},
		{config.MapGetter{"bucket": "b", "sqs_role_arn": "arn:aws:iam::1:role/q"}, "sqs_role_arn", "queue_url"},
		{config.MapGetter{"queue_url": "sqs://q"}, "queue_url", "http"},
		{config.MapGetter{"queue_url": "https://sqs.us-east-1.amazonaws.com/q"}, "queue_url", "ACCOUNT/QUEUE_NAME"},
		{config.MapGetter{"queue_url": sqsURL, "max_messages": "0"}, "max_messages", "between"},
		{config.MapGetter{"queue_url": sqsURL, "wait_time": "21s"}, "wait_time", "20s"},
		{config.MapGetter{"queue_url": sqsURL, "wait_time": "1500ms"}, "wait_time", "whole seconds"},
		{config.MapGetter{"queue_url": sqsURL, "visibility_timeout": "1s"}, "visibility_timeout", "2s to 12h"},
		{config.MapGetter{"queue_url": sqsURL, "visibility_timeout": "13h"}, "visibility_timeout", "2s to 12h"},
		{config.MapGetter{"queue_url": sqsURL, "wait_time": "20s", "api_timeout": "20s"}, "api_timeout", "longer than wait_time"},
		{config.MapGetter{"bucket": "b", "api_timeout": "0"}, "api_timeout", "at least 1s"},
		{config.MapGetter{"bucket": "b", "stall_timeout": "10ms"}, "stall_timeout", "at least 100ms"},
		{config.MapGetter{"queue_url": sqsURL, "sqs_region": "Ireland"}, "sqs_region", "Ireland"},
		{config.MapGetter{"queue_url": sqsURL, "sqs_role_arn": "q-role"}, "sqs_role_arn", "ARN"},
		{config.MapGetter{"queue_url": sqsURL, "sqs_endpoint": "localhost:9324"}, "sqs_endpoint", "URL"},
		{config.MapGetter{"queue_url": sqsURL, "record_mode": "file"}, "record_mode", "file"},
		{config.MapGetter{"bucket": "b/AWSLogs"}, "bucket", "prefix"},
		{config.MapGetter{"bucket": "b", "accounts": "12345"}, "accounts", "12345"},
		{config.MapGetter{"bucket": "b", "regions": "US_EAST"}, "regions", "US_EAST"},
		{config.MapGetter{"bucket": "b", "org_id": "org1"}, "org_id", "org1"},
		{config.MapGetter{"bucket": "b", "org_id": "o-exampleorg1", "discover_orgs": "on"}, "discover_orgs", "org_id"},
		{config.MapGetter{"path": "/x", "discover_orgs": "on"}, "discover_orgs", "S3"},
		{config.MapGetter{"bucket": "b", "discover_orgs": "maybe"}, "discover_orgs", "boolean"},
		{config.MapGetter{"bucket": "b", "follow": "2"}, "follow", "boolean"},
		{config.MapGetter{"bucket": "b", "include_insight": "x"}, "include_insight", "boolean"},
		{config.MapGetter{"bucket": "b", "force_path_style": "x"}, "force_path_style", "boolean"},
		{config.MapGetter{"bucket": "b", "start_time": "yesterday"}, "start_time", "RFC 3339"},
		{config.MapGetter{"bucket": "b", "end_time": "2024-13-01"}, "end_time", "RFC 3339"},
		{config.MapGetter{"bucket": "b", "start_time": "2024-05-02", "end_time": "2024-05-01"}, "end_time", "start_time"},
		{config.MapGetter{"bucket": "b", "follow": "on", "end_time": "2024-05-01"}, "end_time", "follow"},
		{config.MapGetter{"bucket": "b", "poll_interval": "soon"}, "poll_interval", "duration"},
		{config.MapGetter{"bucket": "b", "poll_interval": "0"}, "poll_interval", "positive"},
		{config.MapGetter{"bucket": "b", "late_arrival_window": "-1h"}, "late_arrival_window", "positive"},
		{config.MapGetter{"bucket": "b", "progress_interval": "-1s"}, "progress_interval", "negative"},
		{config.MapGetter{"bucket": "b", "event_sources": "opsworks"}, "event_sources", "opsworks"},
		{config.MapGetter{"bucket": "b", "record_mode": "file"}, "record_mode", "file"},
		{config.MapGetter{"bucket": "b", "workers": "many"}, "workers", "whole number"},
		{config.MapGetter{"bucket": "b", "workers": "0"}, "workers", "between"},
		{config.MapGetter{"bucket": "b", "buffer_size": "lots"}, "buffer_size", "size"},
		{config.MapGetter{"bucket": "b", "buffer_size": "10"}, "buffer_size", "1K"},
		{config.MapGetter{"bucket": "b", "batch_size": "1X"}, "batch_size", "size"},
		{config.MapGetter{"bucket": "b", "max_object_size": "5"}, "max_object_size", "1K"},
		{config.MapGetter{"bucket": "b", "max_retries": "-1"}, "max_retries", "between"},
		{config.MapGetter{"bucket": "b", "endpoint": "localhost:9000"}, "endpoint", "URL"},
		{config.MapGetter{"bucket": "b", "role_arn": "my-role"}, "role_arn", "ARN"},
		{config.MapGetter{"bucket": "b", "external_id": "x"}, "external_id", "role_arn"},
		{config.MapGetter{"bucket": "b", "region": "Frankfurt"}, "region", "Frankfurt"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := LoadConfig(tt.set)
			if err == nil {
				t.Fatalf("%v: no error", tt.set)
			}
			if !strings.HasPrefix(err.Error(), tt.key+": ") || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("%v: error %q should start with %q and mention %q", tt.set, err, tt.key+": ", tt.mention)
			}
		})
	}
}

// batch_size's default follows the push-down: 4M while event_sources
// selects, 48M when every event is read; a value that is set wins either
// way.
func TestBatchSizeFollowsThePushDown(t *testing.T) {
	for _, tc := range []struct {
		keys config.MapGetter
		want int
	}{
		{config.MapGetter{"bucket": "b"}, 4e6},
		{config.MapGetter{"bucket": "b", "event_sources": "ec2.amazonaws.com"}, 4e6},
		{config.MapGetter{"bucket": "b", "event_sources": "*"}, 48e6},
		{config.MapGetter{"bucket": "b", "event_sources": "*", "batch_size": "4M"}, 4e6},
		{config.MapGetter{"bucket": "b", "batch_size": "16M"}, 16e6},
	} {
		c, err := LoadConfig(tc.keys)
		if err != nil {
			t.Fatal(err)
		}
		if c.BatchSize != tc.want {
			t.Errorf("%v: batch_size %d, want %d", tc.keys, c.BatchSize, tc.want)
		}
	}
}
