package harness

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/opsworks-trail/opsworks-trail/record"
	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// The cloudtrail_s3 input under in-host.c, the stand-in for Fluent Bit's Go
// input proxy (see its header for what it mirrors).

var (
	inputOnce sync.Once
	inputErr  error
	inputSO   string
	inHost    string
)

func inputArtifacts(t *testing.T) {
	t.Helper()
	artifacts(t) // gcc check and the shared work dir
	inputOnce.Do(func() {
		root, _ := filepath.Abs(filepath.Join("..", ".."))
		inputSO = filepath.Join(workDir, "in_cloudtrail_s3.so")
		cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", inputSO, "./plugin/cloudtrail_s3")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			inputErr = fmt.Errorf("building the input plugin: %v\n%s", err, out)
			return
		}
		inHost = filepath.Join(workDir, "in-host")
		if out, err := exec.Command("gcc", "-O1", "-g", "-rdynamic", "-Wall", "-o", inHost, "in-host.c", "-ldl").CombinedOutput(); err != nil {
			inputErr = fmt.Errorf("building in-host: %v\n%s", err, out)
		}
	})
	if inputErr != nil {
		t.Fatal(inputErr)
	}
}

// inputRun is the result of one in-host run.
type inputRun struct {
	exit    int
	log     string
	records []map[string]any
}

// runInput runs the input with props until it has been idle for a while
// after delivering, and decodes what it delivered.
func runInput(t *testing.T, env []string, props map[string]string, extra ...string) inputRun {
	t.Helper()
	return runInputOn(t, []string{inHost}, inputSO, env, props, extra...)
}

// runInputOn is runInput with another host command (in-host behind
// qemu-user) and plugin.
func runInputOn(t *testing.T, host []string, so string, env []string, props map[string]string, extra ...string) inputRun {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.msgpack")
	args := append(host[1:], so, "-o", out, "--interval-ms", "20", "--ticks", "1500", "--idle-exit", "150")
	for k, v := range props {
		args = append(args, "-p", k+"="+v)
	}
	args = append(args, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, host[0], args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := inputRun{log: stdout.String() + stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("in-host: %v\n%s", err, r.log)
	}
	data, _ := os.ReadFile(out)
	err = record.ForEachRecord(data, func(_ record.EventTime, body *record.Value) error {
		var m map[string]any
		if err := json.Unmarshal(record.AppendJSON(nil, body), &m); err != nil {
			return err
		}
		r.records = append(r.records, m)
		return nil
	})
	if err != nil {
		t.Fatalf("delivered data is not Fluent Bit records: %v", err)
	}
	return r
}

// opsworksEventIDs returns the eventIDs of the OpsWorks events in files.
func opsworksEventIDs(t *testing.T, files []corpus.File) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, f := range files {
		var doc struct {
			Records []map[string]any
		}
		if err := json.Unmarshal(f.Body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, ev := range doc.Records {
			if s := ev["eventSource"]; s == "opsworks.amazonaws.com" || s == "opsworks-cm.amazonaws.com" {
				ids[ev["eventID"].(string)] = true
			}
		}
	}
	return ids
}

func testArchive() corpus.Options {
	return corpus.Options{Seed: 11, Events: 1500, OpsWorksShare: 0.2, EventsPerFile: 20,
		Accounts: []string{"111122223333", "444455556666"}, Regions: []string{"us-east-1", "eu-west-1"}}
}

func writeLocalArchive(t *testing.T, o corpus.Options) (string, []corpus.File) {
	t.Helper()
	dir := t.TempDir()
	if _, err := corpus.WriteArchive(dir, o, true); err != nil {
		t.Fatal(err)
	}
	return dir, corpus.LogFiles(o)
}

// deliveredIDs checks every record is a selected event with provenance and
// returns their eventIDs with multiplicity.
func deliveredIDs(t *testing.T, recs []map[string]any, provenance string) map[string]int {
	t.Helper()
	ids := map[string]int{}
	for _, r := range recs {
		if r["opsworks_error"] != nil {
			t.Fatalf("error record delivered: %v", r)
		}
		if s := r["eventSource"]; s != "opsworks.amazonaws.com" && s != "opsworks-cm.amazonaws.com" {
			t.Fatalf("push-down let %v through", s)
		}
		if p, _ := r[provenance].(string); !strings.Contains(p, "CloudTrail") {
			t.Fatalf("record lacks %s provenance: %v", provenance, r)
		}
		ids[r["eventID"].(string)]++
	}
	return ids
}

func assertExactlyOnce(t *testing.T, want map[string]bool, got map[string]int) {
	t.Helper()
	for id, n := range got {
		if !want[id] {
			t.Fatalf("unexpected event %s", id)
		}
		if n != 1 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("delivered %d of %d OpsWorks events", len(got), len(want))
	}
}

func TestInputLocalBackfillRestartAndCrash(t *testing.T) {
	inputArtifacts(t)
	dir, files := writeLocalArchive(t, testArchive())
	want := opsworksEventIDs(t, files)

	state := t.TempDir()
	props := map[string]string{"path": dir, "state_dir": state, "batch_size": "8K", "workers": "3"}
	first := runInput(t, nil, props)
	if first.exit != 0 || !strings.Contains(first.log, "init 1") {
		t.Fatalf("run failed (exit %d):\n%s", first.exit, first.log)
	}
	assertExactlyOnce(t, want, deliveredIDs(t, first.records, "file_path"))

	// A restart with the same checkpoint delivers nothing again.
	again := runInput(t, nil, props, "--ticks", "80")
	if len(again.records) != 0 {
		t.Fatalf("restart re-sent %d records", len(again.records))
	}

	// A batch lost between collect and append (a crash there) is not
	// committed, so the next run delivers exactly what was lost.
	state2 := t.TempDir()
	props["state_dir"] = state2
	crashed := runInput(t, nil, props, "--fail-append-at", "3")
	if !strings.Contains(crashed.log, "dropped") {
		t.Fatalf("no batch was dropped:\n%s", crashed.log)
	}
	recovered := runInput(t, nil, props)
	all := deliveredIDs(t, append(crashed.records, recovered.records...), "file_path")
	assertExactlyOnce(t, want, all)
	if len(recovered.records) == 0 {
		t.Fatal("the lost batch was not read again")
	}
}

func TestInputPauseResumeThroughProxy(t *testing.T) {
	inputArtifacts(t)
	dir, files := writeLocalArchive(t, testArchive())
	r := runInput(t, nil, map[string]string{"path": dir, "batch_size": "4K", "workers": "2"},
		"--pause-at", "2", "--resume-at", "30")
	if !strings.Contains(r.log, "pause") || !strings.Contains(r.log, "resume") {
		t.Fatalf("no pause/resume:\n%s", r.log)
	}
	assertExactlyOnce(t, opsworksEventIDs(t, files), deliveredIDs(t, r.records, "file_path"))
}

// S3 mode against gofakes3 (in-process S3 on loopback) through the real SDK.
func TestInputS3Backfill(t *testing.T) {
	inputArtifacts(t)
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	o := testArchive()
	files := corpus.LogFiles(o)
	for _, f := range files {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(f.Body)
		zw.Close()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(f.Key), Body: bytes.NewReader(gz.Bytes())}); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	props := map[string]string{"bucket": "trail", "region": "us-east-1", "endpoint": srv.URL, "force_path_style": "on",
		"state_dir": t.TempDir()}
	r := runInput(t, env, props)
	if r.exit != 0 {
		t.Fatalf("exit %d:\n%s", r.exit, r.log)
	}
	assertExactlyOnce(t, opsworksEventIDs(t, files), deliveredIDs(t, r.records, "s3_key"))
	for _, rec := range r.records {
		if rec["s3_bucket"] != "trail" {
			t.Fatalf("s3_bucket missing: %v", rec)
		}
	}
	if strings.Contains(r.log, "secret") {
		t.Fatal("credentials appear in the log")
	}

	// Access denied at start-up: init fails naming the permission.
	props["bucket"] = "no-such-bucket"
	bad := runInput(t, env, props, "--ticks", "5")
	if bad.exit != 3 || !strings.Contains(bad.log, "no-such-bucket") {
		t.Fatalf("missing bucket: exit %d\n%s", bad.exit, bad.log)
	}
}

func TestInputBadConfigFailsInit(t *testing.T) {
	inputArtifacts(t)
	cases := map[string]map[string]string{
		"bucket":        {"bucket": "b", "path": "/tmp"},
		"workers":       {"path": "/tmp", "workers": "many"},
		"record_mode":   {"path": "/tmp", "record_mode": "file"},
		"queue_url":     {"bucket": "b", "queue_url": "https://sqs.us-east-1.amazonaws.com/1/q"},
		"start_time":    {"path": "/tmp", "start_time": "last tuesday"},
		"event_sources": {"path": "/tmp", "event_sources": "opsworks"},
	}
	for key, props := range cases {
		r := runInput(t, nil, props, "--ticks", "3")
		if r.exit != 3 || !strings.Contains(r.log, key) {
			t.Errorf("%v: exit %d, want init failure naming %q:\n%s", props, r.exit, key, r.log)
		}
	}
}
