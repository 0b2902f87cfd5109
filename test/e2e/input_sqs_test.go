package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
)

// sqsPipeline is cloudtrail_s3 in SQS mode → opsworks → file.
func sqsPipeline(p *pipeline, in, filterSO, queueURL, s3Endpoint string) string {
	return inputConf(p, in, filterSO, fmt.Sprintf(`queue_url %s
		wait_time 1s
		visibility_timeout 20s
		region us-east-1
		endpoint %s
		force_path_style on
		batch_size 64K`, queueURL, s3Endpoint))
}

var receivedRe = regexp.MustCompile(`SQS messages: (\d+) received, (\d+) deleted`)

// A fleet backfill in real Fluent Bit: `opsworks-trail enqueue` announces a
// window of the archive to a queue, three Fluent Bit processes in SQS mode
// share it; every OpsWorks event of the window arrives (duplicates, which
// at-least-once delivery allows, are counted), each process took part, and
// the queue ends empty.
func TestRealFluentBitSQSFleet(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	cli := cliBinary(t)
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, "trail")
	sq := sqstest.Start(t)
	queue, dlq := sq.CreateQueueWithDLQ(t, "fleet", sqstest.QueueOptions{MaxReceiveCount: 3})
	start := time.Date(2023, 7, 1, 0, 0, 0, 0, time.UTC)
	o := corpus.Options{Seed: 61, Events: 2000, OpsWorksShare: 0.3, EventsPerFile: 20, Start: start, End: start.Add(96 * time.Hour)}
	files := corpus.LogFiles(o)
	srv.UploadArchive(t, "trail", files, true)
	windowEnd := start.Add(72 * time.Hour)
	var window []corpus.File
	for _, f := range files {
		if f.Time.Before(windowEnd) {
			window = append(window, f)
		}
	}
	want := opsworksIDs(t, window)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	enq := exec.Command(cli, "enqueue", "-queue-url", queue, "-since", "2023-07-01", "-until", windowEnd.Format(time.RFC3339), "-progress", "off",
		"-input", "region=us-east-1", "-input", "endpoint="+srv.Endpoint, "-input", "force_path_style=on", "s3://trail/")
	out, err := enq.CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d files announced", len(window))) {
		t.Fatalf("enqueue (%v), want %d files announced:\n%s", err, len(window), out)
	}

	pipes := make([]*pipeline, 3)
	logs := make([]string, 3)
	for i := range pipes {
		pipes[i] = newPipeline(t)
	}
	delivered := func() (ids map[string]int) {
		ids = map[string]int{}
		for _, p := range pipes {
			if _, err := os.Stat(p.path("events.out")); err != nil {
				continue
			}
			for _, e := range readOutput(t, p.path("events.out")) {
				ids[fmt.Sprint(e.Body["eventID"])]++
			}
		}
		return ids
	}
	queueEmpty := func() bool {
		visible, inFlight, err := sqstest.Counts(context.Background(), sq.Client(t), queue)
		return err == nil && visible+inFlight == 0
	}
	var wg sync.WaitGroup
	for i, p := range pipes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logs[i] = p.run(bin, sqsPipeline(p, in, filterSO, queue, srv.Endpoint), func() bool {
				return len(delivered()) >= len(want) && queueEmpty()
			})
		}()
	}
	wg.Wait()
	ids := delivered()
	duplicates := 0
	for id, n := range ids {
		if !want[id] {
			t.Fatalf("event %s is outside the announced window", id)
		}
		duplicates += n - 1
	}
	if len(ids) != len(want) {
		t.Fatalf("delivered %d of %d OpsWorks events\n%s", len(ids), len(want), strings.Join(logs, "\n----\n"))
	}
	var received, deleted int
	for i, log := range logs {
		m := receivedRe.FindStringSubmatch(log)
		if m == nil {
			t.Fatalf("fluent-bit %d logged no SQS summary:\n%s", i, log)
		}
		r, _ := strconv.Atoi(m[1])
		d, _ := strconv.Atoi(m[2])
		if r == 0 {
			t.Errorf("fluent-bit %d received no message: the queue was not shared", i)
		}
		received, deleted = received+r, deleted+d
	}
	t.Logf("%d files announced, %d events delivered by 3 Fluent Bit processes, %d duplicates; %d messages received, %d deleted",
		len(window), len(ids), duplicates, received, deleted)
	if deleted < len(window) {
		t.Errorf("%d messages deleted, want %d", deleted, len(window))
	}
	if v, f, _ := sqstest.Counts(context.Background(), sq.Client(t), dlq); v+f != 0 {
		t.Errorf("%d messages in the dead-letter queue", v+f)
	}
}
