package e2e

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/sqstest"
	"gopkg.in/yaml.v3"
)

// shippedConfigs lists every Fluent Bit configuration this repository ships
// outside the repository root: examples/pipelines/*.{conf,yaml} except the
// plugins files.
func shippedConfigs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.conf", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(repoRoot(), "examples", "pipelines", pat))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasPrefix(filepath.Base(f), "plugins.") {
				out = append(out, filepath.Base(f))
			}
		}
	}
	sort.Strings(out)
	if len(out) < 8 {
		t.Fatalf("only %d shipped pipelines: %v", len(out), out)
	}
	return out
}

// dryRun runs `fluent-bit -c config --dry-run` in dir with env.
func dryRun(bin, dir, config string, env []string) (string, error) {
	cmd := exec.Command(bin, "-c", config, "--dry-run")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// (a) Fluent Bit accepts every shipped configuration, classic and YAML, with
// the plugin loaded through its plugins file; and --dry-run does reject a
// broken one (so the check means something).
func TestShippedConfigsDryRun(t *testing.T) {
	bin := fluentBit(t)
	// Every variable the pipelines use, set as a user would (the input
	// does not reach S3 in a dry run).
	env := append(shipEnv(nil, nil, nil), "CLOUDTRAIL_BUCKET=my-trail-bucket", "CLOUDTRAIL_PREFIX=AWSLogs/",
		"CLOUDTRAIL_ORG_ID=o-exampleorg1", "AWS_REGION=us-east-1", "CLOUDTRAIL_S3_ENDPOINT=http://127.0.0.1:9",
		"CLOUDTRAIL_S3_FORCE_PATH_STYLE=on", "CLOUDTRAIL_VALIDATE_INTEGRITY=on", "CLOUDTRAIL_PUBLIC_KEYS_FILE=/etc/opsworks-trail/cloudtrail-public-keys.json")
	for _, name := range shippedConfigs(t) {
		t.Run(name, func(t *testing.T) {
			d := shipInstall(t, name)
			out, err := dryRun(bin, d.dir, name, env)
			if err != nil || !strings.Contains(out, "configuration test is successful") {
				t.Fatalf("--dry-run rejects %s: %v\n%s", name, err, out)
			}
			if strings.Contains(out, "[error]") || strings.Contains(out, "is used but not set") {
				t.Errorf("--dry-run of %s logs problems:\n%s", name, out)
			}
			// Negative control: the same file with an output plugin that
			// does not exist must fail.
			broken := strings.Replace(readShipped(t, name), "Name               es", "Name               no_such_output", 1)
			broken = strings.Replace(broken, "name: es\n", "name: no_such_output\n", 1)
			broken = strings.Replace(broken, "Name        loki", "Name        no_such_output", 1)
			broken = strings.Replace(broken, "name: loki\n", "name: no_such_output\n", 1)
			broken = strings.Replace(broken, "Name               opensearch", "Name               no_such_output", 1)
			broken = strings.Replace(broken, "name: opensearch\n", "name: no_such_output\n", 1)
			d.writeRewritten(t, "broken-"+name, broken)
			if out, err := dryRun(bin, d.dir, "broken-"+name, env); err == nil {
				t.Errorf("--dry-run accepts %s with an unknown output plugin:\n%s", name, out)
			}
		})
	}
}

// deployConfig is a Fluent Bit configuration embedded in a deployment file:
// the files it consists of and the one to start with.
type deployConfig struct {
	main  string
	files map[string]string
	sqs   bool // reads an SQS queue (CLOUDTRAIL_QUEUE_URL), else a bucket window with exit_on_eof
}

// deployConfigs extracts the configurations of deploy/: the ConfigMaps of
// the Kubernetes manifests, and fluent-bit.conf as the Fluent Bit Helm
// chart assembles it from config.service/inputs/filters/outputs (plus
// config.extraFiles beside it in /fluent-bit/etc/conf).
func deployConfigs(t *testing.T) map[string]deployConfig {
	t.Helper()
	out := map[string]deployConfig{}
	for name, file := range map[string]string{"backfill-job": "backfill-job.yaml", "sqs-fleet": "sqs-fleet.yaml"} {
		dec := yaml.NewDecoder(bytes.NewReader(readFileBytes(t, filepath.Join(repoRoot(), "deploy", "kubernetes", file))))
		for {
			var m struct {
				Kind string            `yaml:"kind"`
				Data map[string]string `yaml:"data"`
			}
			if err := dec.Decode(&m); err != nil {
				break
			}
			if m.Kind == "ConfigMap" {
				out[name] = deployConfig{main: "fluent-bit.yaml", files: m.Data, sqs: strings.Contains(m.Data["fluent-bit.yaml"], "queue_url")}
			}
		}
	}
	var v struct {
		Config struct {
			Service, Inputs, Filters, Outputs string
			ExtraFiles                        map[string]string `yaml:"extraFiles"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(readFileBytes(t, filepath.Join(repoRoot(), "deploy", "helm", "values.yaml")), &v); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"fluent-bit.conf": v.Config.Service + v.Config.Inputs + v.Config.Filters + v.Config.Outputs}
	for k, c := range v.Config.ExtraFiles {
		// The chart mounts its ConfigMap at /fluent-bit/etc/conf; here the
		// files sit in the test's dir.
		files[k] = c
	}
	out["helm"] = deployConfig{main: "fluent-bit.conf", files: files, sqs: true}
	if len(out) != 3 || !out["sqs-fleet"].sqs || out["backfill-job"].sqs {
		t.Fatalf("deployment configurations: %v", out)
	}
	return out
}

// sameUnknownVariants copies got with opsworks_variant taken from want
// where one of the two is cm_unknown.
func sameUnknownVariants(got, want map[string]map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, d := range got {
		if w := want[id]; w != nil && d["opsworks_variant"] != w["opsworks_variant"] &&
			(d["opsworks_variant"] == "cm_unknown" || w["opsworks_variant"] == "cm_unknown") {
			d = maps.Clone(d)
			d["opsworks_variant"] = w["opsworks_variant"]
		}
		out[id] = d
	}
	return out
}

// regionLine is the input's region key in a YAML or classic configuration.
var regionLine = regexp.MustCompile(`(?m)^(\s*)region(:?\s+)\$\{AWS_REGION\}$`)

// minioKeys adds endpoint and force_path_style beside the input's region:
// the deployments read AWS S3, the test reads MinIO.
func minioKeys(conf, endpoint string) string {
	return regionLine.ReplaceAllString(conf, "${0}\n${1}endpoint${2}"+endpoint+"\n${1}force_path_style${2}on")
}

// The configurations in deploy/ are accepted by --dry-run and, run for real
// with their input reading MinIO, deliver every OpsWorks event to a _bulk
// capture like the shipped Elasticsearch pipeline does: the backfill Job's
// over its window, ending by itself with the exit code its Job's
// podFailurePolicy expects (2: the archive has a broken file), the SQS
// fleet's and the Helm follower's from a queue that `opsworks-trail
// enqueue` filled.
func TestDeployConfigs(t *testing.T) {
	bin := fluentBit(t)
	a := shipUploadArchive(t, false).withECS(t) // the deployments set ecs_fields on
	for name, cfg := range deployConfigs(t) {
		t.Run(name, func(t *testing.T) {
			d := &shipDeploy{dir: t.TempDir(), config: cfg.main}
			d.state = filepath.Join(d.dir, "state")
			for f, content := range cfg.files {
				d.writeRewritten(t, f, minioKeys(strings.ReplaceAll(content, "/fluent-bit/etc/conf/", d.dir+"/"), a.srv.Endpoint))
			}
			capture, srv := newCaptureBulk(t)
			env := append(shipEnv(srv, nil, nil), a.env()...)
			if cfg.sqs {
				sq := sqstest.Start(t)
				queue := sq.CreateQueue(t, "deploy-"+name, sqstest.QueueOptions{})
				enq := exec.Command(cliBinary(t), "enqueue", "-queue-url", queue, "-progress", "off", "-input", "region="+shipRegion,
					"-input", "endpoint="+a.srv.Endpoint, "-input", "force_path_style=on", "s3://"+shipBucket+"/")
				enq.Env = append(os.Environ(), a.env()...)
				if out, err := enq.CombinedOutput(); err != nil {
					t.Fatalf("enqueue: %v\n%s", err, out)
				}
				env = append(env, "CLOUDTRAIL_QUEUE_URL="+queue)
			} else {
				env = append(env, "CLOUDTRAIL_START_TIME=2024-05-30", "CLOUDTRAIL_END_TIME=2024-06-02", "CLOUDTRAIL_VALIDATE_INTEGRITY=off")
			}
			if out, err := dryRun(bin, d.dir, cfg.main, env); err != nil || !strings.Contains(out, "configuration test is successful") {
				t.Fatalf("--dry-run rejects the %s configuration: %v\n%s", name, err, out)
			}
			var log string
			if cfg.sqs {
				log = d.run(t, bin, env, func() bool { return capture.count() >= len(a.events) })
			} else {
				cmd := exec.Command(bin, "-c", filepath.Join(d.dir, cfg.main))
				cmd.Dir, cmd.Env = d.dir, append(os.Environ(), env...)
				done := make(chan struct{})
				var out []byte
				var err error
				go func() { out, err = cmd.CombinedOutput(); close(done) }()
				select {
				case <-done:
				case <-time.After(120 * time.Second):
					_ = cmd.Process.Kill()
					<-done
					t.Fatalf("the backfill did not end by itself (exit_on_eof)\n%s", shipLogTail(string(out)))
				}
				log = string(out)
				// Every file was usable (the broken event is an error
				// record, not a failed file): 0, a completed Job.
				if code := exitCode(err); code != 0 {
					t.Errorf("exit code %d, want 0\n%s", code, shipLogTail(log))
				}
			}
			got, want := capture.snapshot(t, "opsworks-events"), a.events
			if cfg.sqs {
				// SQS hands files out in no particular order, and an
				// OpsWorks CM event's variant may depend on what the filter
				// saw before (README, rule 7): cm_unknown on one side only is
				// not a difference here.
				got = sameUnknownVariants(got, want)
			}
			checkDocuments(t, name, got, want)
			if strings.Contains(log, "[error]") {
				t.Errorf("Fluent Bit logged errors:\n%s", shipLogTail(log))
			}
		})
	}
}
