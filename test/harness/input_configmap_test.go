package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/input"
)

// Fluent Bit checks a Go input's keys only through the config map that 5.1.1
// added to struct flb_plugin_proxy_def (plugin/cloudtrail_s3/proxydef.c).
// in-host emulates each version's struct: its size, and what `--version`
// prints (see in-host.c). The struct ends where an inaccessible page begins,
// so a write past it kills the host.

// configMapKeys returns the keys of the "config_map" line, and whether the
// plugin set a map at all.
func configMapKeys(t *testing.T, log string) ([]string, bool) {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		rest, ok := strings.CutPrefix(line, "config_map ")
		if !ok {
			continue
		}
		if rest == "none" {
			return nil, false
		}
		size, keys, _ := strings.Cut(rest, " ")
		if size != "104" {
			t.Fatalf("config map entries of %s bytes on a 5.0.3+ host (want 104):\n%s", size, log)
		}
		return strings.Split(keys, ","), true
	}
	t.Fatalf("no config_map line:\n%s", log)
	return nil, false
}

func TestInputConfigMapLayouts(t *testing.T) {
	inputArtifacts(t)
	var want []string
	for _, o := range input.Options {
		want = append(want, o.Key)
	}
	dir := t.TempDir()
	cases := []struct {
		name    string
		args    []string
		defSize string
		set     bool
		note    string // of the "keys not checked" line when !set
	}{
		{"5.1.1", []string{"--flb-version", "5.1.1"}, "48", true, ""},
		{"5.2.0", []string{"--flb-version", "5.2.0"}, "48", true, ""},
		{"5.1.0", []string{"--flb-version", "5.1.0"}, "40", false, "Fluent Bit 5.1.0 takes no config map"},
		{"4.2.3", []string{"--flb-version", "4.2.3"}, "40", false, "Fluent Bit 4.2.3 takes no config map"},
		{"4.0.14", []string{"--flb-version", "4.0.14"}, "32", false, "Fluent Bit 4.0.14 takes no config map"},
		// The version decides even where the memory would allow the write.
		{"5.1.0-with-room", []string{"--flb-version", "5.1.0", "--def-size", "48"}, "48", false, "Fluent Bit 5.1.0 takes no config map"},
		// A build between the 5.1.1 version bump and the change.
		{"5.1.1-old-struct", []string{"--flb-version", "5.1.1", "--def-size", "40"}, "40", false, "its registration struct has 40 bytes, no room"},
		{"not-fluent-bit", []string{"--flb-version", "none", "--def-size", "48"}, "48", false, "cannot tell the running Fluent Bit's version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runInput(t, nil, map[string]string{"path": dir}, append(c.args, "--ticks", "3")...)
			if r.exit != 0 || !strings.Contains(r.log, "\ninit 1\n") {
				t.Fatalf("exit %d (a write past the struct is SIGSEGV, exit -1), want a normal run:\n%s", r.exit, r.log)
			}
			if !strings.Contains(r.log, "\ndef "+c.defSize+"\n") {
				t.Fatalf("want a %s-byte struct:\n%s", c.defSize, r.log)
			}
			keys, set := configMapKeys(t, r.log)
			if set != c.set {
				t.Fatalf("config map set: %v, want %v:\n%s", set, c.set, r.log)
			}
			if set && !slices.Equal(keys, want) {
				t.Fatalf("config map keys\n%v\nwant input.Options' keys\n%v", keys, want)
			}
			unchecked := strings.Contains(r.log, "keys not checked by Fluent Bit")
			if set == unchecked || (!set && !strings.Contains(r.log, c.note)) {
				t.Fatalf("the init log does not say %q:\n%s", c.note, r.log)
			}
		})
	}
}

func TestInputUnknownKeyRejected(t *testing.T) {
	inputArtifacts(t)
	dir := t.TempDir()
	props := map[string]string{"path": dir, "regoin": "us-east-1"}

	r := runInput(t, nil, props, "--flb-version", "5.1.1", "--ticks", "3")
	if r.exit != 1 || strings.Contains(r.log, "\ninit ") ||
		!strings.Contains(r.log, "[config] cloudtrail_s3: unknown configuration property 'regoin'. The following properties are allowed: bucket, prefix, path,") ||
		!strings.Contains(r.log, ", and sqs_endpoint.") {
		t.Fatalf("5.1.1: exit %d, want the property check to stop start-up before init:\n%s", r.exit, r.log)
	}

	// Keys are case-insensitive, as Fluent Bit compares them.
	r = runInput(t, nil, map[string]string{"PATH": dir, "Workers": "2"}, "--flb-version", "5.1.1", "--ticks", "3")
	if r.exit != 0 || !strings.Contains(r.log, "\ninit 1\n") {
		t.Fatalf("5.1.1, keys in capitals: exit %d:\n%s", r.exit, r.log)
	}

	// Before 5.1.1 nothing checks the keys: the input starts and says so.
	r = runInput(t, nil, props, "--flb-version", "4.0.14", "--ticks", "3")
	if r.exit != 0 || !strings.Contains(r.log, "\ninit 1\n") ||
		!strings.Contains(r.log, "keys not checked by Fluent Bit: Fluent Bit 4.0.14 takes no config map from Go inputs (5.1.1 added it); a misspelled key is ignored") {
		t.Fatalf("4.0.14: exit %d:\n%s", r.exit, r.log)
	}
}

// A plugin that writes config_map without looking: the guard page after a
// 40-byte struct must catch it, or the tests above prove nothing.
const blindWriter = `
#include <stddef.h>
struct def { int type, proxy, flags; char *name, *description; int event_type; void *config_map; };
int FLBPluginRegister(struct def *d)
{
    d->proxy = 11; d->name = "blind"; d->description = "writes config_map blindly";
    d->config_map = NULL;
    return 0;
}
int FLBPluginInit(void *p) { (void) p; return 1; }
int FLBPluginInputCallback(void **data, size_t *size) { *data = NULL; *size = 0; return 1; }
`

func TestInputHarnessCatchesWritePastStruct(t *testing.T) {
	inputArtifacts(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "blind.c")
	so := filepath.Join(dir, "blind.so")
	if err := os.WriteFile(src, []byte(blindWriter), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("gcc", "-shared", "-fPIC", "-O1", "-o", so, src).CombinedOutput(); err != nil {
		t.Fatalf("building the blind plugin: %v\n%s", err, out)
	}
	for _, v := range []struct {
		version string
		dies    bool
	}{{"5.1.1", false}, {"5.1.0", true}, {"4.0.14", true}} {
		out := filepath.Join(dir, "out-"+v.version)
		cmd := exec.Command(inHost, so, "-o", out, "--ticks", "2", "--flb-version", v.version)
		log, err := cmd.CombinedOutput()
		died := err != nil && cmd.ProcessState != nil && !cmd.ProcessState.Exited()
		if died != v.dies {
			t.Fatalf("%s: died %v (%v), want %v:\n%s", v.version, died, err, v.dies, log)
		}
	}
}
