package filter

import (
	"fmt"
	"strings"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/record"
)

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
	ECSFields          bool
	Redact             bool
	RedactKeys         []string
	ErrorTag           string
	ServerMemorySize   int
	MaxDepth           int
	MaxEventSize       int
	WarningInterval    time.Duration
}

// DefaultRedactKeys are name fragments that mark a value as secret. Names are
// compared lower-cased with '_' and '-' removed, so "CHEF_PIVOTAL_KEY",
// "pivotalKey" and "pivotal-key" all match "pivotalkey".
const DefaultRedactKeys = "password,passwd,secret,token,private_key,pivotal_key,starter_kit,api_ca_cert,ssh_key"

// Options is the complete list of keys the filter accepts, in README order.
var Options = []config.Option{
	{Key: "event_sources", Default: "opsworks.amazonaws.com,opsworks-cm.amazonaws.com", Description: "Comma-separated eventSource values to keep."},
	{Key: "keep_other_events", Default: "off", Description: "Keep CloudTrail events from other sources (split and flattened, not classified, under the incoming tag) instead of dropping them."},
	{Key: "source_key", Default: "", Description: "Key whose string value holds CloudTrail JSON text (e.g. `log` from `tail` without a parser). Unset: records are read as structured maps."},
	{Key: "separator", Default: "_", Description: "Separator between path segments of flattened `userIdentity` keys."},
	{Key: "tag_prefix", Default: "opsworks.", Description: "Prefix of the tag each kept event is re-emitted with: `<tag_prefix><variant>`."},
	{Key: "retag", Default: "on", Description: "Re-emit kept events with `<tag_prefix><variant>` through an emitter input. `off` keeps the incoming tag and only adds the variant field."},
	{Key: "emitter_name", Default: "emitter_for_<filter name>", Description: "Name of the emitter input instance that re-emits tagged events (as in `rewrite_tag`)."},
	{Key: "emitter_storage.type", Default: "memory", Description: "Buffering of the emitter input: `memory`, `filesystem` or `memrb`."},
	{Key: "emitter_mem_buf_limit", Default: "10M", Description: "Memory limit of the emitter input, and of the re-tagged records waiting for it while it is paused; beyond it they stay under the incoming tag."},
	{Key: "use_event_time", Default: "on", Description: "Set each event's record time from its `eventTime`."},
	{Key: "ecs_fields", Default: "off", Description: "Add the Elastic Common Schema fields that must be derived: `event.outcome` (from `errorCode`), `user.name` (from the identity) and `source.ip` (`sourceIPAddress` when it is an address). The index templates alias the one-to-one ECS names."},
	{Key: "redact", Default: "on", Description: "Replace non-redacted string values under sensitive names with `*** Redacted ***`."},
	{Key: "redact_keys", Default: DefaultRedactKeys, Description: "Comma-separated name fragments that mark a value as sensitive."},
	{Key: "error_tag", Default: "", Description: "Tag for records the filter could not process. Unset: they stay in the stream under their own tag, with an `opsworks_error` field."},
	{Key: "server_memory_size", Default: "10000", Description: "How many `serverName → engine` pairs to remember for classifying later OpsWorks CM events (0 disables)."},
	{Key: "max_depth", Default: "64", Description: "Maximum nesting depth of a record or JSON document."},
	{Key: "max_event_size", Default: "4M", Description: "Largest accepted event, in bytes (Fluent Bit size syntax: 512K, 4M; 1000-based). JSON text may be up to 64 times larger (a whole log file)."},
	{Key: "warning_interval", Default: "10s", Description: "At most one warning per kind of problem is logged per interval; the rest are counted."},
}

// The fields the filter adds to events.
const (
	FieldVariant = "opsworks_variant"
	FieldError   = record.FieldError
	FieldWarning = "opsworks_warning"
	Redacted     = "*** Redacted ***"
)

// LoadConfig reads every key through g, applies defaults and validates.
func LoadConfig(g config.Getter) (*Config, error) {
	r := config.NewReader(g, Options)
	c := &Config{
		SourceKey:          r.String("source_key"),
		Separator:          g.Get("separator"),
		TagPrefix:          g.Get("tag_prefix"),
		EmitterStorageType: strings.ToLower(r.String("emitter_storage.type")),
		EmitterMemBufLimit: r.String("emitter_mem_buf_limit"),
		ErrorTag:           r.String("error_tag"),
		EventSources:       r.List("event_sources"),
		RedactKeys:         r.List("redact_keys"),
		KeepOtherEvents:    r.Bool("keep_other_events"),
		Retag:              r.Bool("retag"),
		UseEventTime:       r.Bool("use_event_time"),
		ECSFields:          r.Bool("ecs_fields"),
		Redact:             r.Bool("redact"),
		ServerMemorySize:   r.Int("server_memory_size"),
		MaxDepth:           r.Int("max_depth"),
		MaxEventSize:       r.Size("max_event_size"),
		WarningInterval:    r.Duration("warning_interval"),
	}
	r.Size("emitter_mem_buf_limit") // checked here, used by Fluent Bit
	if r.Set("emitter_name") {      // the default names the filter instance: the plugin fills it in
		c.EmitterName = r.String("emitter_name")
	}
	// separator and tag_prefix may legitimately be set to values with spaces
	// trimmed away; only an unset key takes the default.
	if c.Separator == "" {
		c.Separator = "_"
	}
	if c.TagPrefix == "" {
		c.TagPrefix = "opsworks."
	}
	if err := r.Err(); err != nil {
		return nil, err
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

// IntegrityTagSuffix follows tag_prefix in the tag of the cloudtrail_s3
// input's integrity records (opsworks.integrity by default). No variant
// has this name.
const IntegrityTagSuffix = "integrity"

// TagOf is the tag the plugin gives an output body: error_tag (or the
// incoming tag) for error records, tag_prefix+variant for classified events,
// the incoming tag for the rest. It lets retag-off runs (the CLI) report tags.
func (c *Config) TagOf(body *record.Value, incoming string) string {
	if body.Get(record.FieldIntegrityStatus) != nil && body.Get("eventSource") == nil {
		return c.TagPrefix + IntegrityTagSuffix
	}
	if body.Get(FieldError) != nil {
		if c.ErrorTag != "" {
			return c.ErrorTag
		}
		return incoming
	}
	if v := body.Get(FieldVariant); v != nil && v.Kind == record.KindString {
		return c.TagPrefix + string(v.Str)
	}
	return incoming
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
