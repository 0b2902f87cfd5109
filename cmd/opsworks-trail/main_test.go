package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

type line struct {
	Tag    string         `json:"tag"`
	Time   string         `json:"time"`
	Record map[string]any `json:"record"`
}

func runCLI(t *testing.T, stdin string, args ...string) (int, []line, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"-meta"}, args...), strings.NewReader(stdin), &out, &errb)
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if l == "" {
			continue
		}
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("output line is not JSON: %v\n%s", err, l)
		}
		lines = append(lines, ln)
	}
	return code, lines, errb.String()
}

func tags(lines []line) string {
	var out []string
	for _, l := range lines {
		out = append(out, l.Tag)
	}
	return strings.Join(out, ",")
}

func TestCLI(t *testing.T) {
	ndjson, err := os.ReadFile("testdata/events.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		tags     string
		stderrIn string
	}{
		{"directory tree with gzip, plain and digest", []string{"testdata/trail"}, "", exitOK, "opsworks.stacks,opsworks.chef_automate", "2/2 objects, 0.0/0.0 MB (100%), 2/3 events kept"},
		{"directory with a window", []string{"-since", "2021-03-04T00:03:00Z", "-until", "2021-03-05", "testdata/trail"}, "", exitOK, "opsworks.chef_automate", "1/1 objects"},
		{"directory, bad input option", []string{"-input", "workers=lots", "testdata/trail"}, "", exitFailure, "", "workers"},
		{"s3 source without bucket", []string{"s3://"}, "", exitFailure, "", "no bucket"},
		{"ndjson file", []string{"testdata/events.ndjson"}, "", exitOK, "opsworks.stacks,opsworks.chef_automate", "3 documents"},
		{"stdin", nil, string(ndjson), exitOK, "opsworks.stacks,opsworks.chef_automate", ""},
		{"keep other events", []string{"-set", "keep_other_events=on", "testdata/events.ndjson"}, "", exitOK, "opsworks.stacks,-,opsworks.chef_automate", ""},
		{"malformed file", []string{"testdata/broken.json"}, "", exitBadInput, "-", "$.Records[0].eventVersion"},
		{"not CloudTrail", []string{"testdata/notcloudtrail.json"}, "", exitBadInput, "", "not a CloudTrail log file or event"},
		{"bad option", []string{"-set", "max_depth=x", "testdata/events.ndjson"}, "", exitFailure, "", "max_depth"},
		{"source_key not for the CLI", []string{"-set", "source_key=x"}, "", exitFailure, "", "-set source_key"},
		{"missing path", []string{"testdata/nope.json"}, "", exitFailure, "", "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, lines, stderr := runCLI(t, tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if got := tags(lines); got != tc.tags {
				t.Fatalf("tags %q, want %q", got, tc.tags)
			}
			if !strings.Contains(stderr, tc.stderrIn) {
				t.Fatalf("stderr does not mention %q:\n%s", tc.stderrIn, stderr)
			}
		})
	}
}

func TestCLIMalformedRecordKeepsText(t *testing.T) {
	_, lines, _ := runCLI(t, "", "testdata/broken.json")
	raw, _ := os.ReadFile("testdata/broken.json")
	if len(lines) != 1 || lines[0].Record["log"] != string(raw) || lines[0].Record["opsworks_error"] == nil {
		t.Fatalf("broken input must come back whole with its error: %+v", lines)
	}
}

func TestCLIEventTimeFlatteningProvenance(t *testing.T) {
	_, lines, _ := runCLI(t, "", "testdata/trail")
	first := lines[0]
	if first.Time != "2021-03-04T05:06:07Z" || first.Record["userIdentity_userName"] != "Alice" {
		t.Fatalf("got %+v", first)
	}
	if fp, _ := first.Record["file_path"].(string); !strings.HasPrefix(fp, "AWSLogs/111122223333/CloudTrail/") {
		t.Fatalf("file_path provenance: %v", first.Record)
	}
}

// s3://bucket/prefix through the real SDK against gofakes3 on loopback.
func TestCLIS3Source(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	ctx := context.Background()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("trail")}); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir("testdata/trail", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(strings.TrimPrefix(path, "testdata/trail/"))
		_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("trail"), Key: aws.String(key), Body: bytes.NewReader(body)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	code, lines, stderr := runCLI(t, "", "-input", "endpoint="+srv.URL, "-input", "force_path_style=on", "-input", "region=us-east-1", "s3://trail/AWSLogs/")
	if code != exitOK || tags(lines) != "opsworks.stacks,opsworks.chef_automate" {
		t.Fatalf("exit %d tags %q\n%s", code, tags(lines), stderr)
	}
	if lines[0].Record["s3_bucket"] != "trail" || !strings.HasPrefix(lines[0].Record["s3_key"].(string), "AWSLogs/") {
		t.Fatalf("provenance: %v", lines[0].Record)
	}
}
