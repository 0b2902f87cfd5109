package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sampleRecords joins the sample trail into one log file per line, as
// `make fluent-bit-run` does.
func sampleRecords(t *testing.T, dst string) {
	t.Helper()
	var files []string
	_ = filepath.Walk(filepath.Join(repoRoot(), "examples", "sample-trail"), func(p string, info os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	var buf bytes.Buffer
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(bytes.TrimSpace(b))
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func canonical(t *testing.T, lines []string, drop string) []string {
	t.Helper()
	var out []string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" || !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, l)
		}
		delete(m, drop)
		b, _ := json.Marshal(m) // sorted keys
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}

// The shipped fluent-bit.conf runs as documented, and real Fluent Bit gives
// the same events, field for field, as the CLI on the same sample data.
func TestShippedConfigMatchesCLI(t *testing.T) {
	bin := fluentBit(t)
	so := pluginSO(t)
	dir := t.TempDir()
	copyFile(t, filepath.Join(repoRoot(), "fluent-bit.conf"), filepath.Join(dir, "fluent-bit.conf"))
	copyFile(t, filepath.Join(repoRoot(), "plugins.conf"), filepath.Join(dir, "plugins.conf"))
	copyFile(t, so, filepath.Join(dir, "build", "flb-filter_opsworks.so"))
	copyFile(t, inputPluginSO(t), filepath.Join(dir, "build", "in_cloudtrail_s3.so"))
	if err := os.Symlink(filepath.Join(repoRoot(), "examples"), filepath.Join(dir, "examples")); err != nil {
		t.Fatal(err)
	}

	dry := exec.Command(bin, "-c", "fluent-bit.conf", "--dry-run")
	dry.Dir = dir
	if out, err := dry.CombinedOutput(); err != nil {
		t.Fatalf("--dry-run rejects fluent-bit.conf: %v\n%s", err, out)
	}

	cli := exec.Command("go", "run", "./cmd/opsworks-trail", "examples/sample-trail")
	cli.Dir = repoRoot()
	cliOut, err := cli.Output()
	if err != nil {
		t.Fatalf("CLI: %v", err)
	}
	want := canonical(t, strings.Split(string(cliOut), "\n"), "")

	outPath := filepath.Join(dir, "stdout.ndjson")
	outFile, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd := exec.Command(bin, "-c", "fluent-bit.conf")
	cmd.Dir = dir
	cmd.Stdout = outFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	printed := func() string { b, _ := os.ReadFile(outPath); return string(b) }
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && strings.Count(printed(), "opsworks_variant") < len(want) {
		time.Sleep(200 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	got := canonical(t, strings.Split(printed(), "\n"), "date") // json_lines adds "date"
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("Fluent Bit printed %d events, the CLI %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event differs:\nfluent-bit: %s\ncli:        %s", got[i], want[i])
		}
	}
}
