package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
)

func runEnqueueCLI(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"enqueue"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String() + errb.String()
}

func TestEnqueueUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: opsworks-trail enqueue"},
		{[]string{"/local/dir", "-queue-url", "http://q/1/q"}, "usage: opsworks-trail enqueue"},
		{[]string{"s3://trail/"}, "--queue-url is required"},
		{[]string{"-queue-url", "http://127.0.0.1:1/1/q", "-progress", "maybe", "s3://trail/"}, "-progress: want auto, on or off"},
		{[]string{"-queue-url", "http://127.0.0.1:1/1/q", "-since", "yesterday", "s3://trail/"}, "start_time: \"yesterday\" is not a time"},
		{[]string{"-queue-url", "not a url", "-input", "region=us-east-1", "s3://trail/"}, "queue_url: "},
	}
	for _, tt := range tests {
		code, out := runEnqueueCLI(tt.args...)
		if code != exitFailure || !strings.Contains(out, tt.want) {
			t.Errorf("%v: exit %d, want %d and %q in:\n%s", tt.args, code, exitFailure, tt.want, out)
		}
	}
}

// enqueue lists the window with the input's lister and sends one S3 event
// notification per log file, which the input's parser reads back as that
// file (keys URL-encoded and decoded again).
func TestEnqueueAnnouncesTheWindow(t *testing.T) {
	sq := sqstest.Start(t)
	queue := sq.CreateQueue(t, "enqueue", sqstest.QueueOptions{})
	endpoint, client := s3test.Fake(t, "trail")
	ctx := context.Background()
	files := corpus.LogFiles(corpus.Options{Seed: 71, Events: 400, EventsPerFile: 20, OrgID: "o-enqueue1234"})
	for i := range files {
		files[i].Key = "my trail/" + files[i].Key // a prefix that S3 notifications encode
	}
	if _, err := s3test.UploadFiles(ctx, client, "trail", files, true); err != nil {
		t.Fatal(err)
	}
	mid := files[0].Time.Add(24 * 3600e9).Truncate(24 * 3600e9)
	want := map[string]bool{}
	for _, f := range files {
		if f.Time.Before(mid) {
			want[f.Key] = true
		}
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.FakeAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.FakeSecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, out := runEnqueueCLI("-queue-url", queue, "-until", mid.Format("2006-01-02"), "-progress", "on",
		"-input", "region=us-east-1", "-input", "endpoint="+endpoint, "-input", "force_path_style=on", "-input", "org_id=o-enqueue1234",
		"s3://trail/my trail/")
	if code != exitOK || !strings.Contains(out, "files announced") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	got := map[string]bool{}
	qc := sq.Client(t)
	for {
		res, err := qc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			break
		}
		for _, m := range res.Messages {
			if !strings.Contains(*m.Body, `"my+trail/AWSLogs/`) {
				t.Fatalf("key not URL-encoded as S3 does: %s", *m.Body)
			}
			n, err := cloudtrail.ParseNotification([]byte(*m.Body))
			if err != nil || n.Shape != cloudtrail.ShapeS3Event || len(n.Objects) != 1 || n.Objects[0].Bucket != "trail" {
				t.Fatalf("message %s: %+v, %v", *m.Body, n, err)
			}
			if got[n.Objects[0].Key] {
				t.Fatalf("%s announced twice", n.Objects[0].Key)
			}
			got[n.Objects[0].Key] = true
		}
	}
	if len(got) != len(want) || len(want) == 0 || len(want) == len(files) {
		t.Fatalf("announced %d files, want the %d of %d in the window", len(got), len(want), len(files))
	}
	for k := range got {
		if !want[k] {
			t.Fatalf("%s is outside the window", k)
		}
	}
	if !strings.Contains(out, "\r\033[K") {
		t.Errorf("-progress on drew no progress line:\n%q", out)
	}
}
