package harness

import (
	"encoding/json"
	"fmt"
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

// checkMem runs every scenario plus the bad-free control under command,
// with plugin as the filter. A run whose stderr contains one of mustNotSay
// fails: the tool said it is not seeing everything.
func checkMem(t *testing.T, command, env []string, tool, plugin string, all bool, mustNotSay ...string) {
	for _, sc := range memScenarios(t) {
		if sc.slow && !all {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r := execHost(t, command, env, plugin, sc.opts, sc.chunks...)
			if r.status == 86 || strings.Contains(r.stderr, "ERROR: AddressSanitizer") || !r.finished() {
				t.Fatalf("%s reports a memory error (exit %d):\n%s", tool, r.status, r.stderr)
			}
			for _, bad := range mustNotSay {
				if strings.Contains(r.stderr, bad) {
					t.Fatalf("%s says %q:\n%s", tool, bad, r.stderr)
				}
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
	checkMem(t, []string{asanBin}, env, "AddressSanitizer", pluginSO, true)
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
	// The Go runtime reads its clock with RDTSCP where the CPU lists it,
	// and valgrind 3.19 does not emulate RDTSCP: on a virtual CPU that
	// lists it (the image's CI machines) the plugin's runtime dies with
	// SIGILL in runtime.cputicks as soon as the GC asks for the time.
	// cpu.rdtscp=off makes the runtime use RDTSC (+ a fence) instead; the
	// Go runtime of a c-shared library reads GODEBUG from the host's
	// environment at load time, so setting it for the host process is
	// enough. Nothing of the plugin's own logic depends on the clock
	// instruction.
	env := []string{"GODEBUG=cpu.rdtscp=off"}
	// valgrind 3.19 cannot read DWARF 5 (Go's default since 1.25:
	// "get_Form_szB: unhandled 27 (DW_FORM_addrx)", then it drops the
	// plugin's debug info). A copy of the plugin built with DWARF 4 keeps
	// its stacks readable; the check below fails if the warning comes back.
	checkMem(t, command, env, "valgrind", dwarf4Plugin(t), false,
		"Serious error when reading debug info", "unhandled DW_FORM")
}

var dwarf4 struct {
	once sync.Once
	path string
	err  error
}

// dwarf4Plugin builds the filter plugin once with GOEXPERIMENT=nodwarf5,
// for valgrind (see TestMemoryValgrind). Its file name is the plugin's
// (the host derives the registration symbol from it).
func dwarf4Plugin(t *testing.T) string {
	t.Helper()
	dwarf4.once.Do(func() {
		dir := filepath.Join(workDir, "dwarf4")
		if dwarf4.err = os.MkdirAll(dir, 0o755); dwarf4.err != nil {
			return
		}
		p := filepath.Join(dir, filepath.Base(pluginSO))
		cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", p, "./plugin/opsworks")
		cmd.Dir = filepath.Join("..", "..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOEXPERIMENT=nodwarf5")
		if out, err := cmd.CombinedOutput(); err != nil {
			dwarf4.err = fmt.Errorf("building the plugin with DWARF 4: %v\n%s", err, out)
			return
		}
		dwarf4.path = p
	})
	if dwarf4.err != nil {
		t.Fatal(dwarf4.err)
	}
	return dwarf4.path
}
