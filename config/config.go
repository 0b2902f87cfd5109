// Package config holds the configuration helpers shared by the opsworks
// filter, the cloudtrail_s3 input and the CLI: how keys are read (Getter),
// how a key is described (Option) and how values are parsed, the way Fluent
// Bit parses them.
package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Getter is how configuration reaches the core: Fluent Bit's
// flb_filter_get_property in the plugin, flags in the CLI, a map in tests.
// It returns "" for keys that were not set.
type Getter interface {
	Get(key string) string
}

// MapGetter is a Getter over a map (tests, CLI).
type MapGetter map[string]string

func (m MapGetter) Get(key string) string { return m[key] }

// Option describes one configuration key.
type Option struct {
	Key         string
	Default     string
	Description string
}

// SplitList splits a comma-separated option value, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ParseBool accepts Fluent Bit's boolean spellings; errors name key.
func ParseBool(key, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s: %q is not a boolean (use on/off, true/false)", key, v)
}

// ParseSize reads a byte size exactly as Fluent Bit's flb_utils_size_to_bytes
// does, so a value accepted here is accepted by Fluent Bit too: a number
// (fractions allowed) with an optional K, M or G suffix, optionally followed
// by B, case-insensitive, 1000-based (10M = 10,000,000 bytes).
func ParseSize(s string) (int, error) {
	bad := fmt.Errorf("%q is not a size (e.g. 512K, 10M, 1.5G)", s)
	t := strings.ToUpper(strings.TrimSpace(s))
	if t == "FALSE" {
		return 0, nil
	}
	t = strings.TrimSuffix(t, "B")
	mult := 1.0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult, t = 1e3, t[:n-1]
		case 'M':
			mult, t = 1e6, t[:n-1]
		case 'G':
			mult, t = 1e9, t[:n-1]
		}
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || f < 0 || f*mult > math.MaxInt32*1e3 {
		return 0, bad
	}
	return int(f * mult), nil
}
