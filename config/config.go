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
	"time"
)

// Getter is how configuration reaches the core: Fluent Bit's
// flb_filter_get_property in the filter plugin, the Go proxy's
// FLBPluginConfigKey in the input plugin, flags in the CLI, a map in tests.
// It returns "" for keys that were not set.
//
// An empty value and an unset key mean the same thing everywhere: the
// key's default. Fluent Bit's Go input proxy returns "" for both, so no
// getter may give them different meanings (one did: an empty
// event_sources turned the push-down off in the CLI and in tests, and
// could not in Fluent Bit).
type Getter interface {
	Get(key string) string
}

// MapGetter is a Getter over a map (tests, CLI). Keys match
// case-insensitively, as Fluent Bit matches property names.
type MapGetter map[string]string

func (m MapGetter) Get(key string) string {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

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

// ParseBool accepts Fluent Bit's boolean spellings (on/off, true/false,
// yes/no, 1/0, any case); errors name key.
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

// ParseDuration reads a time option, the same way for every key of the
// filter, the input and the CLI:
//
//   - a bare number is seconds ("30", "0.5"), as in Fluent Bit's own time
//     options;
//   - Go durations keep working: "500ms", "30s", "5m", "1h30m";
//   - a leading number of days, as Fluent Bit's time options accept it:
//     "1d", "7d", or with a Go duration after it: "1d12h".
//
// Fluent Bit itself reads "20ms" as 20 seconds (it only knows s, m, h, d);
// this stays exact. A negative value parses (-5s): each key's own check
// then says what range it takes.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "eEnNiI") {
		if math.Abs(f) > float64(math.MaxInt64)/float64(time.Second) {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	var days time.Duration
	if i := strings.IndexByte(t, 'd'); i > 0 {
		n, err := strconv.ParseFloat(t[:i], 64)
		if err != nil || n < 0 || n > 100000 || strings.ContainsAny(t[:i], "eEnNiI+-") {
			return 0, fmt.Errorf("%q is not a duration", s)
		}
		days, t = time.Duration(n*24*float64(time.Hour)), t[i+1:]
		if t == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || (days > 0 && d < 0) {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return days + d, nil
}

// durationHint follows a duration error in every key.
const durationHint = "e.g. 30s, 5m, 1h30m, 1d; a bare number is seconds"

// Reader reads the keys of an option list through a Getter: a key's value,
// trimmed, else its Option.Default; one parser per kind of value, the same
// for every key. The first error is kept, starting with its key.
type Reader struct {
	g    Getter
	opts []Option
	err  error
}

// NewReader reads g's values of opts' keys.
func NewReader(g Getter, opts []Option) *Reader { return &Reader{g: g, opts: opts} }

// Err is the first error, or nil.
func (r *Reader) Err() error { return r.err }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Set reports whether key has a non-empty value.
func (r *Reader) Set(key string) bool { return strings.TrimSpace(r.g.Get(key)) != "" }

// String is the trimmed value of key, else its default.
func (r *Reader) String(key string) string {
	if v := strings.TrimSpace(r.g.Get(key)); v != "" {
		return v
	}
	for _, o := range r.opts {
		if o.Key == key {
			return o.Default
		}
	}
	return ""
}

// List is String split at commas, blanks dropped.
func (r *Reader) List(key string) []string { return SplitList(r.String(key)) }

// Bool parses key with ParseBool.
func (r *Reader) Bool(key string) bool {
	b, err := ParseBool(key, r.String(key))
	if err != nil {
		r.fail(err)
	}
	return b
}

// Int parses key as a whole number.
func (r *Reader) Int(key string) int {
	v := r.String(key)
	n, err := strconv.Atoi(v)
	if err != nil {
		r.fail(fmt.Errorf("%s: %q is not a whole number", key, v))
	}
	return n
}

// Size parses key with ParseSize.
func (r *Reader) Size(key string) int {
	n, err := ParseSize(r.String(key))
	if err != nil {
		r.fail(fmt.Errorf("%s: %v", key, err))
	}
	return n
}

// Duration parses key with ParseDuration.
func (r *Reader) Duration(key string) time.Duration {
	v := r.String(key)
	d, err := ParseDuration(v)
	if err != nil {
		r.fail(fmt.Errorf("%s: %q is not a duration (%s)", key, v, durationHint))
	}
	return d
}

// CheckKeys rejects keys that are not options, naming the closest option
// when there is one: the CLI's -set and -input flags go through it, so
// that a misspelled key fails instead of being ignored. Keys compare
// case-insensitively.
func CheckKeys(keys []string, opts []Option) error {
	for _, k := range keys {
		known := false
		for _, o := range opts {
			if strings.EqualFold(o.Key, k) {
				known = true
				break
			}
		}
		if known {
			continue
		}
		best, dist := "", 3
		for _, o := range opts {
			if d := editDistance(strings.ToLower(k), o.Key); d < dist {
				best, dist = o.Key, d
			}
		}
		if best != "" {
			return fmt.Errorf("%s: unknown key (did you mean %s?)", k, best)
		}
		return fmt.Errorf("%s: unknown key", k)
	}
	return nil
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
