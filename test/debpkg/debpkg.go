// Package debpkg installs the Debian packages the tests need (with
// apt-get, as the test-dependency step does) and checks their versions:
// Debian replaces builds within a release, so each is pinned to a minimum
// version, not an exact one.
package debpkg

import (
	"fmt"
	"os/exec"
	"strings"
)

// Package is a Debian package and the oldest version the tests accept.
type Package struct {
	Name, MinVersion string
}

// Cross are the packages of the arm64 checks: cgo cross-compilation
// (the plugins, the C harness) and running the harness under qemu-user.
var Cross = []Package{
	{Name: "gcc-aarch64-linux-gnu", MinVersion: "4:12.2.0"},
	{Name: "qemu-user", MinVersion: "1:7.2"},
}

// Browser is the headless browser the report test renders the HTML
// report in (Debian replaces chromium builds within a release: a minimum).
var Browser = Package{Name: "chromium", MinVersion: "120"}

// Installed returns the installed version of p, or an error saying why it
// is not usable.
func (p Package) Installed() (string, error) {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status}\t${Version}", p.Name).Output()
	status, version, _ := strings.Cut(string(out), "\t")
	if err != nil || !strings.HasSuffix(status, " installed") {
		return "", fmt.Errorf("%s is not installed (apt-get install %s)", p.Name, p.Name)
	}
	if exec.Command("dpkg", "--compare-versions", version, "ge", p.MinVersion).Run() != nil {
		return "", fmt.Errorf("%s %s is older than %s", p.Name, version, p.MinVersion)
	}
	return version, nil
}

// Ensure installs p with apt-get unless a version it accepts is there.
func (p Package) Ensure(logf func(string, ...any)) (string, error) {
	if v, err := p.Installed(); err == nil {
		return v, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("%s: no apt-get on this machine", p.Name)
	}
	logf("apt-get install %s", p.Name)
	install := func() ([]byte, error) {
		return exec.Command("apt-get", "install", "-y", "-qq", "--no-install-recommends", p.Name).CombinedOutput()
	}
	if out, err := install(); err != nil {
		if out2, err2 := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err2 != nil {
			return "", fmt.Errorf("apt-get update: %v\n%s\n(after apt-get install: %s)", err2, out2, out)
		}
		if out, err := install(); err != nil {
			return "", fmt.Errorf("apt-get install %s: %v\n%s", p.Name, err, out)
		}
	}
	return p.Installed()
}
