package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
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
	env := shipEnv(nil, nil, nil)
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
			d.writeRewritten(t, "broken-"+name, broken, pluginSO(t))
			if out, err := dryRun(bin, d.dir, "broken-"+name, env); err == nil {
				t.Errorf("--dry-run accepts %s with an unknown output plugin:\n%s", name, out)
			}
		})
	}
}
