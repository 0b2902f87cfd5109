package main

import (
	"strings"
	"testing"
)

// -set and -input take the plugins' keys in any case and reject unknown
// ones, naming the closest key, instead of ignoring them.
func TestCLIKeys(t *testing.T) {
	dir := t.TempDir() // an empty archive: nothing to read, but the configuration is loaded
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"input key in upper case", []string{"-q", "-input", "Workers=2", "-input", "REGION=us-east-1", dir}, 0, ""},
		{"misspelled input key", []string{"-input", "regoin=us-east-1", dir}, 1, "regoin: unknown key (did you mean region?)"},
		{"unknown input key", []string{"-input", "bucket_name=x", dir}, 1, "bucket_name: unknown key"},
		{"misspelled filter key", []string{"-set", "keep_other_event=on", dir}, 1, "keep_other_event: unknown key (did you mean keep_other_events?)"},
		{"filter key in mixed case", []string{"-q", "-set", "Keep_Other_Events=on", dir}, 0, ""},
		{"days in a time key", []string{"-q", "-input", "poll_interval=1d", "-set", "warning_interval=10", dir}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.err)
			}
		})
	}
}
