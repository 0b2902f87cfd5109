package harness

import (
	"debug/elf"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// glibcFloor is the newest glibc the shipped plugins may need: Amazon Linux
// 2023, the base of aws-for-fluent-bit 3.x, has glibc 2.34 (the official
// Fluent Bit images are newer). A plugin that needs a newer symbol version
// fails to load there ("version `GLIBC_2.38' not found").
var glibcFloor = [2]int{2, 34}

// glibcVersion parses "GLIBC_2.34" (or "GLIBC_2.3.2").
func glibcVersion(v string) ([2]int, bool) {
	rest, ok := strings.CutPrefix(v, "GLIBC_")
	if !ok {
		return [2]int{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 2 {
		return [2]int{}, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	return [2]int{major, minor}, err1 == nil && err2 == nil
}

// newestGlibc returns the newest GLIBC_ version so's dynamic symbols need,
// and the symbols that need it.
func newestGlibc(t *testing.T, so string) ([2]int, []string) {
	t.Helper()
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.ImportedSymbols()
	if err != nil {
		t.Fatalf("%s: %v", so, err)
	}
	var newest [2]int
	var who []string
	for _, s := range syms {
		v, ok := glibcVersion(s.Version)
		if !ok {
			continue
		}
		switch {
		case v[0] > newest[0] || (v[0] == newest[0] && v[1] > newest[1]):
			newest, who = v, []string{s.Name}
		case v == newest:
			who = append(who, s.Name)
		}
	}
	sort.Strings(who)
	return newest, who
}

// The plugins built here need no glibc symbol newer than the floor.
func TestPluginsGlibcFloor(t *testing.T) {
	inputArtifacts(t) // builds both plugins
	for _, so := range []string{pluginSO, inputSO} {
		v, who := newestGlibc(t, so)
		t.Logf("%s needs GLIBC_%d.%d (%s)", so, v[0], v[1], strings.Join(who, ", "))
		if v[0] == 0 {
			t.Fatalf("%s: no GLIBC_ symbol versions found: is it dynamically linked against glibc?", so)
		}
		if v[0] > glibcFloor[0] || (v[0] == glibcFloor[0] && v[1] > glibcFloor[1]) {
			t.Errorf("%s needs GLIBC_%d.%d for %s: newer than the floor %d.%d (aws-for-fluent-bit 3.x, Amazon Linux 2023); build on an older glibc",
				so, v[0], v[1], strings.Join(who, ", "), glibcFloor[0], glibcFloor[1])
		}
	}
}

func TestGlibcVersionParse(t *testing.T) {
	for in, want := range map[string]string{"GLIBC_2.34": "[2 34] true", "GLIBC_2.3.2": "[2 3] true", "GLIBCXX_3.4": "[0 0] false", "GLIBC_PRIVATE": "[0 0] false"} {
		v, ok := glibcVersion(in)
		if got := fmt.Sprint(v, " ", ok); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}
