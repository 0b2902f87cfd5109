package corpus

import (
	"bytes"
	"encoding/binary"
	"regexp"
	"testing"

	"github.com/opsworks-trail/opsworks-trail/config"
	"github.com/opsworks-trail/opsworks-trail/filter"
)

// chunk packs each event as a Fluent Bit record {"log": <event JSON>} (what
// tail without a parser produces), so the filter reads it with source_key.
func chunk(events [][]byte) []byte {
	var b []byte
	for _, ev := range events {
		b = append(b, 0x92, 0x92, 0xce, 0, 0, 0, 0, 0x80) // [[time, {}], …]
		b = append(b, 0x81, 0xa3, 'l', 'o', 'g', 0xdb)    // {"log": str32
		b = binary.BigEndian.AppendUint32(b, uint32(len(ev)))
		b = append(b, ev...)
	}
	return b
}

// TestFilterSeesEveryVariant runs the corpus through the real filter core:
// every event must parse, every OpsWorks event must be kept and tagged, all
// four variants must occur, and no plain secret may survive.
func TestFilterSeesEveryVariant(t *testing.T) {
	cfg, err := filter.LoadConfig(config.MapGetter{"source_key": "log"})
	if err != nil {
		t.Fatal(err)
	}
	p := filter.NewProcessor(cfg, func(msg string) { t.Errorf("filter warning: %s", msg) })
	events := Events(Options{Seed: 8, Events: 20000, OpsWorksShare: 0.5})
	want := 0
	for _, ev := range events {
		if bytes.Contains(ev, []byte(`"eventSource":"opsworks`)) {
			want++
		}
	}
	var res filter.Result
	if err := p.FilterChunk(chunk(events), &res); err != nil {
		t.Fatal(err)
	}
	tags := map[string]int{}
	for _, e := range res.Emits {
		tags[e.Tag] += e.Count
		for _, s := range plainSecrets {
			if s.re.Match(e.Records) {
				if s.redacted {
					t.Errorf("%s: a plain %s survived redaction", e.Tag, s.what)
				} else {
					t.Logf("%s: plain %s passes unredacted (not covered by the default redact_keys)", e.Tag, s.what)
				}
			}
		}
	}
	if res.KeepN != 0 || p.Stats.Errors.Load() != 0 {
		t.Fatalf("%d records kept in the stream, %d errors; stats %s", res.KeepN, p.Stats.Errors.Load(), &p.Stats)
	}
	if res.EmitCount() != want {
		t.Fatalf("filter emitted %d events, corpus has %d OpsWorks events (tags %v)", res.EmitCount(), want, tags)
	}
	for _, v := range []string{"stacks", "chef_automate", "puppet_enterprise", "cm_unknown"} {
		if tags["opsworks."+v] == 0 {
			t.Errorf("no event classified %s: %v", v, tags)
		}
	}
	t.Logf("variants: %v", tags)
	all := bytes.Join(events, nil)
	for _, s := range plainSecrets {
		if !s.re.Match(all) {
			t.Errorf("corpus has no plain %s", s.what)
		}
	}
}

// plainSecrets are the plain values the generator plants, recognizable by
// their fixed prefixes, and whether the filter's default rules must remove them.
var plainSecrets = []struct {
	what     string
	re       *regexp.Regexp
	redacted bool
}{
	{"CHEF_PIVOTAL_KEY attributeValue", regexp.MustCompile(`MIIEpAIBAAKCAQEA`), true},
	{"sslConfiguration.privateKey", regexp.MustCompile(`BEGIN PRIVATE KEY`), true},
	{"CM admin password", regexp.MustCompile(`(Ca|Pe)-[A-Za-z0-9]{14}`), true},
	{"sshKey", regexp.MustCompile(`MIIEowIBAAKCAQEA`), false},
}
