package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// In real Fluent Bit, S3 answers that stall mid-body (headers and half the
// bytes, then nothing) are abandoned after stall_timeout and read again:
// the backfill ends with every event, and the stalls are logged with their
// keys. Before stall_timeout a worker waited on such a body forever.
func TestRealFluentBitInputStalledBodies(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	srv := s3test.MinIO(t)
	srv.CreateBucket(t, "trail")
	o := corpus.Options{Seed: 12, Events: 800, OpsWorksShare: 0.3, EventsPerFile: 25}
	files := corpus.LogFiles(o)
	srv.UploadArchive(t, "trail", files, true)
	want := opsworksIDs(t, files)
	// The first is the start-up check's one-byte read; three object reads follow.
	proxy := s3test.NewFaultProxy(t, srv.Endpoint, s3test.Rule{Method: "GET", KeyRegexp: "_CloudTrail_", Times: 4, Fault: s3test.StallMidBody})
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	p := newPipeline(t)
	conf := inputConf(p, in, filterSO, fmt.Sprintf(`bucket trail
		region us-east-1
		endpoint %s
		force_path_style on
		stall_timeout 1s
		api_timeout 3s`, proxy.URL))
	log := p.run(bin, conf, func() bool {
		return countLines(p.path("events.out")) >= len(want) && strings.Contains(readLog(p), "backfill finished")
	})
	assertOnce(t, want, readOutput(t, p.path("events.out")), log, nil)
	stalls := 0
	for _, r := range proxy.Requests() {
		if r.Fault == s3test.StallMidBody {
			stalls++
		}
	}
	if n := stalls; n < 4 {
		t.Fatalf("only %d stalls were played: the test did not exercise stall_timeout\n%s", n, log)
	}
	if !strings.Contains(log, "(stall_timeout)") || !strings.Contains(log, "s3://trail/AWSLogs/") {
		t.Fatalf("no warning naming a stalled object:\n%s", log)
	}
}
