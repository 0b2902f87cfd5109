package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const parsers = `[PARSER]
    Name   json
    Format json
`

func readFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func compact(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// logFile builds one CloudTrail log file line: Stacks, EC2, Chef and Puppet events.
func logFileLine(t *testing.T) string {
	stacks := compact(t, readFile(t, "filter/testdata/identity/assumedrole.json"))
	chef := compact(t, readFile(t, "filter/testdata/variant/request_engine.json"))
	puppet := compact(t, readFile(t, "filter/testdata/variant/response_server_engine.json"))
	ec2 := `{"eventVersion":"1.08","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","eventTime":"2021-03-04T05:06:07Z","userIdentity":{"type":"Root"}}`
	return `{"Records":[` + stacks + `,` + ec2 + `,` + chef + `,` + puppet + `]}`
}

func header(p *pipeline, so string) string {
	p.write("plugins.conf", "[PLUGINS]\n    Path "+so+"\n")
	p.write("parsers.conf", parsers)
	return fmt.Sprintf(`[SERVICE]
    Flush        0.2
    Grace        2
    Log_Level    info
    plugins_file %s
    parsers_file %s
`, p.path("plugins.conf"), p.path("parsers.conf"))
}

// Structured records (tail + json parser), filter matching everything: the
// re-emitted records come back through the filter and must not loop.
func TestRealFluentBitStructured(t *testing.T) {
	bin := fluentBit(t)
	so := pluginSO(t)
	p := newPipeline(t)
	input := p.write("input.ndjson", logFileLine(t)+"\n"+`{"msg":"not cloudtrail"}`+"\n"+logFileLine(t)+"\n")
	conf := header(p, so) + fmt.Sprintf(`
[INPUT]
    Name            tail
    Path            %s
    Tag             ct
    Parser          json
    Read_from_Head  on
    Refresh_Interval 1

[FILTER]
    Name   opsworks
    Match  *

[OUTPUT]
    Name   file
    Match  opsworks.*
    Path   %s
    File   opsworks.out

[OUTPUT]
    Name   file
    Match  ct
    Path   %s
    File   passthrough.out
`, input, p.dir, p.dir)
	log := p.run(bin, conf, func() bool {
		return countLines(p.path("opsworks.out")) >= 6 && countLines(p.path("passthrough.out")) >= 1
	})
	events := readOutput(t, p.path("opsworks.out"))
	passed := readOutput(t, p.path("passthrough.out"))
	if len(events) != 6 || len(passed) != 1 {
		t.Fatalf("got %d events (want 6: 3 per log file) and %d passthrough (want 1)\n%s", len(events), len(passed), log)
	}
	byTag := map[string]int{}
	for _, e := range events {
		byTag[e.Tag]++
		if e.Tag != "opsworks."+fmt.Sprint(e.Body["opsworks_variant"]) {
			t.Errorf("tag %s does not match variant %v", e.Tag, e.Body["opsworks_variant"])
		}
		if _, nested := e.Body["userIdentity"]; nested || e.Body["userIdentity_type"] == nil {
			t.Errorf("userIdentity not flattened: %v", e.Body)
		}
	}
	want := map[string]int{"opsworks.stacks": 2, "opsworks.chef_automate": 2, "opsworks.puppet_enterprise": 2}
	if fmt.Sprint(byTag) != fmt.Sprint(want) {
		t.Fatalf("events per tag %v, want %v", byTag, want)
	}
	for _, e := range events {
		if e.Tag == "opsworks.stacks" {
			if e.Time != 1614834367 { // eventTime 2021-03-04T05:06:07Z
				t.Errorf("record time %v, want eventTime 1614834367", e.Time)
			}
			if e.Body["userIdentity_sessionContext_sessionIssuer_userName"] != "Admin" {
				t.Errorf("flattened key missing: %v", e.Body)
			}
		}
	}
	if passed[0].Body["msg"] != "not cloudtrail" {
		t.Fatalf("non-CloudTrail record changed: %v", passed[0].Body)
	}
	if strings.Contains(log, "emitter cycle detected") || strings.Contains(log, "internal error") {
		t.Fatalf("loop or panic reported:\n%s", log)
	}
}

// JSON text (tail without parser, source_key log), a malformed line routed
// to error_tag with a clear message, and retag off on a second filter.
func TestRealFluentBitTextAndErrors(t *testing.T) {
	bin := fluentBit(t)
	so := pluginSO(t)
	p := newPipeline(t)
	broken := `{"Records":[{"eventSource":"opsworks.amazonaws.com","eventName":"CreateLayer","eventVersion": "1.01"ed}]}`
	input := p.write("input.log", logFileLine(t)+"\n"+broken+"\n")
	conf := header(p, so) + fmt.Sprintf(`
[INPUT]
    Name            tail
    Path            %s
    Tag             ct
    Read_from_Head  on

[FILTER]
    Name        opsworks
    Match       ct
    source_key  log
    error_tag   opsworks_error
    tag_prefix  audit.

[OUTPUT]
    Name   file
    Match  audit.*
    Path   %s
    File   events.out

[OUTPUT]
    Name   file
    Match  opsworks_error
    Path   %s
    File   errors.out
`, input, p.dir, p.dir)
	log := p.run(bin, conf, func() bool {
		return countLines(p.path("events.out")) >= 3 && countLines(p.path("errors.out")) >= 1
	})
	events := readOutput(t, p.path("events.out"))
	errs := readOutput(t, p.path("errors.out"))
	if len(events) != 3 || len(errs) != 1 {
		t.Fatalf("got %d events, %d errors\n%s", len(events), len(errs), log)
	}
	msg, _ := errs[0].Body["opsworks_error"].(string)
	if !strings.Contains(msg, "$.Records[0].eventVersion") || errs[0].Body["log"] != broken {
		t.Fatalf("error record: %v", errs[0].Body)
	}
	if !strings.Contains(log, "$.Records[0].eventVersion") {
		t.Fatalf("no warning logged for the malformed line:\n%s", log)
	}
	for _, e := range events {
		if !strings.HasPrefix(e.Tag, "audit.") {
			t.Fatalf("tag_prefix not applied: %s", e.Tag)
		}
	}
}

func TestRealFluentBitRetagOff(t *testing.T) {
	bin := fluentBit(t)
	so := pluginSO(t)
	p := newPipeline(t)
	input := p.write("input.ndjson", logFileLine(t)+"\n")
	conf := header(p, so) + fmt.Sprintf(`
[INPUT]
    Name            tail
    Path            %s
    Tag             ct
    Parser          json
    Read_from_Head  on

[FILTER]
    Name   opsworks
    Match  ct
    retag  off

[OUTPUT]
    Name   file
    Match  *
    Path   %s
    File   all.out
`, input, p.dir)
	log := p.run(bin, conf, func() bool { return countLines(p.path("all.out")) >= 3 })
	out := readOutput(t, p.path("all.out"))
	if len(out) != 3 {
		t.Fatalf("got %d records\n%s", len(out), log)
	}
	for _, r := range out {
		if r.Tag != "ct" || r.Body["opsworks_variant"] == nil {
			t.Fatalf("retag off: want tag ct with the variant field, got %s %v", r.Tag, r.Body)
		}
	}
	if strings.Contains(log, "emitter_for_") {
		t.Fatal("retag off must not create an emitter")
	}
}

// Wrong keys and values stop start-up with a message naming the key.
func TestRealFluentBitRejectsBadConfig(t *testing.T) {
	bin := fluentBit(t)
	so := pluginSO(t)
	cases := map[string]string{
		"bogus_key  1":           "unknown configuration property 'bogus_key'",
		"max_depth  lots":        "max_depth",
		"emitter_storage.type x": "emitter_storage.type",
	}
	for line, want := range cases {
		p := newPipeline(t)
		conf := header(p, so) + `
[INPUT]
    Name  dummy
    Tag   ct

[FILTER]
    Name   opsworks
    Match  ct
    ` + line + `

[OUTPUT]
    Name   null
    Match  *
`
		out, err, stopped := runToExit(bin, p.write("fluent-bit.conf", conf), 20*time.Second)
		if !stopped {
			t.Fatalf("%q: fluent-bit did not stop on a bad configuration", line)
		}
		if err == nil || !strings.Contains(string(out), want) {
			t.Fatalf("%q: exit %v, want failure mentioning %q:\n%s", line, err, want, out)
		}
	}
}
