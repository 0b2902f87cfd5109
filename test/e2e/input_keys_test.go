package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Fluent Bit checks the cloudtrail_s3 input's keys from 5.1.1 on, the first
// release whose Go proxy takes a config map (plugin/cloudtrail_s3/proxydef.c);
// older releases start with a misspelled key and the input says so.

// fluentBitVersion is what `bin --version` reports, as major*1000000 +
// minor*1000 + patch.
func fluentBitVersion(t *testing.T, bin string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", bin, err)
	}
	var maj, min, pat int
	line, _, _ := strings.Cut(string(out), "\n")
	if _, err := fmt.Sscanf(line, "Fluent Bit v%d.%d.%d", &maj, &min, &pat); err != nil {
		t.Fatalf("%s --version: unexpected %q", bin, out)
	}
	return maj*1000000 + min*1000 + pat, fmt.Sprintf("%d.%d.%d", maj, min, pat)
}

// keysConf is cloudtrail_s3 reading the sample trail, with extra "key value"
// lines, into the null output.
func keysConf(p *pipeline, in, extra string) string {
	p.write("plugins.conf", fmt.Sprintf("[PLUGINS]\n    Path %s\n", in))
	return fmt.Sprintf(`[SERVICE]
    Flush        0.2
    Grace        1
    Log_Level    debug
    plugins_file %s

[INPUT]
    Name  cloudtrail_s3
    Tag   cloudtrail
    path  %s
    %s

[OUTPUT]
    Name   null
    Match  *
`, p.path("plugins.conf"), filepath.Join(repoRoot(), "examples", "sample-trail"), extra)
}

func TestRealFluentBitInputUnknownKey(t *testing.T) {
	bin := fluentBit(t)
	in := inputPluginSO(t)
	version, vs := fluentBitVersion(t, bin)
	checks := version >= 5001001

	t.Run("misspelled", func(t *testing.T) {
		p := newPipeline(t)
		if !checks {
			log := p.run(bin, keysConf(p, in, "regoin us-east-1"), func() bool {
				return strings.Contains(readLog(p), "backfill finished")
			})
			want := "keys not checked by Fluent Bit: Fluent Bit " + vs + " takes no config map from Go inputs (5.1.1 added it)"
			if !strings.Contains(log, want) {
				t.Fatalf("Fluent Bit %s: the input does not say %q:\n%s", vs, want, log)
			}
			return
		}
		out, err, stopped := runToExit(bin, p.write("fluent-bit.conf", keysConf(p, in, "regoin us-east-1")), 20*time.Second)
		if !stopped {
			t.Fatalf("Fluent Bit %s did not stop on an unknown key:\n%s", vs, out)
		}
		want := "[config] cloudtrail_s3: unknown configuration property 'regoin'. The following properties are allowed: bucket, prefix, path,"
		if err == nil || !strings.Contains(string(out), want) || strings.Contains(string(out), "reading dir:") {
			t.Fatalf("Fluent Bit %s: exit %v, want start-up to fail before the input's init with %q:\n%s", vs, err, want, out)
		}
	})

	t.Run("known", func(t *testing.T) {
		p := newPipeline(t)
		log := p.run(bin, keysConf(p, in, "Workers 2"), func() bool {
			return strings.Contains(readLog(p), "backfill finished")
		})
		want := "keys not checked by Fluent Bit"
		if checks {
			want = "Fluent Bit " + vs + " checks the keys against the input's config map"
		}
		if !strings.Contains(log, want) {
			t.Fatalf("Fluent Bit %s: the log does not say %q:\n%s", vs, want, log)
		}
	})
}
