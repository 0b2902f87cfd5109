package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

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
}

// deployConfigs extracts the configurations of deploy/: the sidecar's
// ConfigMap, and fluent-bit.conf as the Fluent Bit Helm chart assembles it
// from config.service/inputs/filters/outputs (plus config.extraFiles beside
// it in /fluent-bit/etc/conf).
func deployConfigs(t *testing.T) map[string]deployConfig {
	t.Helper()
	out := map[string]deployConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(readFileBytes(t, filepath.Join(repoRoot(), "deploy", "kubernetes", "sidecar.yaml"))))
	for {
		var m struct {
			Kind string            `yaml:"kind"`
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&m); err != nil {
			break
		}
		if m.Kind == "ConfigMap" {
			out["kubernetes"] = deployConfig{main: "fluent-bit.yaml", files: m.Data}
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
	out["helm"] = deployConfig{main: "fluent-bit.conf", files: files}
	if len(out) != 2 || len(out["kubernetes"].files) < 2 {
		t.Fatalf("deployment configurations: %v", out)
	}
	return out
}

// The configurations in deploy/ are accepted by --dry-run and, run for real
// against a _bulk capture, deliver every OpsWorks event like the shipped
// Elasticsearch pipeline does.
func TestDeployConfigs(t *testing.T) {
	bin := fluentBit(t)
	for name, cfg := range deployConfigs(t) {
		t.Run(name, func(t *testing.T) {
			d := &shipDeploy{dir: t.TempDir(), config: cfg.main}
			d.state = filepath.Join(d.dir, "state")
			d.input = filepath.Join(d.dir, "in", "trail.ndjson")
			if err := os.MkdirAll(filepath.Dir(d.input), 0o755); err != nil {
				t.Fatal(err)
			}
			for f, content := range cfg.files {
				d.writeRewritten(t, f, strings.ReplaceAll(content, "/fluent-bit/etc/conf/", d.dir+"/"))
			}
			capture, srv := newCaptureBulk(t)
			env := shipEnv(srv, nil, nil)
			if out, err := dryRun(bin, d.dir, cfg.main, env); err != nil || !strings.Contains(out, "configuration test is successful") {
				t.Fatalf("--dry-run rejects the %s configuration: %v\n%s", name, err, out)
			}
			in := shipWriteInput(t, d.input)
			log := d.run(t, bin, env, func() bool { return capture.count() >= len(in.events) })
			checkDocuments(t, name, capture.snapshot(t, "opsworks-events"), in.events)
			if strings.Contains(log, "[error]") {
				t.Errorf("Fluent Bit logged errors:\n%s", shipLogTail(log))
			}
		})
	}
}
