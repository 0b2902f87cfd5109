package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/input"
)

// runEnqueue is `opsworks-trail enqueue s3://bucket/prefix --queue-url URL`:
// it lists the CloudTrail log files of a window with the cloudtrail_s3
// input's lister and sends one S3-event-notification-shaped message per file
// to the queue, for a fleet of inputs in SQS mode to backfill in parallel.
func runEnqueue(args []string, stderr io.Writer) int {
	fl := flag.NewFlagSet("opsworks-trail enqueue", flag.ContinueOnError)
	fl.SetOutput(stderr)
	queueURL := fl.String("queue-url", "", "SQS queue URL to send the notifications to (required)")
	since := fl.String("since", "", "announce files delivered at or after this time (RFC 3339 or YYYY-MM-DD)")
	until := fl.String("until", "", "announce files delivered before this time (RFC 3339 or YYYY-MM-DD); default now")
	sqsRegion := fl.String("sqs-region", "", "the queue's region (default: from the queue URL, else -input region / AWS_REGION)")
	sqsEndpoint := fl.String("sqs-endpoint", "", "SQS endpoint URL (default: from a non-AWS queue URL)")
	sqsRole := fl.String("sqs-role-arn", "", "IAM role to assume for SQS (default: the default credentials)")
	senders := fl.Int("senders", 4, "SendMessageBatch calls in parallel")
	bar := fl.String("progress", "auto", "progress bar on stderr: auto (when stderr is a terminal), on, off")
	inOpts := newKeyValues(input.Options)
	fl.Var(inOpts, "input", "cloudtrail_s3 option key=value for the listing and S3 access (repeatable): region, profile, role_arn, endpoint, force_path_style, accounts, regions, org_id, discover_orgs, include_insight")
	fl.Usage = func() {
		fmt.Fprintf(fl.Output(), "usage: opsworks-trail enqueue [flags] s3://bucket/prefix\n\n"+
			"Sends one S3 event notification per CloudTrail log file of the window to an SQS queue,\n"+
			"so that cloudtrail_s3 inputs in SQS mode (queue_url) backfill it in parallel.\n"+
			"Running the same window again announces every file again: the inputs read them again\n"+
			"(duplicates downstream, see the README's \"Backfilling with a fleet\").\n\n")
		fl.PrintDefaults()
	}
	if code, ok := parseFlags(fl, args); !ok {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "opsworks-trail enqueue: "+format+"\n", a...)
		return exitFailure
	}
	if fl.NArg() != 1 || !strings.HasPrefix(fl.Arg(0), "s3://") {
		fl.Usage()
		return exitFailure
	}
	if *queueURL == "" {
		return fail("--queue-url is required")
	}
	if *bar != "auto" && *bar != "on" && *bar != "off" {
		return fail("-progress: want auto, on or off, got %q", *bar)
	}
	c := &cli{inputOpts: inOpts.m, since: *since, until: *until}
	cfg, err := c.listConfig(fl.Arg(0))
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	s3c, err := cloudtrail.NewS3Client(ctx, cfg.S3ClientOptions())
	if err != nil {
		return fail("%v", err)
	}
	lister, err := cloudtrail.NewS3Lister(s3c, cfg.Bucket, cfg.ListOptions())
	if err != nil {
		return fail("%v", err)
	}
	sqsc, err := cloudtrail.NewSQSClient(ctx, cloudtrail.SQSClientOptions{QueueURL: *queueURL, Region: *sqsRegion, DefaultRegion: cfg.Region, Profile: cfg.Profile,
		RoleARN: *sqsRole, Endpoint: *sqsEndpoint, MaxRetries: cfg.MaxRetries})
	if err != nil {
		return fail("%v", err)
	}
	p := newProgress(stderr, *bar, fl.Arg(0))
	started := time.Now()
	st, err := cloudtrail.Enqueue(ctx, cloudtrail.EnqueueOptions{Lister: lister, Sender: sqsc, QueueURL: *queueURL, Bucket: cfg.Bucket,
		Region: cfg.Region, Senders: *senders, MaxRetries: cfg.MaxRetries, Progress: func(s cloudtrail.EnqueueStats) { p.enqueued(s, false) }})
	p.enqueued(st, true)
	if err != nil {
		return fail("%v (%d of %d listed files announced; announcing the window again is safe: see the README)", err, st.Sent, st.Listed)
	}
	fmt.Fprintf(stderr, "opsworks-trail enqueue: %d files announced to %s in %s\n", st.Sent, *queueURL, time.Since(started).Round(time.Millisecond))
	return exitOK
}
