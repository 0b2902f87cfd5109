package filter

import (
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/config"
)

// warning_interval takes the same time syntax as every other time key of
// the input and the CLI (it used to reject a bare number and days).
func TestWarningIntervalSyntax(t *testing.T) {
	for in, want := range map[string]time.Duration{"10": 10 * time.Second, "10s": 10 * time.Second, "1d": 24 * time.Hour, "0": 0, "1m30s": 90 * time.Second} {
		c, err := LoadConfig(config.MapGetter{"warning_interval": in})
		if err != nil || c.WarningInterval != want {
			t.Errorf("warning_interval %q: %v, %v; want %v", in, c, err, want)
		}
	}
}

// Keys match in any case, as Fluent Bit matches them.
func TestConfigKeysAnyCase(t *testing.T) {
	c, err := LoadConfig(config.MapGetter{"Keep_Other_Events": "on", "TAG_PREFIX": "ct."})
	if err != nil || !c.KeepOtherEvents || c.TagPrefix != "ct." {
		t.Fatalf("%+v, %v", c, err)
	}
}
