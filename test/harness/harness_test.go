// Package harness runs the opsworks Fluent Bit filter (the c-shared
// flb-filter_opsworks.so) inside flb-host, a C program that loads and drives
// it the way Fluent Bit 5.1.1 does (see the header of flb-host.c). CI has no
// Fluent Bit; these tests are what exercise the plugin boundary there.
//
// The tests build the plugin once per run (go build -buildmode=c-shared) and
// two hosts with gcc: one emulating Fluent Bit >= 5.0.3 (104-byte config map
// elements, flb_config_map_get_raw exported) and one emulating older releases
// (-DHOST_PRE_5_0_3, 96 bytes). They skip only when gcc is missing.
package harness

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/filter"
)

// ---- building ----

const (
	hostCurrent = "5.0.3+"    // default build
	hostPre503  = "pre-5.0.3" // -DHOST_PRE_5_0_3
)

var hostVariants = []string{hostCurrent, hostPre503}

var (
	buildOnce sync.Once
	buildErr  error
	workDir   string
	pluginSO  string
	hostBins  = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if workDir != "" {
		os.RemoveAll(workDir)
	}
	os.Exit(code)
}

// artifacts builds the plugin and the hosts once; it skips the test when gcc
// is not installed.
func artifacts(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not found: the harness needs a C compiler for flb-host and the cgo plugin")
	}
	buildOnce.Do(build)
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

func build() {
	var err error
	if workDir, err = os.MkdirTemp("", "opsworks-harness-"); err != nil {
		buildErr = err
		return
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		buildErr = err
		return
	}
	// Fluent Bit derives the registration symbol from the file name, so the
	// name matters: flb-filter_opsworks.so -> filter_opsworks_plugin.
	pluginSO = filepath.Join(workDir, "flb-filter_opsworks.so")
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", pluginSO, "./plugin/opsworks")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("building the plugin: %v\n%s", err, out)
		return
	}
	for _, v := range hostVariants {
		bin := filepath.Join(workDir, "flb-host-"+strings.ReplaceAll(v, ".", "_"))
		args := []string{"-O1", "-g", "-rdynamic", "-Wall", "-Wextra", "-o", bin, "flb-host.c", "-ldl"}
		if v == hostPre503 {
			args = append([]string{"-DHOST_PRE_5_0_3"}, args...)
		}
		if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building flb-host (%s): %v\n%s", v, err, out)
			return
		}
		hostBins[v] = bin
	}
}

// ---- running ----

// report is what one flb-host run printed.
type report struct {
	t      *testing.T
	args   []string
	lines  []map[string]any
	status int
	stderr string
	chunks []string // chunk file paths, by index
}

// runHost runs the host of the given variant with opts over the chunks.
func runHost(t *testing.T, variant string, opts []string, chunks ...[]byte) *report {
	t.Helper()
	artifacts(t)
	return runPlugin(t, variant, pluginSO, opts, chunks...)
}

func runPlugin(t *testing.T, variant, plugin string, opts []string, chunks ...[]byte) *report {
	t.Helper()
	artifacts(t)
	r := execHost(t, []string{hostBins[variant]}, nil, plugin, opts, chunks...)
	if !r.finished() {
		r.fatalf("flb-host did not finish its report\nstderr:\n%s", r.stderr)
	}
	return r
}

// execHost runs command (the host binary, possibly behind a wrapper such as
// valgrind) with env added, over the plugin, options and chunks. It fails the
// test only if the host cannot be run or dies of a signal.
func execHost(t *testing.T, command, env []string, plugin string, opts []string, chunks ...[]byte) *report {
	t.Helper()
	dir := t.TempDir()
	r := &report{t: t}
	args := append([]string{plugin}, opts...)
	for i, c := range chunks {
		p := filepath.Join(dir, fmt.Sprintf("chunk%d.mp", i))
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		r.chunks = append(r.chunks, p)
		args = append(args, p)
	}
	r.args = append(append([]string{}, command[1:]...), args...)
	cmd := exec.Command(command[0], r.args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.stderr = stderr.String()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.Exited():
		r.status = exitErr.ExitCode()
	default:
		t.Fatalf("%s %v: %v (crashed?)\nstdout:\n%s\nstderr:\n%s", command[0], r.args, err, stdout.String(), r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("flb-host printed a line that is not JSON: %v\n%s", err, l)
		}
		r.lines = append(r.lines, m)
	}
	return r
}

// finished reports whether the host got to the end of its report.
func (r *report) finished() bool {
	return len(r.lines) > 0 && r.lines[len(r.lines)-1]["event"] == "done"
}

func (r *report) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "flb-host %s (exit %d)\n", strings.Join(r.args, " "), r.status)
	for _, l := range r.lines {
		j, _ := json.Marshal(l)
		if len(j) > 600 {
			j = append(j[:600], "…"...)
		}
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func (r *report) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("%s\n%s", fmt.Sprintf(format, args...), r.dump())
}

func (r *report) events(name string) []map[string]any {
	var out []map[string]any
	for _, l := range r.lines {
		if l["event"] == name {
			out = append(out, l)
		}
	}
	return out
}

func (r *report) one(name string) map[string]any {
	r.t.Helper()
	evs := r.events(name)
	if len(evs) != 1 {
		r.fatalf("want exactly one %q event, got %d", name, len(evs))
	}
	return evs[0]
}

// expectOK asserts a clean run: exit 0, no contract violations.
func (r *report) expectOK() {
	r.t.Helper()
	if r.status != 0 || len(r.events("violation")) > 0 {
		r.fatalf("want a clean run (exit 0, no violations)")
	}
	if init := r.one("init"); num(init["ret"]) != 0 || init["context_set"] != true {
		r.fatalf("cb_init did not succeed")
	}
	if ex := r.one("exit"); ex["called"] != true {
		r.fatalf("cb_exit was not called")
	}
}

// expectInitFailure asserts that Fluent Bit would refuse to start because
// cb_init failed, cleanly: exit 1, no violations, no input left behind.
func (r *report) expectInitFailure() {
	r.t.Helper()
	if r.status != 1 || len(r.events("violation")) > 0 {
		r.fatalf("want exit 1 without violations")
	}
	if init := r.one("init"); num(init["ret"]) != -1 || init["context_set"] != false {
		r.fatalf("want cb_init to return -1 without setting a context")
	}
	if !r.hasLog("host", 1, "Failed initialize filter opsworks.0") {
		r.fatalf("Fluent Bit's init failure message is missing")
	}
	if len(r.events("input_new")) != len(r.events("input_instance_destroy")) {
		r.fatalf("an emitter input was created and not destroyed")
	}
	if len(r.events("exit")) > 0 || len(r.events("filter")) > 0 {
		r.fatalf("filter or exit callbacks ran after a failed init")
	}
}

func (r *report) logs(origin string) []map[string]any {
	var out []map[string]any
	for _, l := range r.events("log") {
		if l["origin"] == origin {
			out = append(out, l)
		}
	}
	return out
}

func (r *report) hasLog(origin string, level int, substr string) bool {
	for _, l := range r.logs(origin) {
		if num(l["level"]) == level && strings.Contains(l["msg"].(string), substr) {
			return true
		}
	}
	return false
}

func num(v any) int {
	f, _ := v.(float64)
	return int(f)
}

func unhex(t *testing.T, v any) []byte {
	t.Helper()
	s, _ := v.(string)
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// filterResult is one cb_filter call on a chunk.
type filterResult struct {
	ret   int
	out   []event // decoded out_buf (MODIFIED only)
	raw   []byte
	emits map[string][]event // accepted by the emitter, by tag
	tried map[string][]event // every append to the emitter, by tag
}

func (r *report) chunk(i int) filterResult {
	r.t.Helper()
	path := r.chunks[i]
	var res filterResult
	found := false
	for _, f := range r.events("filter") {
		if f["chunk"] == path {
			if found {
				r.fatalf("chunk %d filtered twice", i)
			}
			found = true
			res.ret = num(f["ret"])
			if res.ret == 1 {
				res.raw = unhex(r.t, f["out_hex"])
				if num(f["out_size"]) != len(res.raw) {
					r.fatalf("out_size %v but %d bytes", f["out_size"], len(res.raw))
				}
				res.out = decodeEvents(r.t, res.raw)
			}
			if f["i_ins"] != "tail.0" || f["tag"] != "ct" {
				r.fatalf("filter call with unexpected i_ins/tag: %v", f)
			}
		}
	}
	if !found {
		r.fatalf("chunk %d was not filtered", i)
	}
	res.emits, res.tried = map[string][]event{}, map[string][]event{}
	for _, e := range r.events("emit") {
		if e["chunk"] != path {
			continue
		}
		if e["ins"] != "emitter.1" {
			r.fatalf("emit appended to input %v, want the emitter emitter.1", e["ins"])
		}
		tag := e["tag"].(string)
		evs := decodeEvents(r.t, unhex(r.t, e["hex"]))
		if num(e["size"]) == 0 || len(evs) == 0 {
			r.fatalf("empty emit")
		}
		res.tried[tag] = append(res.tried[tag], evs...)
		if num(e["ret"]) == 0 {
			res.emits[tag] = append(res.emits[tag], evs...)
		}
	}
	return res
}

// ---- test data ----

const (
	acct      = "123456789012"
	ctTime    = "2024-03-01T12:34:56Z"
	chefTime  = "2024-03-01T12:35:00Z"
	puppTime  = "2024-03-01T12:36:00Z"
	recSec    = 1000 // record time of the input events
	recNsec   = 5
	srcStacks = "opsworks.amazonaws.com"
	srcCM     = "opsworks-cm.amazonaws.com"
)

func userIdentity(user string) string {
	return `{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::` + acct + `:user/` + user +
		`","accountId":"` + acct + `","accessKeyId":"AKIAEXAMPLE","userName":"` + user +
		`","sessionContext":{"attributes":{"mfaAuthenticated":"false","creationDate":"2024-03-01T10:00:00Z"}}}`
}

func ctEvent(t, source, name, req, resp string) string {
	return `{"eventVersion":"1.05","userIdentity":` + userIdentity("alice") + `,"eventTime":"` + t +
		`","eventSource":"` + source + `","eventName":"` + name + `","awsRegion":"us-east-1",` +
		`"sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2.15.0","requestParameters":` + req +
		`,"responseElements":` + resp + `,"requestID":"req-` + name + `","eventID":"ev-` + name +
		`","eventType":"AwsApiCall","recipientAccountId":"` + acct + `"}`
}

var (
	evStacks = ctEvent(ctTime, srcStacks, "CreateStack",
		`{"name":"web","region":"us-east-1","serviceRoleArn":"arn:aws:iam::`+acct+`:role/aws-opsworks-service-role"}`,
		`{"stackId":"6f1c2f5e-0000-4000-8000-000000000001"}`)
	evChef = ctEvent(chefTime, srcCM, "CreateServer",
		`{"engine":"ChefAutomate","engineModel":"Single","serverName":"chef-1","instanceType":"m5.large",`+
			`"engineAttributes":[{"name":"CHEF_AUTOMATE_ADMIN_PASSWORD","value":"hunter22"}]}`,
		`{"server":{"serverName":"chef-1","engine":"ChefAutomate","status":"CREATING"}}`)
	evPuppet = ctEvent(puppTime, srcCM, "CreateServer",
		`{"engine":"Puppet","engineModel":"Monolithic","serverName":"pup-1","instanceType":"m5.xlarge"}`,
		`{"server":{"serverName":"pup-1","engine":"Puppet","status":"CREATING"}}`)
	// Classified only through the server memory (no engine in the event).
	evPuppetLater = ctEvent("2024-03-01T13:00:00Z", srcCM, "DeleteServer", `{"serverName":"pup-1"}`, `null`)
	evEC2         = ctEvent(ctTime, "ec2.amazonaws.com", "RunInstances", `{"instanceType":"t3.micro"}`, `null`)

	logFile   = `{"Records":[` + evStacks + `,` + evEC2 + `,` + evChef + `,` + evPuppet + `]}`
	plainLine = `{"message":"GET /health 200","status":200,"latency":0.25,"tags":["a",true,null],"nested":{"k":"v"}}`
)

// chunkOf encodes bodies as one chunk; it also returns each record's bytes.
func chunkOf(t *testing.T, format string, bodies ...string) ([]byte, [][]byte) {
	var all []byte
	var recs [][]byte
	for _, b := range bodies {
		r := encodeRecord(t, format, recSec, recNsec, b)
		recs = append(recs, r)
		all = append(all, r...)
	}
	return all, recs
}

// wantNsec is the nanoseconds of an input record's time as encoded: legacy
// records carry integer seconds.
func wantNsec(format string) int64 {
	if format == formatLegacy {
		return 0
	}
	return recNsec
}

func unix(s string) int64 {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return tm.Unix()
}

var flattenedIdentity = []string{
	"userIdentity_type", "userIdentity_principalId", "userIdentity_arn", "userIdentity_accountId",
	"userIdentity_accessKeyId", "userIdentity_userName",
	"userIdentity_sessionContext_attributes_mfaAuthenticated",
	"userIdentity_sessionContext_attributes_creationDate",
}

// checkEvent asserts one emitted/kept OpsWorks event.
func checkEvent(t *testing.T, format string, ev event, name, variant, eventTime string) {
	t.Helper()
	b := ev.Body
	if b.get("eventName") != name || b.get("opsworks_variant") != variant {
		t.Fatalf("want %s/%s, got eventName %v opsworks_variant %v (%v)", name, variant,
			b.get("eventName"), b.get("opsworks_variant"), b.Keys)
	}
	if b.get("userIdentity") != nil {
		t.Fatalf("userIdentity was not flattened: %v", b.Keys)
	}
	// flattened keys sit where userIdentity was, in document order
	if len(b.Keys) < 1+len(flattenedIdentity) || !reflect.DeepEqual(b.Keys[1:1+len(flattenedIdentity)], flattenedIdentity) {
		t.Fatalf("flattened userIdentity keys: got %v", b.Keys)
	}
	if b.get("userIdentity_arn") != "arn:aws:iam::"+acct+":user/alice" || b.get("userIdentity_sessionContext_attributes_mfaAuthenticated") != "false" {
		t.Fatalf("flattened values wrong: %v", b.Vals)
	}
	if b.Keys[len(b.Keys)-1] != "opsworks_variant" {
		t.Fatalf("opsworks_variant is not the last field: %v", b.Keys)
	}
	if ev.Sec != unix(eventTime) || ev.Nsec != 0 {
		t.Fatalf("record time %d.%09d, want eventTime %s (%d)", ev.Sec, ev.Nsec, eventTime, unix(eventTime))
	}
	if ev.Meta == nil {
		t.Fatalf("output event lacks [time, metadata]")
	}
	wantMeta := []string{}
	if format == formatV2 || format == formatV2Wide {
		wantMeta = []string{"src"}
	}
	if !reflect.DeepEqual(append([]string{}, ev.Meta.Keys...), wantMeta) {
		t.Fatalf("metadata keys %v, want %v (carried from the input)", ev.Meta.Keys, wantMeta)
	}
}

// ---- tests ----

func TestLoadAndConfigMap(t *testing.T) {
	for _, v := range hostVariants {
		t.Run(v, func(t *testing.T) {
			r := runHost(t, v, nil)
			r.expectOK()
			load := r.one("load")
			if load["symbol"] != "filter_opsworks_plugin" || load["name"] != "opsworks" || num(load["event_type"]) != 1 {
				r.fatalf("unexpected registration structure")
			}
			if load["host_has_get_raw"] != (v == hostCurrent) {
				r.fatalf("host variant %s: flb_config_map_get_raw visibility is wrong", v)
			}
			cb := load["callbacks"].(map[string]any)
			if cb["init"] != true || cb["filter"] != true || cb["exit"] != true {
				r.fatalf("missing callbacks")
			}
			cm := r.one("config_map")
			wantSize := map[string]int{hostCurrent: 104, hostPre503: 96}[v]
			if num(cm["element_size"]) != wantSize {
				r.fatalf("element size %v, want %d", cm["element_size"], wantSize)
			}
			entries := cm["entries"].([]any)
			if len(entries) != len(filter.Options) {
				r.fatalf("config map has %d keys, filter.Options %d", len(entries), len(filter.Options))
			}
			for i, o := range filter.Options {
				e := entries[i].(map[string]any)
				var wantDef any = o.Default
				if o.Default == "" || strings.HasPrefix(o.Default, "emitter_for_") {
					wantDef = nil // computed at init
				}
				if e["name"] != o.Key || e["default"] != wantDef || e["desc"] != o.Description || num(e["type"]) != 0 {
					r.fatalf("config map entry %d = %v, want key %q default %v (FLB_CONFIG_MAP_STR)", i, e, o.Key, wantDef)
				}
			}
		})
	}
}

func TestInitDefaults(t *testing.T) {
	for _, v := range hostVariants {
		t.Run(v, func(t *testing.T) {
			r := runHost(t, v, nil)
			r.expectOK()
			if init := r.one("init"); init["filter"] != "opsworks.0" {
				r.fatalf("filter name")
			}
			em := r.one("emitter_created")
			props := em["props"].(map[string]any)
			want := map[string]any{"alias": "emitter_for_opsworks.0", "mem_buf_limit": "10M", "storage.type": "memory"}
			if !reflect.DeepEqual(props, want) || em["plugin"] != "emitter" {
				r.fatalf("emitter properties %v, want %v", props, want)
			}
			if sc := r.one("storage_input_create"); sc["cio_ok"] != true || num(sc["ret"]) != 0 {
				r.fatalf("storage not created on config->cio")
			}
			if len(r.logs("plugin")) != 1 || !r.hasLog("plugin", 3, "[filter:opsworks] [opsworks.0] records=0") {
				r.fatalf("want only the exit statistics in the log")
			}
		})
	}
}

func TestUnknownKeyRejected(t *testing.T) {
	for _, v := range hostVariants {
		t.Run(v, func(t *testing.T) {
			r := runHost(t, v, []string{"-p", "retag=on", "-p", "emiter_name=typo"})
			if r.status != 1 || len(r.events("init")) != 0 || len(r.events("violation")) != 0 {
				r.fatalf("want exit 1 before cb_init")
			}
			if num(r.one("property_check")["ret"]) != -1 {
				r.fatalf("property check passed")
			}
			want := "[config] opsworks: unknown configuration property 'emiter_name'. The following properties are allowed: " +
				"event_sources, keep_other_events, source_key"
			if !r.hasLog("host", 1, want) || !r.hasLog("host", 1, "max_event_size, and warning_interval.") {
				r.fatalf("Fluent Bit's message naming the key is missing")
			}
		})
	}
}

func TestDuplicateKeyRejected(t *testing.T) {
	r := runHost(t, hostCurrent, []string{"-p", "retag=on", "-p", "retag=off"})
	if r.status != 1 || !r.hasLog("host", 1, "[config] opsworks: configuration property 'retag' is set 2 times") {
		r.fatalf("a key set twice must be refused")
	}
	// Fluent Bit counts repeats case-sensitively (property_count uses
	// strncmp) but looks values up case-insensitively, first one wins.
	r = runHost(t, hostCurrent, []string{"-p", "retag=off", "-p", "Retag=on"})
	r.expectOK()
	if len(r.events("input_new")) != 0 {
		r.fatalf("the first retag (off) must win")
	}
}

func TestBadValue(t *testing.T) {
	for _, v := range hostVariants {
		t.Run(v, func(t *testing.T) {
			r := runHost(t, v, []string{"-p", "max_depth=lots"})
			r.expectInitFailure()
			if !r.hasLog("plugin", 1, `[opsworks.0] configuration error: max_depth: "lots" is not a whole number`) {
				r.fatalf("the error must name the key")
			}
			if len(r.events("input_new")) != 0 {
				r.fatalf("emitter created despite the configuration error")
			}
		})
	}
	// flb_filter_get_property is case-insensitive, so is the plugin's lookup.
	r := runHost(t, hostCurrent, []string{"-p", "MAX_DEPTH=lots"})
	r.expectInitFailure()
	if !r.hasLog("plugin", 1, `max_depth: "lots" is not a whole number`) {
		r.fatalf("MAX_DEPTH was not read as max_depth")
	}
	for _, kv := range []string{"retag=maybe", "emitter_storage.type=tape", "max_event_size=12", "event_sources=opsworks"} {
		r := runHost(t, hostCurrent, []string{"-p", kv})
		r.expectInitFailure()
		key := kv[:strings.IndexByte(kv, '=')]
		if !r.hasLog("plugin", 1, "configuration error: "+key+":") {
			r.fatalf("error for %s does not name the key", kv)
		}
	}
}

func TestSplitAndRetag(t *testing.T) {
	for _, v := range hostVariants {
		for _, format := range []string{formatV2, formatV2Wide, formatLegacy} {
			t.Run(v+"/"+format, func(t *testing.T) {
				chunk, recs := chunkOf(t, format, plainLine, logFile, evEC2, plainLine)
				later, _ := chunkOf(t, format, evPuppetLater)
				r := runHost(t, v, nil, chunk, later)
				r.expectOK()

				res := r.chunk(0)
				if res.ret != 1 {
					r.fatalf("want FLB_FILTER_MODIFIED")
				}
				// non-CloudTrail records stay, byte for byte, in order
				if !bytes.Equal(res.raw, append(append([]byte{}, recs[0]...), recs[3]...)) {
					r.fatalf("out_buf is not exactly the two pass-through records:\n got %x\nwant %x%x", res.raw, recs[0], recs[3])
				}
				if len(res.emits) != 3 {
					r.fatalf("want emits under 3 tags, got %v", keys(res.emits))
				}
				for _, want := range []struct{ tag, name, variant, time string }{
					{"opsworks.stacks", "CreateStack", filter.VariantStacks, ctTime},
					{"opsworks.chef_automate", "CreateServer", filter.VariantChefAutomate, chefTime},
					{"opsworks.puppet_enterprise", "CreateServer", filter.VariantPuppetEnterprise, puppTime},
				} {
					evs := res.emits[want.tag]
					if len(evs) != 1 {
						r.fatalf("tag %s: %d records, want 1", want.tag, len(evs))
					}
					checkEvent(t, format, evs[0], want.name, want.variant, want.time)
				}
				// secrets are redacted in the emitted event
				chef := res.emits["opsworks.chef_automate"][0].Body
				attrs := chef.get("requestParameters").(*omap).get("engineAttributes").([]any)
				if val := attrs[0].(*omap).get("value"); val != filter.Redacted {
					r.fatalf("engine attribute password not redacted: %v", val)
				}
				// the EC2 events went nowhere
				for tag, evs := range res.emits {
					for _, e := range evs {
						if e.Body.get("eventSource") == "ec2.amazonaws.com" {
							r.fatalf("non-OpsWorks event emitted under %s", tag)
						}
					}
				}

				// the instance remembers pup-1 across calls
				res = r.chunk(1)
				if res.ret != 1 || len(res.raw) != 0 || len(res.emits["opsworks.puppet_enterprise"]) != 1 {
					r.fatalf("DeleteServer of a known Puppet server: want one puppet_enterprise emit and an empty out_buf")
				}

				// re-injected emitter records are left alone
				reinj := r.events("reinject")
				if len(reinj) != 3+1+1+1 {
					r.fatalf("want 6 re-injections (4 emitted batches + 2 chunks), got %d", len(reinj))
				}
				for _, e := range reinj {
					if num(e["ret"]) != 2 || e["i_ins"] != "emitter.1" {
						r.fatalf("re-injected chunk not passed through with FLB_FILTER_NOTOUCH: %v", e)
					}
				}
			})
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestOnlyOtherRecords(t *testing.T) {
	// nothing CloudTrail: the chunk is untouched
	chunk, _ := chunkOf(t, formatV2, plainLine, `{"log":"plain text"}`)
	// only other-source events: every record is removed (MODIFIED, size 0)
	dropped, _ := chunkOf(t, formatV2, evEC2, `{"Records":[`+evEC2+`]}`)
	r := runHost(t, hostCurrent, nil, chunk, dropped)
	r.expectOK()
	if res := r.chunk(0); res.ret != 2 || len(res.tried) != 0 {
		r.fatalf("non-CloudTrail chunk: want FLB_FILTER_NOTOUCH and no emits")
	}
	if res := r.chunk(1); res.ret != 1 || len(res.raw) != 0 || len(res.tried) != 0 {
		r.fatalf("other-source events: want MODIFIED with an empty buffer (all removed)")
	}
}

func TestRetagOff(t *testing.T) {
	for _, v := range hostVariants {
		t.Run(v, func(t *testing.T) {
			chunk, recs := chunkOf(t, formatV2, plainLine, logFile)
			// retag off needs no emitter, hence no storage context either
			r := runHost(t, v, []string{"-p", "retag=off", "--no-cio"}, chunk)
			r.expectOK()
			if len(r.events("input_new")) != 0 || len(r.events("emitter_created")) != 0 {
				r.fatalf("retag off must not create an emitter")
			}
			res := r.chunk(0)
			if res.ret != 1 || len(res.tried) != 0 || len(r.events("reinject")) != 0 {
				r.fatalf("want MODIFIED, no emits")
			}
			if len(res.out) != 4 || !bytes.Equal(res.out[0].Raw, recs[0]) {
				r.fatalf("want the pass-through record then 3 OpsWorks events in out_buf, got %d", len(res.out))
			}
			checkEvent(t, formatV2, res.out[1], "CreateStack", filter.VariantStacks, ctTime)
			checkEvent(t, formatV2, res.out[2], "CreateServer", filter.VariantChefAutomate, chefTime)
			checkEvent(t, formatV2, res.out[3], "CreateServer", filter.VariantPuppetEnterprise, puppTime)
		})
	}
}

func TestKeepOtherEvents(t *testing.T) {
	chunk, _ := chunkOf(t, formatV2, logFile)
	r := runHost(t, hostCurrent, []string{"-p", "keep_other_events=on"}, chunk)
	r.expectOK()
	res := r.chunk(0)
	if len(res.emits) != 3 || len(res.out) != 1 {
		r.fatalf("want 3 OpsWorks emits and the EC2 event kept under the incoming tag")
	}
	ec2 := res.out[0].Body
	if ec2.get("eventSource") != "ec2.amazonaws.com" || ec2.get("opsworks_variant") != nil ||
		ec2.get("userIdentity_userName") != "alice" || ec2.get("userIdentity") != nil {
		r.fatalf("other-source event must be flattened, unclassified: %v", ec2.Keys)
	}
}

// An emitter that refuses every append (paused to the end): the filter's
// flusher tries each tick, the records wait (they are not kept under the
// incoming tag while they fit under emitter_mem_buf_limit), and the exit
// counts and reports them as lost.
func TestEmitterPausedToTheEnd(t *testing.T) {
	for _, opt := range [][]string{{"--fail-emitter"}, {"--emitter-ret", "-3"}} {
		t.Run(opt[0], func(t *testing.T) {
			chunk, recs := chunkOf(t, formatV2, plainLine, logFile)
			r := runHost(t, hostCurrent, opt, chunk)
			r.expectOK()
			res := r.chunk(0)
			// The flusher stops at the first refusal (order is kept) and
			// tries again next tick.
			if len(res.emits) != 0 || len(res.tried) != 1 {
				r.fatalf("want one refused append per tick, got tried=%v accepted=%v", keys(res.tried), keys(res.emits))
			}
			if res.ret != 1 || len(res.out) != 1 || !bytes.Equal(res.out[0].Raw, recs[0]) {
				r.fatalf("only the plain record stays in the stream: got %d records", len(res.out))
			}
			if !r.hasLog("plugin", 1, "3 re-tagged records were lost: the emitter stayed paused") ||
				!r.hasLog("plugin", 2, "emitter_refused=0 emitter_lost=3") {
				r.fatalf("missing the lost count at exit")
			}
			if len(r.events("reinject")) != 1 {
				r.fatalf("only the chunk itself should be re-injected")
			}
		})
	}
}

// Over emitter_mem_buf_limit while the emitter is paused: the records that
// do not fit stay in the stream under the incoming tag, already processed.
func TestEmitterRefusesOverLimit(t *testing.T) {
	chunk, recs := chunkOf(t, formatV2, plainLine, logFile)
	r := runHost(t, hostCurrent, []string{"--fail-emitter", "-p", "emitter_mem_buf_limit=1"}, chunk)
	r.expectOK()
	res := r.chunk(0)
	if res.ret != 1 || len(res.out) != 3 || !bytes.Equal(res.out[0].Raw, recs[0]) {
		r.fatalf("want the plain record and 2 refused events in the stream, got %d records", len(res.out))
	}
	for _, e := range res.out[1:] {
		tag := "opsworks." + e.Body.get("opsworks_variant").(string)
		if e.Body.get("opsworks_variant") == nil || res.tried[tag] != nil {
			r.fatalf("a refused record was also handed to the emitter, or is not processed: %s", tag)
		}
	}
	if !r.hasLog("plugin", 2, "emitter refused 1 records for tag") ||
		!r.hasLog("plugin", 1, "1 re-tagged records were lost") {
		r.fatalf("missing refusal warning or lost count")
	}
}

func TestEmitterProperties(t *testing.T) {
	dir := t.TempDir()
	r := runHost(t, hostCurrent, []string{"-p", "emitter_name=ct_emitter", "-p", "emitter_mem_buf_limit=64M",
		"-p", "emitter_storage.type=filesystem", "--storage-path", dir})
	r.expectOK()
	em := r.one("emitter_created")
	want := map[string]any{"alias": "ct_emitter", "mem_buf_limit": "64M", "storage.type": "filesystem"}
	if !reflect.DeepEqual(em["props"], want) || num(em["mem_buf_limit_bytes"]) != 64000000 || em["storage_type"] != "filesystem" {
		r.fatalf("emitter properties: got %v, want %v", em["props"], want)
	}

	// the default emitter name follows the filter's alias, as flb_filter_name does
	r = runHost(t, hostCurrent, []string{"-p", "alias=ct_split", "-p", "Emitter_Storage.Type=MEMORY"})
	r.expectOK()
	em = r.one("emitter_created")
	if em["alias"] != "emitter_for_ct_split" || em["storage_type"] != "memory" || r.one("init")["filter"] != "ct_split" {
		r.fatalf("alias not used for the emitter name")
	}
}

func TestEmitterCreationFailures(t *testing.T) {
	cases := []struct {
		name    string
		opts    []string
		plugin  string // plugin log (error)
		host    string // host log (error), "" if none
		destroy bool   // the half-made emitter must be destroyed
	}{
		{"filesystem without storage.path", []string{"-p", "emitter_storage.type=filesystem"},
			"cannot initialize storage for emitter 'emitter_for_opsworks.0'",
			"requested filesystem storage but no filesystem path was defined", true},
		{"name taken", []string{"-p", "emitter_name=tail.0"},
			"emitter_name: 'tail.0' already exists", "", false},
		{"no storage context", []string{"--no-cio"},
			"cannot locate Fluent Bit's storage context in this Fluent Bit build", "", false},
		{"storage context beyond the scanned 4 KiB", []string{"--cio-offset", "4096"},
			"cannot locate Fluent Bit's storage context", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runHost(t, hostCurrent, tc.opts)
			r.expectInitFailure()
			if !r.hasLog("plugin", 1, "[filter:opsworks] [opsworks.0] retag: "+tc.plugin) {
				r.fatalf("want plugin error %q", tc.plugin)
			}
			if tc.host != "" && !r.hasLog("host", 1, tc.host) {
				r.fatalf("want host error %q", tc.host)
			}
			if got := len(r.events("input_instance_destroy")) == 1; got != tc.destroy {
				r.fatalf("emitter destroyed: %v, want %v", got, tc.destroy)
			}
		})
	}
}

// The plugin finds config->cio at the known 5.1.1 offset, or by scanning the
// first 4 KiB of struct flb_config past the host's decoys.
func TestCioScan(t *testing.T) {
	chunk, _ := chunkOf(t, formatV2, logFile)
	for _, off := range []string{"1192", "0", "8", "56", "1000", "1184", "2048", "4088"} {
		for _, v := range hostVariants {
			t.Run(v+"/offset="+off, func(t *testing.T) {
				r := runHost(t, v, []string{"--cio-offset", off}, chunk)
				r.expectOK()
				if sc := r.one("storage_input_create"); sc["cio_ok"] != true {
					r.fatalf("wrong cio pointer")
				}
				if len(r.chunk(0).emits) != 3 {
					r.fatalf("emitter does not work")
				}
			})
		}
	}
}

func TestSourceKeyJSON(t *testing.T) {
	bad := `{"Records":[{"eventVersion":"1.05" "eventSource":"opsworks.amazonaws.com"}]}`
	carrier := func(text string) string {
		q, _ := json.Marshal(text)
		return `{"log":` + string(q) + `,"path":"/var/log/cloudtrail.json"}`
	}
	for _, format := range []string{formatV2, formatV2Wide, formatLegacy} {
		t.Run(format, func(t *testing.T) {
			chunk, recs := chunkOf(t, format, carrier(bad), carrier(evStacks), `{"log":"not json at all"}`)
			r := runHost(t, hostCurrent, []string{"-p", "source_key=log"}, chunk)
			r.expectOK()
			res := r.chunk(0)
			if res.ret != 1 || len(res.out) != 2 {
				r.fatalf("want the bad record and the plain line in out_buf, got %d records", len(res.out))
			}
			errRec := res.out[0].Body
			msg, _ := errRec.get("opsworks_error").(string)
			if !strings.HasPrefix(msg, "log: ") || !strings.Contains(msg, "$.Records[0].eventVersion") {
				r.fatalf("opsworks_error %q must name the key and the JSON path", msg)
			}
			if errRec.get("log") != bad || errRec.get("path") != "/var/log/cloudtrail.json" ||
				!reflect.DeepEqual(errRec.Keys, []string{"log", "path", "opsworks_error"}) {
				r.fatalf("erroneous record modified beyond opsworks_error: %v", errRec.Vals)
			}
			if res.out[0].Sec != recSec || res.out[0].Nsec != wantNsec(format) {
				r.fatalf("erroneous record lost its time")
			}
			if !bytes.Equal(res.out[1].Raw, recs[2]) {
				r.fatalf("non-JSON line not passed through unchanged")
			}
			evs := res.emits["opsworks.stacks"]
			if len(evs) != 1 {
				r.fatalf("valid JSON text not emitted")
			}
			checkEvent(t, format, evs[0], "CreateStack", filter.VariantStacks, ctTime)
			if evs[0].Body.get("path") != "/var/log/cloudtrail.json" || evs[0].Body.get("log") != nil {
				r.fatalf("carrier fields: want path kept and log removed: %v", evs[0].Body.Keys)
			}
			if !r.hasLog("plugin", 2, "$.Records[0].eventVersion") {
				r.fatalf("the error is not logged as a warning")
			}
		})
	}
}

func TestErrorTag(t *testing.T) {
	chunk, _ := chunkOf(t, formatV2, `{"Records":"nope"}`)
	r := runHost(t, hostCurrent, []string{"-p", "error_tag=ct.errors"}, chunk)
	r.expectOK()
	res := r.chunk(0)
	evs := res.emits["ct.errors"]
	if res.ret != 1 || len(res.raw) != 0 || len(evs) != 1 ||
		!strings.Contains(evs[0].Body.get("opsworks_error").(string), "Records is a string, not an array") {
		r.fatalf("want the bad record emitted under error_tag with opsworks_error")
	}
}

func TestSeparatorAndPrefix(t *testing.T) {
	chunk, _ := chunkOf(t, formatLegacy, evStacks)
	r := runHost(t, hostPre503, []string{"-p", "separator=.", "-p", "tag_prefix=aws.ops.", "-p", "use_event_time=off"}, chunk)
	r.expectOK()
	evs := r.chunk(0).emits["aws.ops.stacks"]
	if len(evs) != 1 {
		r.fatalf("tag_prefix not applied")
	}
	b := evs[0].Body
	if b.get("userIdentity.sessionContext.attributes.mfaAuthenticated") != "false" || b.get("userIdentity_type") != nil {
		r.fatalf("separator not applied: %v", b.Keys)
	}
	if evs[0].Sec != recSec || evs[0].Nsec != wantNsec(formatLegacy) {
		r.fatalf("use_event_time off must keep the record time")
	}
}

// ---- the harness checks itself ----

// fakePlugin is a minimal native filter with a config map of a fixed element
// size and a misbehaving cb_filter, to show the host notices.
const fakePlugin = `
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
struct mk_list { struct mk_list *prev, *next; };
struct entry { int type; char *name; char *def; int flags; int set_property; uintptr_t offset;
               char *desc; char value[ELEMENT_SIZE - 48]; };
_Static_assert(sizeof(struct entry) == ELEMENT_SIZE, "size");
static struct entry map[] = {
    {0, "alpha", "1", 0, 0, 0, "a", {0}}, {0, "beta", NULL, 0, 0, 0, "b", {0}},
    {0, "gamma", NULL, 0, 0, 0, "c", {0}}, {0, NULL, NULL, 0, 0, 0, NULL, {0}},
};
extern void flb_filter_set_context(void *ins, void *ctx);
static int ctx;
static int cb_init(void *ins, void *config, void *data) {
    (void) config; (void) data; flb_filter_set_context(ins, &ctx); return 0;
}
static int cb_filter(const void *data, size_t bytes, const char *tag, int tag_len, void **out,
                     size_t *out_size, void *f_ins, void *i_ins, void *context, void *config) {
    (void) tag; (void) tag_len; (void) f_ins; (void) i_ins; (void) context; (void) config;
#ifdef BAD_FREE
    static char buf[4096]; /* MODIFIED with memory free() must not release */
    *out_size = bytes < sizeof(buf) ? bytes : sizeof(buf); memcpy(buf, data, *out_size); *out = buf;
    return 1;
#else
    *out = malloc(bytes); memcpy(*out, data, bytes); *out_size = bytes;
    return 2; /* NOTOUCH with a buffer: Fluent Bit leaks it */
#endif
}
static int cb_exit(void *context, void *config) { (void) context; (void) config; return 0; }
struct { int event_type, flags; char *name, *description; void *config_map;
         void *cb_pre_run, *cb_init, *cb_filter, *cb_exit, *cb_notification;
         struct mk_list _head; } filter_fake_plugin = {
    1, 0, "fake", "harness self-test", map, NULL, (void *) cb_init, (void *) cb_filter,
    (void *) cb_exit, NULL, {0, 0}};
`

// buildFake compiles fakePlugin as <tmp>/<name>/flb-filter_fake.so.
func buildFake(t *testing.T, name string, defines ...string) string {
	t.Helper()
	artifacts(t)
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "fake.c")
	if err := os.WriteFile(src, []byte(fakePlugin), 0o644); err != nil {
		t.Fatal(err)
	}
	so := filepath.Join(dir, "flb-filter_fake.so")
	args := append([]string{"-shared", "-fPIC", "-O1", "-o", so, src}, defines...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("building the fake plugin: %v\n%s", err, out)
	}
	return so
}

func TestHarnessSelfCheck(t *testing.T) {
	plugins := map[int]string{}
	for _, size := range []int{96, 104} {
		plugins[size] = buildFake(t, fmt.Sprintf("%d", size), fmt.Sprintf("-DELEMENT_SIZE=%d", size))
	}
	chunk, _ := chunkOf(t, formatV2, plainLine)
	for _, v := range hostVariants {
		for size, so := range plugins {
			t.Run(fmt.Sprintf("%s/elements=%d", v, size), func(t *testing.T) {
				r := runPlugin(t, v, so, nil, chunk)
				names := r.one("config_map")["keys"].([]any)
				match := (size == 104) == (v == hostCurrent)
				if got := len(names) == 3; got != match {
					r.fatalf("host read keys %v from %d-byte elements; a size mismatch must show", names, size)
				}
				if r.status != 3 || !strings.Contains(r.events("violation")[0]["msg"].(string), "Fluent Bit would leak it") {
					r.fatalf("a buffer returned with NOTOUCH must be reported")
				}
			})
		}
	}
}
