package harness

import (
	"context"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/input"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
)

// SQS mode through the plugin boundary: the archive is announced to a queue
// (cloudtrail.Enqueue, as `opsworks-trail enqueue` does), the input reads the
// notified objects, and every message is deleted only through the commit
// that follows Fluent Bit's append (FLBPluginInputCleanupCallback): after
// the run the queue is empty, and a second run delivers nothing.
func TestInputSQSMode(t *testing.T) {
	inputArtifacts(t)
	sq := sqstest.Start(t)
	queue := sq.CreateQueue(t, "harness", sqstest.QueueOptions{})
	endpoint, client := s3test.Fake(t, "trail")
	ctx := context.Background()
	files := corpus.LogFiles(testArchive())
	if _, err := s3test.UploadFiles(ctx, client, "trail", files, true); err != nil {
		t.Fatal(err)
	}
	cfg, err := input.LoadConfig(config.MapGetter{"bucket": "trail"})
	if err != nil {
		t.Fatal(err)
	}
	lister, err := cloudtrail.NewS3Lister(client, "trail", cfg.ListOptions())
	if err != nil {
		t.Fatal(err)
	}
	st, err := cloudtrail.Enqueue(ctx, cloudtrail.EnqueueOptions{Lister: lister, Sender: sq.Client(t), QueueURL: queue, Bucket: "trail"})
	if err != nil || st.Sent != int64(len(files)) {
		t.Fatalf("enqueue: %+v, %v; want %d sent", st, err, len(files))
	}

	env := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	props := map[string]string{"queue_url": queue, "region": "us-east-1", "endpoint": endpoint, "force_path_style": "on",
		"wait_time": "1s", "batch_size": "16K"}
	r := runInput(t, env, props)
	if r.exit != 0 {
		t.Fatalf("exit %d:\n%s", r.exit, r.log)
	}
	assertExactlyOnce(t, opsworksEventIDs(t, files), deliveredIDs(t, r.records, "s3_key"))
	if visible, inFlight, err := sqstest.Counts(ctx, sq.Client(t), queue); err != nil || visible+inFlight != 0 {
		t.Fatalf("after the run the queue holds %d visible and %d in-flight messages (%v)\n%s", visible, inFlight, err, r.log)
	}
	if !strings.Contains(r.log, "SQS messages: ") {
		t.Errorf("the summary lacks the SQS counters:\n%s", r.log)
	}

	again := runInput(t, env, props, "--ticks", "150")
	if again.exit != 0 || len(again.records) != 0 {
		t.Fatalf("second run: exit %d, %d records\n%s", again.exit, len(again.records), again.log)
	}

	// Bucket polling and queue_url together: init fails naming the conflict.
	props["bucket"] = "trail"
	bad := runInput(t, env, props, "--ticks", "5")
	if bad.exit != 3 || !strings.Contains(bad.log, "queue_url: SQS notification mode and bucket polling are mutually exclusive") {
		t.Fatalf("bucket with queue_url: exit %d\n%s", bad.exit, bad.log)
	}
}
