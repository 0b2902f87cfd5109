package harness

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/debpkg"
)

// crossTools skips (or, under make test, fails) when the arm64 tools that
// the test-dependency step installs are missing.
func crossTools(t *testing.T) {
	t.Helper()
	for _, p := range debpkg.Cross {
		if _, err := p.Installed(); err != nil {
			if os.Getenv("OPSWORKS_REQUIRE_CROSS") != "" {
				t.Fatalf("%v: `make test-deps` (go run ./test/testdeps) installs it", err)
			}
			t.Skipf("%v: run `make test-deps` (go run ./test/testdeps)", err)
		}
	}
}

// buildPlugins runs deploy/build-plugins.sh for arch into a new directory:
// the Dockerfile's build, glibc floor check included.
func buildPlugins(t *testing.T, arch string) string {
	t.Helper()
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	out := filepath.Join(t.TempDir(), arch)
	cmd := exec.Command("sh", "deploy/build-plugins.sh", out, arch)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build-plugins.sh %s: %v\n%s", arch, err, b)
	}
	return out
}

// exported are the symbols a shared object defines for its host.
func exported(t *testing.T, so string, machine elf.Machine) []string {
	t.Helper()
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != elf.ET_DYN {
		t.Fatalf("%s: %s %s, want a %s shared object", so, f.Machine, f.Type, machine)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF && elf.ST_BIND(s.Info) == elf.STB_GLOBAL {
			out = append(out, s.Name)
		}
	}
	slices.Sort(out)
	return out
}

// The plugins for linux/arm64 (Graviton): cross-compiled with cgo by the
// Dockerfile's script, which checks the glibc floor; aarch64 shared objects
// exporting what the amd64 ones export (the filter's registration
// structure, the input proxy's entry points); and the filter, loaded by
// flb-host cross-compiled for arm64 and run under qemu-user, gives exactly
// the amd64 output.
func TestArm64Plugins(t *testing.T) {
	artifacts(t)
	crossTools(t)
	arm, amd := buildPlugins(t, "arm64"), buildPlugins(t, "amd64")
	for so, want := range map[string][]string{
		"flb-filter_opsworks.so": {"filter_opsworks_plugin"},
		"in_cloudtrail_s3.so":    {"FLBPluginRegister", "FLBPluginInit", "FLBPluginInputCallback", "FLBPluginExit"},
	} {
		a, b := exported(t, filepath.Join(arm, so), elf.EM_AARCH64), exported(t, filepath.Join(amd, so), elf.EM_X86_64)
		if !slices.Equal(a, b) {
			t.Errorf("%s: arm64 exports %v, amd64 %v", so, a, b)
		}
		for _, sym := range want {
			if !slices.Contains(a, sym) {
				t.Errorf("%s for arm64 does not export %s", so, sym)
			}
		}
	}

	host := filepath.Join(t.TempDir(), "flb-host-arm64")
	if out, err := exec.Command("aarch64-linux-gnu-gcc", "-O1", "-g", "-rdynamic", "-Wall", "-o", host, "flb-host.c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("building flb-host for arm64: %v\n%s", err, out)
	}
	chunk, _ := chunkOf(t, formatV2, plainLine, logFile, evEC2, evPuppetLater)
	opts := []string{"-p", "redact=on"}
	start := time.Now()
	onArm := execHost(t, []string{"qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", host}, nil, filepath.Join(arm, "flb-filter_opsworks.so"), opts, chunk)
	t.Logf("the filter under qemu-aarch64: %s", time.Since(start).Round(time.Millisecond))
	if !onArm.finished() {
		onArm.fatalf("flb-host for arm64 did not finish under qemu-user\nstderr:\n%s", onArm.stderr)
	}
	onArm.expectOK()
	onAmd := runPlugin(t, hostCurrent, filepath.Join(amd, "flb-filter_opsworks.so"), opts, chunk)
	a, b := onArm.chunk(0), onAmd.chunk(0)
	if !bytes.Equal(a.raw, b.raw) || len(a.emits) != len(b.emits) || len(a.emits) == 0 {
		t.Fatalf("arm64 kept %x and emitted under %v; amd64 kept %x and emitted under %v", a.raw, keys(a.emits), b.raw, keys(b.emits))
	}
	for tag, evs := range b.emits {
		got := a.emits[tag]
		if len(got) != len(evs) {
			t.Fatalf("tag %s: arm64 emitted %d events, amd64 %d", tag, len(got), len(evs))
		}
		for i := range evs {
			if !bytes.Equal(got[i].Raw, evs[i].Raw) {
				t.Errorf("tag %s, event %d: arm64 emitted\n%x\namd64\n%x", tag, i, got[i].Raw, evs[i].Raw)
			}
		}
	}
}

// The input for arm64 too: in-host cross-compiled for arm64, under
// qemu-user, reads a local archive and delivers every OpsWorks event once.
func TestArm64Input(t *testing.T) {
	inputArtifacts(t)
	crossTools(t)
	arm := buildPlugins(t, "arm64")
	host := filepath.Join(t.TempDir(), "in-host-arm64")
	if out, err := exec.Command("aarch64-linux-gnu-gcc", "-O1", "-g", "-rdynamic", "-Wall", "-o", host, "in-host.c", "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("building in-host for arm64: %v\n%s", err, out)
	}
	dir, files := writeLocalArchive(t, testArchive())
	r := runInputOn(t, []string{"qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", host}, filepath.Join(arm, "in_cloudtrail_s3.so"), nil,
		map[string]string{"path": dir, "progress_interval": "0"})
	if r.exit != 0 {
		t.Fatalf("in-host under qemu-aarch64 exited %d\n%s", r.exit, r.log)
	}
	assertExactlyOnce(t, opsworksEventIDs(t, files), deliveredIDs(t, r.records, "file_path"))
}
