package config

import (
	"strings"
	"testing"
	"time"
)

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

// One duration syntax for every key: bare seconds, Go durations, days.
func TestParseDuration(t *testing.T) {
	good := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0}, {"10", 10 * time.Second}, {"0.5", 500 * time.Millisecond}, {" 30 ", 30 * time.Second},
		{"500ms", 500 * time.Millisecond}, {"30s", 30 * time.Second}, {"5m", 5 * time.Minute}, {"1h30m", 90 * time.Minute},
		{"1d", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"1d12h", 36 * time.Hour}, {"0.5d", 12 * time.Hour}, {"0s", 0}, {"-1", -time.Second}, {"-5s", -5 * time.Second},
	}
	for _, tc := range good {
		if got, err := ParseDuration(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "abc", "1e3", "-1d", "+1d", "NaN", "Inf", "d", "1dd", "1d-2h", "5 m", "1w", "xd"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, accepted", in, d)
		}
	}
}

func TestMapGetterIsCaseInsensitive(t *testing.T) {
	g := MapGetter{"Workers": "2", "region": "eu-west-1"}
	if g.Get("workers") != "2" || g.Get("REGION") != "eu-west-1" || g.Get("profile") != "" {
		t.Errorf("got workers=%q REGION=%q profile=%q", g.Get("workers"), g.Get("REGION"), g.Get("profile"))
	}
}

// Reader: defaults for unset and empty keys alike, errors that start with
// the key, the first error kept.
func TestReader(t *testing.T) {
	opts := []Option{{Key: "n", Default: "3"}, {Key: "d", Default: "10s"}, {Key: "b", Default: "off"}, {Key: "s", Default: "1M"}, {Key: "l", Default: "a,b"}}
	r := NewReader(MapGetter{"n": " ", "d": "1d", "l": ""}, opts)
	if r.Int("n") != 3 || r.Duration("d") != 24*time.Hour || r.Bool("b") || r.Size("s") != 1_000_000 || len(r.List("l")) != 2 || r.Err() != nil {
		t.Fatalf("defaults/values wrong, err %v", r.Err())
	}
	if r.Set("n") || !r.Set("d") {
		t.Error("Set: a blank value is unset")
	}
	r = NewReader(MapGetter{"n": "x", "d": "10 s", "b": "maybe"}, opts)
	r.Int("n")
	r.Duration("d")
	r.Bool("b")
	if err := r.Err(); err == nil || !strings.HasPrefix(err.Error(), `n: "x" is not a whole number`) {
		t.Errorf("first error: %v", err)
	}
	r = NewReader(MapGetter{"d": "10 s"}, opts)
	r.Duration("d")
	if err := r.Err(); err == nil || !strings.HasPrefix(err.Error(), `d: "10 s" is not a duration (e.g.`) {
		t.Errorf("duration error: %v", err)
	}
}

func TestCheckKeys(t *testing.T) {
	opts := []Option{{Key: "region"}, {Key: "workers"}, {Key: "event_sources"}}
	for _, tc := range []struct {
		keys []string
		want string
	}{
		{[]string{"region", "Workers", "EVENT_SOURCES"}, ""},
		{[]string{"regoin"}, "regoin: unknown key (did you mean region?)"},
		{[]string{"workers", "event_source"}, "event_source: unknown key (did you mean event_sources?)"},
		{[]string{"bucket_name"}, "bucket_name: unknown key"},
	} {
		err := CheckKeys(tc.keys, opts)
		if (err == nil) != (tc.want == "") || err != nil && err.Error() != tc.want {
			t.Errorf("CheckKeys(%v) = %v, want %q", tc.keys, err, tc.want)
		}
	}
}
