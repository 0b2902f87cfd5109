package main

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
	"github.com/opsworks-trail/opsworks-trail/test/s3test"
)

// TestMain lets a test run the CLI as a process of its own (execCLI): Go
// reads the proxy environment once per process, so proxy tests cannot run
// in the test's.
func TestMain(m *testing.M) {
	if os.Getenv("OPSWORKS_TRAIL_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// execCLI runs the CLI in a new process with env (and nothing of the
// test's AWS or proxy environment).
func execCLI(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	for _, e := range os.Environ() {
		name, _, _ := strings.Cut(e, "=")
		if !strings.HasPrefix(name, "AWS_") && !strings.HasSuffix(strings.ToUpper(name), "_PROXY") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	cmd.Env = append(cmd.Env, append(env, "OPSWORKS_TRAIL_TEST_MAIN=1", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// Corporate networks: S3 (MinIO over HTTPS, its certificate from a CA made
// here) reached only through an HTTPS proxy (HTTPS_PROXY; the server has a
// name only the proxy resolves, since Go never proxies loopback), the CA
// trusted through the SDK's AWS_CA_BUNDLE — for S3 and for STS
// (role_arn: MinIO answers AssumeRole too, AWS_ENDPOINT_URL_STS).
func TestProxyAndPrivateCA(t *testing.T) {
	ca := s3test.NewCA(t, "minio.test", "127.0.0.1")
	srv := s3test.MinIOTLS(t, ca)
	srv.CreateBucket(t, "trail")
	files := corpus.LogFiles(corpus.Options{Seed: 71, Events: 200, OpsWorksShare: 0.5, EventsPerFile: 20})
	srv.UploadArchive(t, "trail", files, true)
	want := 0
	for _, f := range files {
		want += strings.Count(string(f.Body), `"eventSource":"opsworks`)
	}
	u, _ := url.Parse(srv.Endpoint)
	named := "minio.test:" + u.Port()
	proxy := s3test.NewConnectProxy(t, map[string]string{named: u.Host})
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	creds := []string{"AWS_ACCESS_KEY_ID=" + srv.AccessKey, "AWS_SECRET_ACCESS_KEY=" + srv.SecretKey}
	args := []string{"-q", "-progress", "off", "-input", "endpoint=https://" + named, "-input", "force_path_style=on",
		"-input", "region=us-east-1", "s3://trail/"}
	events := func(out string) int { return strings.Count(out, `"eventSource":"opsworks`) }

	for _, tc := range []struct {
		name  string
		env   []string
		extra []string
	}{
		{"proxy and CA bundle", []string{"HTTPS_PROXY=" + proxy.URL, "AWS_CA_BUNDLE=" + bundle}, nil},
		{"and an assumed role", []string{"HTTPS_PROXY=" + proxy.URL, "AWS_CA_BUNDLE=" + bundle, "AWS_ENDPOINT_URL_STS=https://" + named},
			[]string{"-input", "role_arn=arn:aws:iam::111122223333:role/opsworks-trail-reader"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(proxy.Seen())
			code, out, stderr := execCLI(t, append(creds, tc.env...), append(tc.extra, args...)...)
			if code != 0 || events(out) != want {
				t.Fatalf("exit %d, %d of %d events\n%s", code, events(out), want, stderr)
			}
			if seen := proxy.Seen()[before:]; !slices.Contains(seen, named) {
				t.Errorf("the proxy saw %v, not %s", seen, named)
			}
		})
	}
	// The controls: without the bundle the certificate is refused — at
	// once, with the default retries: a certificate error is not retried —
	// and without the proxy the name does not resolve; the errors say so.
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no CA bundle", []string{"HTTPS_PROXY=" + proxy.URL}, nil, "certificate signed by unknown authority"},
		{"no CA bundle for STS", []string{"HTTPS_PROXY=" + proxy.URL, "AWS_ENDPOINT_URL_STS=https://" + named},
			[]string{"-input", "role_arn=arn:aws:iam::111122223333:role/opsworks-trail-reader"}, "certificate signed by unknown authority"},
		{"no proxy", []string{"AWS_CA_BUNDLE=" + bundle}, []string{"-input", "max_retries=0"}, "minio.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out, stderr := execCLI(t, append(creds, tc.env...), append(tc.args, args...)...)
			took := time.Since(start)
			if code == 0 || events(out) != 0 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, %d events; want a failure naming %q:\n%s", code, events(out), tc.want, stderr)
			}
			if took > 15*time.Second {
				t.Errorf("took %s to fail: a certificate error must not be retried", took.Round(time.Second))
			}
		})
	}
}
