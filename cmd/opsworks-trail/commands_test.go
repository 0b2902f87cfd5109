package main

import (
	"bytes"
	"strings"
	"testing"
)

func runRaw(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpAndVersion(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stdout []string // all must appear on stdout
		stderr string   // must appear on stderr ("" = anything)
	}{
		{[]string{"--help"}, exitOK, []string{"subcommands:", "print ", "verify ", "enqueue ", "help ", "version "}, ""},
		{[]string{"-h"}, exitOK, []string{"subcommands:"}, ""},
		{[]string{"help"}, exitOK, []string{"subcommands:"}, ""},
		{[]string{"help", "verify"}, exitOK, []string{"usage: opsworks-trail verify", "-public-keys"}, ""},
		{[]string{"help", "enqueue"}, exitOK, []string{"usage: opsworks-trail enqueue", "-queue-url"}, ""},
		{[]string{"help", "print"}, exitOK, []string{"usage: opsworks-trail [print]", "-since"}, ""},
		{[]string{"help", "nosuch"}, exitFailure, nil, `no subcommand "nosuch"`},
		{[]string{"--version"}, exitOK, []string{"opsworks-trail ", "plugins checked with Fluent Bit " + checkedFluentBit}, ""},
		{[]string{"version"}, exitOK, []string{"go1."}, ""},
		{[]string{"verify", "-h"}, exitOK, nil, "usage: opsworks-trail verify"},
		{[]string{"-meta", "-h"}, exitOK, nil, "usage: opsworks-trail [print]"},
		{[]string{"verify", "-nosuchflag"}, exitFailure, nil, "flag provided but not defined"},
		{[]string{"-nosuchflag"}, exitFailure, nil, "flag provided but not defined"},
	}
	for _, tc := range cases {
		code, out, errs := runRaw(tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.code, out, errs)
			continue
		}
		for _, want := range tc.stdout {
			if !strings.Contains(out, want) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, want, out)
			}
		}
		if tc.stderr != "" && !strings.Contains(errs, tc.stderr) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.stderr, errs)
		}
	}
}

// The stamped version wins over the build info (a -buildvcs=false build).
func TestStampedVersion(t *testing.T) {
	defer func(v string) { version = v }(version)
	version = "v9.8.7"
	if got := versionText(); !strings.HasPrefix(got, "opsworks-trail v9.8.7") {
		t.Fatalf("versionText() = %q", got)
	}
}
