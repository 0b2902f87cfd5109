package e2e

// The archive the shipped pipelines (examples/pipelines) read in the tests:
// generated CloudTrail log files, and optionally the sample trail, in a MinIO
// bucket, read by the pipelines' own cloudtrail_s3 input configured through
// the environment as users configure it. What the pipelines must deliver is
// what the CLI prints over the same bucket (the same engine and filter), and
// the OpsWorks eventIDs are checked against the uploaded files themselves.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

const (
	shipBucket = "cloudtrail-archive"
	shipRegion = "us-east-1"
	// shipBrokenKey holds one OpsWorks event with invalid UTF-8: the input
	// passes it on with opsworks_error, and the pipelines route it to the
	// errors file.
	shipBrokenKey = "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/02/111122223333_CloudTrail_us-east-1_20240602T2355Z_brokenUTF8abcdef.json.gz"
	shipBrokenID  = "0badbad0-2222-3333-4444-555555555555"
)

var shipBrokenBody = []byte(`{"Records":[{"eventVersion":"1.08","eventTime":"2024-06-02T23:50:00Z","eventSource":"opsworks.amazonaws.com","eventName":"DescribeStacks","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"bad ` + "\xff\xfe" + ` text","eventID":"` + shipBrokenID + `","eventType":"AwsApiCall","recipientAccountId":"111122223333","readOnly":true}]}`)

// shipArchive is the uploaded archive and what the pipelines must deliver.
type shipArchive struct {
	srv *s3test.Server
	*shipInput
}

// shipUploadArchive starts MinIO and uploads the archive: generated log
// files (each account's and region's in time order, as Loki requires within
// a stream), the broken file, and with withSample the sample trail (which
// adds the variants the generator lacks, but repeats its time range).
func shipUploadArchive(t *testing.T, withSample bool) *shipArchive {
	t.Helper()
	a := &shipArchive{srv: s3test.MinIO(t)}
	a.srv.CreateBucket(t, shipBucket)
	files := corpus.LogFiles(corpus.Options{Seed: 5, Events: 3000, OpsWorksShare: 0.4})
	a.srv.UploadArchive(t, shipBucket, files, true)
	ids := opsworksIDs(t, files)
	if withSample {
		sample := filepath.Join(repoRoot(), "examples", "sample-trail")
		if _, _, err := s3test.UploadDir(context.Background(), a.srv.Client(t), shipBucket, sample); err != nil {
			t.Fatal(err)
		}
		var sampleFiles []corpus.File
		_ = filepath.Walk(sample, func(p string, info os.FileInfo, err error) error {
			if err == nil && strings.HasSuffix(p, ".json") {
				sampleFiles = append(sampleFiles, corpus.File{Body: readFileBytes(t, p)})
			}
			return nil
		})
		for id := range opsworksIDs(t, sampleFiles) {
			ids[id] = true
		}
	}
	broken, err := s3test.Gzip(shipBrokenBody, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a.srv.PutObject(t, shipBucket, shipBrokenKey, broken)

	a.shipInput = a.cli(t)
	if len(a.events) != len(ids) {
		t.Fatalf("the CLI prints %d OpsWorks events, the archive has %d", len(a.events), len(ids))
	}
	for id := range ids {
		if a.events[id] == nil {
			t.Fatalf("the CLI misses event %s", id)
		}
	}
	if len(a.events) < 1000 || len(a.errors) != 1 || a.errors[0]["opsworks_error"] == nil {
		t.Fatalf("the archive has %d OpsWorks events and errors %v; want ≥ 1000 and the broken event", len(a.events), a.errors)
	}
	if withSample {
		a.checkVariants(t)
	}
	return a
}

// env configures the shipped pipelines' input for the bucket, as a user
// would, plus MinIO's credentials through the AWS SDK's variables.
// CLOUDTRAIL_PREFIX and CLOUDTRAIL_ORG_ID stay unset: Fluent Bit expands them
// to empty values, which the input takes as its defaults.
func (a *shipArchive) env() []string {
	return []string{
		"CLOUDTRAIL_BUCKET=" + shipBucket, "AWS_REGION=" + shipRegion,
		"CLOUDTRAIL_S3_ENDPOINT=" + a.srv.Endpoint, "CLOUDTRAIL_S3_FORCE_PATH_STYLE=on",
		"AWS_ACCESS_KEY_ID=" + a.srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + a.srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

var cliBuild struct {
	once sync.Once
	path string
	err  error
}

// cliBinary builds cmd/opsworks-trail once per test run.
func cliBinary(t *testing.T) string {
	t.Helper()
	cliBuild.once.Do(func() {
		dir, err := os.MkdirTemp("", "opsworks-e2e-cli-*")
		if err != nil {
			cliBuild.err = err
			return
		}
		cliBuild.path = filepath.Join(dir, "opsworks-trail")
		cmd := exec.Command("go", "build", "-o", cliBuild.path, "./cmd/opsworks-trail")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			cliBuild.err = fmt.Errorf("building the CLI: %v\n%s", err, out)
		}
	})
	if cliBuild.err != nil {
		t.Fatal(cliBuild.err)
	}
	return cliBuild.path
}

// cli runs `opsworks-trail -meta s3://bucket/AWSLogs/` against MinIO and
// sorts what it prints: OpsWorks events by eventID (checking tag = variant),
// and the records it could not process (exit status 2 says there are some).
func (a *shipArchive) cli(t *testing.T, flags ...string) *shipInput {
	t.Helper()
	args := append([]string{"-meta", "-q", "-progress", "off",
		"-input", "endpoint=" + a.srv.Endpoint, "-input", "force_path_style=on", "-input", "region=" + shipRegion}, flags...)
	cmd := exec.Command(cliBinary(t), append(args, "s3://"+shipBucket+"/AWSLogs/")...)
	cmd.Env = append(os.Environ(), a.env()...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 2) {
		t.Fatalf("CLI over MinIO: %v\n%s", err, stderr.String())
	}
	in := &shipInput{events: map[string]map[string]any{}}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		in.lines++
		m := shipDecode(t, line)
		rec, _ := m["record"].(map[string]any)
		if rec == nil {
			t.Fatalf("CLI line without record: %s", line)
		}
		if rec["opsworks_error"] != nil {
			in.errors = append(in.errors, rec)
			continue
		}
		if m["tag"] != "opsworks."+fmt.Sprint(rec["opsworks_variant"]) {
			t.Fatalf("CLI: tag %v for variant %v", m["tag"], rec["opsworks_variant"])
		}
		if rec["s3_bucket"] != shipBucket || !strings.HasPrefix(fmt.Sprint(rec["s3_key"]), "AWSLogs/") {
			t.Fatalf("CLI: no S3 provenance: %v", rec)
		}
		id := rec["eventID"].(string)
		if in.events[id] != nil {
			t.Fatalf("CLI: event %s printed twice", id)
		}
		in.events[id] = rec
	}
	return in
}

// withECS is the same archive with what a search pipeline must deliver: the
// shipped Elasticsearch/OpenSearch pipelines and deployments set ecs_fields
// on, so the CLI runs with the same option.
func (a *shipArchive) withECS(t *testing.T) *shipArchive {
	t.Helper()
	e := &shipArchive{srv: a.srv, shipInput: a.cli(t, "-set", "ecs_fields=on")}
	outcomes := 0
	for _, ev := range e.events {
		if o, ok := ev["event"].(map[string]any); ok && (o["outcome"] == "success" || o["outcome"] == "failure") {
			outcomes++
		}
	}
	if outcomes != len(e.events) || len(e.events) != len(a.events) {
		t.Fatalf("the CLI with ecs_fields on: event.outcome on %d of %d events (%d without the option)", outcomes, len(e.events), len(a.events))
	}
	return e
}

// shipTapFile is the extra output the tests add to each installed pipeline:
// every OpsWorks event as plain NDJSON, to compare with the CLI.
const shipTapFile = "tap.ndjson"

// addTap appends a file output of every opsworks.* record to the installed
// config (classic: one more [OUTPUT]; YAML: first in the outputs list). The
// shipped outputs are unchanged.
func (d *shipDeploy) addTap(t *testing.T) {
	t.Helper()
	path := filepath.Join(d.dir, d.config)
	content := string(readFileBytes(t, path))
	if strings.HasSuffix(d.config, ".yaml") {
		tap := fmt.Sprintf("  outputs:\n    - name: file\n      match: 'opsworks.*'\n      path: %s\n      file: %s\n      format: plain\n\n", d.dir, shipTapFile)
		if !strings.Contains(content, "\n  outputs:\n") {
			t.Fatalf("%s has no outputs list", d.config)
		}
		content = strings.Replace(content, "  outputs:\n", tap, 1)
	} else {
		content += fmt.Sprintf("\n[OUTPUT]\n    Name   file\n    Match  opsworks.*\n    Path   %s\n    File   %s\n    Format plain\n", d.dir, shipTapFile)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// tapRecords reads the tap by eventID.
func (d *shipDeploy) tapRecords(t *testing.T) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range readPlainNDJSON(t, filepath.Join(d.dir, shipTapFile)) {
		id, _ := r["eventID"].(string)
		if out[id] != nil {
			t.Errorf("tap: event %s twice", id)
		}
		out[id] = r
	}
	return out
}

// runArchive runs an installed pipeline, with the tap, over the archive
// until done() and every event has reached the tap and the broken one the
// errors file; then checks the tap against the CLI field for field (plain
// format adds no field) and the errors file. It returns Fluent Bit's log.
func (d *shipDeploy) runArchive(t *testing.T, bin string, a *shipArchive, env []string, done func() bool) string {
	t.Helper()
	d.addTap(t)
	errFile := filepath.Join(d.state, "errors", "cloudtrail-errors.ndjson")
	log := d.run(t, bin, append(env, a.env()...), func() bool {
		return done() && len(readPlainNDJSON(t, filepath.Join(d.dir, shipTapFile))) >= len(a.events) &&
			len(readPlainNDJSON(t, errFile)) >= len(a.errors)
	})
	checkRecords(t, d.config+" → file, vs the CLI", d.tapRecords(t), a.events)
	checkErrorsFile(t, errFile, a.shipInput)
	if strings.Contains(log, "[error]") {
		t.Errorf("Fluent Bit logged errors:\n%s", shipLogTail(log))
	}
	return log
}
