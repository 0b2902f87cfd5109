package config

import "testing"

// Sizes are parsed as Fluent Bit parses them, so what passes here passes there.
func TestParseSizeLikeFluentBit(t *testing.T) {
	cases := map[string]int{"512": 512, "64K": 64000, "64KB": 64000, "10m": 10_000_000, "1.5M": 1_500_000, "1G": 1_000_000_000, "false": 0}
	for in, want := range cases {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "10 M", "10MiB", "abc", "-1K", "1T"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}
