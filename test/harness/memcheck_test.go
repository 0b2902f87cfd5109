package harness

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Fluent Bit frees every buffer a filter returns with FLB_FILTER_MODIFIED
// using flb_free() (free()), exactly once, and never frees the chunk it
// passed in. These tests run the main scenarios under AddressSanitizer and
// under valgrind (each when available) so a plugin that returned Go memory,
// a buffer it keeps using, or the input chunk would be caught; a fake plugin
// that returns static memory checks that the tools are actually watching.

const memErrorExit = "86"

// Valgrind cannot follow the Go runtime (stack copying, vectorized string
// scans over-reading within a page); errors whose top frame is in the
// plugin's own code are suppressed. Invalid frees in the host are not.
const goSuppressions = `
{
   go-runtime-cond
   Memcheck:Cond
   obj:*/flb-filter_*.so
}
{
   go-runtime-value8
   Memcheck:Value8
   obj:*/flb-filter_*.so
}
{
   go-runtime-addr32
   Memcheck:Addr32
   obj:*/flb-filter_*.so
}
{
   go-runtime-addr16
   Memcheck:Addr16
   obj:*/flb-filter_*.so
}
{
   go-runtime-addr8
   Memcheck:Addr8
   obj:*/flb-filter_*.so
}
`

var (
	asanOnce sync.Once
	asanBin  string
	asanErr  string
)

// memScenario is one host run to check.
type memScenario struct {
	name   string
	opts   []string
	chunks [][]byte
	slow   bool // covered by the others; skipped under valgrind
}

func memScenarios(t *testing.T) []memScenario {
	split, _ := chunkOf(t, formatV2, plainLine, logFile, evEC2, plainLine)
	legacy, _ := chunkOf(t, formatLegacy, evPuppetLater, plainLine)
	dropped, _ := chunkOf(t, formatV2, evEC2)
	untouched, _ := chunkOf(t, formatV2, plainLine)
	q := `{"log":"{\"Records\":[{\"eventVersion\":\"1.05\" \"x\":1}]}"}`
	text, _ := chunkOf(t, formatV2, q, `{"log":`+quoteJSON(evStacks)+`}`)
	all := [][]byte{split, legacy, dropped, untouched}
	return []memScenario{
		{"emitter", nil, all, false},
		{"emitter-refuses", []string{"--fail-emitter"}, all, false},
		{"retag-off", []string{"-p", "retag=off"}, all, true},
		{"source-key", []string{"-p", "source_key=log", "-p", "error_tag=ct.err"}, [][]byte{text}, false},
		{"init-failure", []string{"-p", "emitter_storage.type=filesystem"}, nil, true},
	}
}

func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// checkMem runs every scenario plus the bad-free control under command.
func checkMem(t *testing.T, command, env []string, tool string, all bool) {
	for _, sc := range memScenarios(t) {
		if sc.slow && !all {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := execHost(t, command, env, pluginSO, sc.opts, sc.chunks...)
			if r.status == 86 || strings.Contains(r.stderr, "ERROR: AddressSanitizer") || !r.finished() {
				t.Fatalf("%s reports a memory error (exit %d):\n%s", tool, r.status, r.stderr)
			}
			if len(r.events("violation")) > 0 || (r.status != 0 && sc.name != "init-failure") {
				r.fatalf("unexpected outcome under %s", tool)
			}
		})
	}
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		bad := buildFake(t, "badfree", "-DELEMENT_SIZE=104", "-DBAD_FREE")
		chunk, _ := chunkOf(t, formatV2, plainLine)
		r := execHost(t, command, env, bad, nil, chunk)
		if r.status != 86 {
			r.fatalf("%s did not notice free() of a static buffer:\n%s", tool, r.stderr)
		}
	})
}

func TestMemoryASan(t *testing.T) {
	artifacts(t)
	asanOnce.Do(func() {
		bin := filepath.Join(workDir, "flb-host-asan")
		out, err := exec.Command("gcc", "-O1", "-g", "-rdynamic", "-fsanitize=address", "-fno-omit-frame-pointer",
			"-o", bin, "flb-host.c", "-ldl").CombinedOutput()
		if err != nil {
			asanErr = strings.TrimSpace(string(out))
			return
		}
		asanBin = bin
	})
	if asanBin == "" {
		t.Skipf("gcc cannot build with -fsanitize=address here (libasan missing?): %s", asanErr)
	}
	env := []string{"ASAN_OPTIONS=exitcode=" + memErrorExit + ":detect_leaks=1"}
	// LeakSanitizer needs ptrace; without it (some containers) keep ASan only.
	probe := execHost(t, []string{asanBin}, env, pluginSO, nil)
	if strings.Contains(probe.stderr, "LeakSanitizer has encountered a fatal error") {
		env = []string{"ASAN_OPTIONS=exitcode=" + memErrorExit + ":detect_leaks=0"}
	}
	checkMem(t, []string{asanBin}, env, "AddressSanitizer", true)
}

func TestMemoryValgrind(t *testing.T) {
	if testing.Short() {
		t.Skip("valgrind runs are slow; skipped with -short")
	}
	artifacts(t)
	vg, err := exec.LookPath("valgrind")
	if err != nil {
		t.Skip("valgrind not installed")
	}
	supp := filepath.Join(t.TempDir(), "go.supp")
	if err := os.WriteFile(supp, []byte(goSuppressions), 0o644); err != nil {
		t.Fatal(err)
	}
	command := []string{vg, "-q", "--error-exitcode=" + memErrorExit, "--suppressions=" + supp,
		"--leak-check=full", "--errors-for-leak-kinds=definite", hostBins[hostCurrent]}
	checkMem(t, command, nil, "valgrind", false)
}
