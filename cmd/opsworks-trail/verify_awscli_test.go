package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/integrity"
	"github.com/opsworks-trail/opsworks-trail/test/trailsign"
)

// awsCLI returns an `aws` that honours AWS_ENDPOINT_URL_S3 (aws-cli 1.29+
// or 2.13+), or skips.
func awsCLI(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no aws CLI on PATH: skipping the comparison with aws cloudtrail validate-logs")
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	m := regexp.MustCompile(`aws-cli/(\d+)\.(\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Skipf("aws --version: %v %s", err, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if (major == 1 && minor < 29) || (major == 2 && minor < 13) {
		t.Skipf("aws-cli %d.%d does not honour AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_CLOUDTRAIL (needs 1.29+ or 2.13+)", major, minor)
	}
	return bin
}

// The reference: `aws cloudtrail validate-logs` and `opsworks-trail verify`
// agree on the same MinIO bucket, clean and after a log file was deleted
// and another changed; the file slipped in is found by verify only.
func TestVerifyAgreesWithAWSCLI(t *testing.T) {
	bin := awsCLI(t)
	a := signedArchive(t)
	srv := a.InMinIO(t)
	ct := trailsign.FakeCloudTrail(t, a)
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_ENDPOINT_URL_S3=" + srv.Endpoint, "AWS_ENDPOINT_URL_CLOUDTRAIL=" + ct.URL}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	validate := func() (int, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--region", "us-east-1", "cloudtrail", "validate-logs",
			"--trail-arn", "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail", "--s3-bucket", a.Bucket,
			"--start-time", "2024-05-30T00:00:00Z", "--end-time", "2024-05-31T00:00:00Z", "--verbose")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("aws: %v\n%s", err, out)
		}
		return code, string(out)
	}
	verify := func() (int, []verdict) {
		code, vs, stderr := runVerifyCLI(t, "-v", "-input", "endpoint="+srv.Endpoint, "-input", "force_path_style=on",
			"-input", "region=us-east-1", "-input", "regions=us-east-1", "-since", "2024-05-30", "-until", "2024-05-31", "s3://"+a.Bucket)
		if code == exitFailure {
			t.Fatalf("verify failed:\n%s", stderr)
		}
		return code, vs
	}

	code, out := validate()
	m := regexp.MustCompile(`(\d+)/(\d+) digest files valid`).FindStringSubmatch(out)
	l := regexp.MustCompile(`(\d+)/(\d+) log files valid`).FindStringSubmatch(out)
	if code != 0 || m == nil || l == nil || m[1] != m[2] || l[1] != l[2] {
		t.Fatalf("aws cloudtrail validate-logs on the clean bucket: exit %d\n%s", code, out)
	}
	vcode, vs := verify()
	c := statusCount(vs)
	if vcode != exitOK || fmt.Sprint(c[integrity.StatusValid]) != fmt.Sprint(atoi(m[1])+atoi(l[1])) {
		t.Fatalf("clean: verify %v (exit %d), aws-cli %s digests + %s logs valid\n%s", c, vcode, m[1], l[1], out)
	}
	t.Logf("clean bucket: aws-cli %s digests and %s log files valid; verify %d valid", m[1], l[1], c[integrity.StatusValid])

	// Tamper: delete one us-east-1 log file, change another, slip one in.
	var logs []string
	for k := range a.Files {
		if strings.Contains(k, "/CloudTrail/us-east-1/") {
			logs = append(logs, k)
		}
	}
	srv.DeleteObject(t, a.Bucket, logs[0])
	body, _ := trailsign.Gunzip(a.Files[logs[1]])
	gz, _ := trailsign.Gzip(bytes.Replace(body, []byte(`"eventName":"`), []byte(`"eventName":"Q`), 1))
	srv.PutObject(t, a.Bucket, logs[1], gz)
	forged := logs[2][:len(logs[2])-len("0123456789abcdef.json.gz")] + "ffffffffffffffff.json.gz"
	srv.PutObject(t, a.Bucket, forged, a.Files[logs[2]])

	code, out = validate()
	if code == 0 || !strings.Contains(out, logs[0]+"\tINVALID: not found") || !strings.Contains(out, logs[1]+"\tINVALID: hash value doesn't match") {
		t.Fatalf("aws-cli did not report the deleted and the changed file: exit %d\n%s", code, out)
	}
	if strings.Contains(out, forged) {
		t.Fatalf("aws-cli reports the forged file after all; the README says it does not:\n%s", out)
	}
	vcode, vs = verify()
	got := map[string]string{}
	for _, v := range vs {
		got[v.Key] = v.Status
	}
	if vcode != exitBadInput || got[logs[0]] != integrity.StatusLogMissing || got[logs[1]] != integrity.StatusLogModified ||
		(got[forged] != integrity.StatusLogUnreferenced && got[forged] != integrity.StatusLogUnverified) {
		t.Fatalf("verify: exit %d, deleted %q, changed %q, forged %q", vcode, got[logs[0]], got[logs[1]], got[forged])
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }
