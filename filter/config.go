package filter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
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

// Config is the typed filter configuration. Keys are documented in the README
// ("Configuration"); Option lists them with defaults for the plugin's config map.
type Config struct {
	EventSources       []string
	KeepOtherEvents    bool
	SourceKey          string
	Separator          string
	TagPrefix          string
	Retag              bool
	EmitterName        string
	EmitterStorageType string
	EmitterMemBufLimit string
	UseEventTime       bool
	Redact             bool
	RedactKeys         []string
	ErrorTag           string
	ServerMemorySize   int
	MaxDepth           int
	MaxEventSize       int
	WarningInterval    time.Duration
}

// Option describes one configuration key.
type Option struct {
	Key         string
	Default     string
	Description string
}

// DefaultRedactKeys are name fragments that mark a value as secret. Names are
// compared lower-cased with '_' and '-' removed, so "CHEF_PIVOTAL_KEY",
// "pivotalKey" and "pivotal-key" all match "pivotalkey".
const DefaultRedactKeys = "password,passwd,secret,token,private_key,pivotal_key,starter_kit,api_ca_cert,ssh_key"

// Options is the complete list of keys the filter accepts, in README order.
var Options = []Option{
	{"event_sources", "opsworks.amazonaws.com,opsworks-cm.amazonaws.com", "Comma-separated eventSource values to keep."},
	{"keep_other_events", "off", "Keep CloudTrail events from other sources (split and flattened, not classified, under the incoming tag) instead of dropping them."},
	{"source_key", "", "Key whose string value holds CloudTrail JSON text (e.g. `log` from `tail` without a parser). Unset: records are read as structured maps."},
	{"separator", "_", "Separator between path segments of flattened `userIdentity` keys."},
	{"tag_prefix", "opsworks.", "Prefix of the tag each kept event is re-emitted with: `<tag_prefix><variant>`."},
	{"retag", "on", "Re-emit kept events with `<tag_prefix><variant>` through an emitter input. `off` keeps the incoming tag and only adds the variant field."},
	{"emitter_name", "emitter_for_<filter name>", "Name of the emitter input instance that re-emits tagged events (as in `rewrite_tag`)."},
	{"emitter_storage.type", "memory", "Buffering of the emitter input: `memory`, `filesystem` or `memrb`."},
	{"emitter_mem_buf_limit", "10M", "Memory limit of the emitter input; the filter's input is paused when it is reached."},
	{"use_event_time", "on", "Set each event's record time from its `eventTime`."},
	{"redact", "on", "Replace non-redacted string values under sensitive names with `*** Redacted ***`."},
	{"redact_keys", DefaultRedactKeys, "Comma-separated name fragments that mark a value as sensitive."},
	{"error_tag", "", "Tag for records the filter could not process. Unset: they stay in the stream under their own tag, with an `opsworks_error` field."},
	{"server_memory_size", "10000", "How many `serverName → engine` pairs to remember for classifying later OpsWorks CM events (0 disables)."},
	{"max_depth", "64", "Maximum nesting depth of a record or JSON document."},
	{"max_event_size", "4M", "Largest accepted event, in bytes (Fluent Bit size syntax: 512K, 4M; 1000-based). JSON text may be up to 64 times larger (a whole log file)."},
	{"warning_interval", "10s", "At most one warning per kind of problem is logged per interval; the rest are counted."},
}

// The fields the filter adds to events.
const (
	FieldVariant = "opsworks_variant"
	FieldError   = "opsworks_error"
	FieldWarning = "opsworks_warning"
	Redacted     = "*** Redacted ***"
)

// LoadConfig reads every key through g, applies defaults and validates.
func LoadConfig(g Getter) (*Config, error) {
	get := func(key string) string {
		if v := strings.TrimSpace(g.Get(key)); v != "" {
			return v
		}
		for _, o := range Options {
			if o.Key == key && !strings.HasPrefix(o.Default, "emitter_for_") {
				return o.Default
			}
		}
		return ""
	}
	c := &Config{
		SourceKey:          get("source_key"),
		Separator:          g.Get("separator"),
		TagPrefix:          g.Get("tag_prefix"),
		EmitterName:        get("emitter_name"),
		EmitterStorageType: strings.ToLower(get("emitter_storage.type")),
		EmitterMemBufLimit: get("emitter_mem_buf_limit"),
		ErrorTag:           get("error_tag"),
		EventSources:       SplitList(get("event_sources")),
		RedactKeys:         SplitList(get("redact_keys")),
	}
	// separator and tag_prefix may legitimately be set to values with spaces
	// trimmed away; only an unset key takes the default.
	if c.Separator == "" {
		c.Separator = "_"
	}
	if c.TagPrefix == "" {
		c.TagPrefix = "opsworks."
	}
	var err error
	bools := []struct {
		key string
		dst *bool
	}{{"keep_other_events", &c.KeepOtherEvents}, {"retag", &c.Retag}, {"use_event_time", &c.UseEventTime}, {"redact", &c.Redact}}
	for _, b := range bools {
		if *b.dst, err = ParseBool(b.key, get(b.key)); err != nil {
			return nil, err
		}
	}
	ints := []struct {
		key string
		dst *int
	}{{"server_memory_size", &c.ServerMemorySize}, {"max_depth", &c.MaxDepth}}
	for _, n := range ints {
		v, err := strconv.Atoi(get(n.key))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a whole number", n.key, get(n.key))
		}
		*n.dst = v
	}
	if c.MaxEventSize, err = ParseSize(get("max_event_size")); err != nil {
		return nil, fmt.Errorf("max_event_size: %v", err)
	}
	if c.WarningInterval, err = time.ParseDuration(get("warning_interval")); err != nil {
		return nil, fmt.Errorf("warning_interval: %q is not a duration (e.g. 10s, 1m)", get("warning_interval"))
	}
	if _, err = ParseSize(c.EmitterMemBufLimit); err != nil {
		return nil, fmt.Errorf("emitter_mem_buf_limit: %v", err)
	}
	return c, c.Validate()
}

// Validate checks value ranges; each error names its key.
func (c *Config) Validate() error {
	switch {
	case len(c.EventSources) == 0:
		return fmt.Errorf("event_sources: at least one eventSource is required")
	case c.ServerMemorySize < 0:
		return fmt.Errorf("server_memory_size: must be 0 or more, got %d", c.ServerMemorySize)
	case c.MaxDepth < 4 || c.MaxDepth > 1000:
		return fmt.Errorf("max_depth: must be between 4 and 1000, got %d", c.MaxDepth)
	case c.MaxEventSize < 1000:
		return fmt.Errorf("max_event_size: must be at least 1K, got %d bytes", c.MaxEventSize)
	case c.WarningInterval < 0:
		return fmt.Errorf("warning_interval: must not be negative")
	case c.EmitterStorageType != "memory" && c.EmitterStorageType != "filesystem" && c.EmitterStorageType != "memrb":
		return fmt.Errorf("emitter_storage.type: must be 'memory', 'filesystem' or 'memrb', got %q", c.EmitterStorageType)
	case strings.ContainsAny(c.TagPrefix, " \t"):
		return fmt.Errorf("tag_prefix: must not contain spaces, got %q", c.TagPrefix)
	}
	for _, s := range c.EventSources {
		if !strings.HasSuffix(s, ".amazonaws.com") {
			return fmt.Errorf("event_sources: %q is not an eventSource (expected a name like opsworks.amazonaws.com)", s)
		}
	}
	return nil
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

// PushDownSources is what the input's reader may select on before decoding
// (cloudtrail.ReadOptions.EventSources) for this configuration: its
// event_sources, or nothing (keep every event) when keep_other_events is
// on, because then no event may be dropped early.
func (c *Config) PushDownSources() []string {
	if c.KeepOtherEvents {
		return nil
	}
	return c.EventSources
}
