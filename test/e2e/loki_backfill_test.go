package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/corpus"
)

// lokiBackfillConf is cloudtrail_s3 (a local archive, exit_on_eof) →
// opsworks → loki with the shipped pipeline's label set and line format.
func lokiBackfillConf(p *pipeline, in, filterSO, archive, lokiBase string) string {
	u, _ := url.Parse(lokiBase)
	writePlugins(p, in, filterSO)
	return fmt.Sprintf(`[SERVICE]
    Flush        1
    Grace        15
    Log_Level    info
    plugins_file %s

[INPUT]
    Name         cloudtrail_s3
    Tag          cloudtrail
    path         %s
    exit_on_eof  on

[FILTER]
    Name   opsworks
    Match  cloudtrail

[OUTPUT]
    Name        loki
    Match_Regex ^(opsworks\..*|cloudtrail)$
    Host        %s
    Port        %s
    Labels      job=opsworks-trail
    Label_Keys  $opsworks_variant,$eventSource,$awsRegion,$recipientAccountId
    Line_Format json
    Retry_Limit 10
`, p.path("plugins.conf"), archive, u.Hostname(), u.Port())
}

// A multi-year backfill into a real Loki configured as schema/loki.md says
// (reject_old_samples off; max_chunk_age and the out-of-order window left
// at their defaults) loses nothing: the polling/local input hands each
// account's and region's files over in delivery order, so inside a Loki
// stream the disorder is bounded by how CloudTrail files overlap. The same
// backfill into a Loki with its default one-week age limit loses events
// (HTTP 400, which Fluent Bit's loki output does not retry): the setting
// is what makes the difference, and the test would see a loss.
func TestRealLokiMultiYearBackfill(t *testing.T) {
	bin := fluentBit(t)
	filterSO := pluginSO(t)
	in := inputPluginSO(t)
	o := corpus.Options{Seed: 41, Events: 5000, OpsWorksShare: 0.25, EventsPerFile: 20,
		Start: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}
	archive, want := localArchive(t, o)
	from, to := o.Start.Add(-24*time.Hour), o.End.Add(24*time.Hour)

	count := func(base string) int {
		n := 0
		// One query per year keeps each within Loki's per-query limits.
		for y := from; y.Before(to); y = y.AddDate(1, 0, 0) {
			end := y.AddDate(1, 0, 0)
			if end.After(to) {
				end = to
			}
			entries, _ := lokiQuery(t, base, `{job="opsworks-trail"}`, y, end)
			n += len(entries)
		}
		return n
	}

	// The documented settings: a schema period that starts before the
	// oldest event (Loki answers 500 for entries before its first period),
	// no age limit. Queries over years are not split (Loki's default split
	// makes a year thousands of subqueries).
	base := realLokiWith(t, "2018-01-01", `  reject_old_samples: false
  max_query_length: 0
  max_line_size: 1MB
  split_queries_by_interval: 0
  discover_log_levels: false
  discover_service_name: []`)
	p := newPipeline(t)
	code, log, _, _ := exitRun(t, bin, p, lokiBackfillConf(p, in, filterSO, archive, base), "none.out", want)
	if code != 0 {
		t.Fatalf("exit code %d\n%s", code, log)
	}
	got := count(base)
	t.Logf("documented settings: expected %d, in Loki %d (%s to %s)", len(want), got, o.Start.Format("2006-01-02"), o.End.Format("2006-01-02"))
	if got != len(want) || strings.Contains(log, "status=400") {
		t.Fatalf("Loki holds %d of %d events after a multi-year backfill with the documented settings\n%s", got, len(want), log)
	}

	// Control: Loki's default age limit rejects most of the archive.
	strict := realLokiWith(t, "2018-01-01", `  reject_old_samples: true
  reject_old_samples_max_age: 168h
  max_query_length: 0
  split_queries_by_interval: 0
  max_line_size: 1MB
  discover_log_levels: false
  discover_service_name: []`)
	p2 := newPipeline(t)
	_, log2, _, _ := exitRun(t, bin, p2, lokiBackfillConf(p2, in, filterSO, archive, strict), "none.out", want)
	lost := len(want) - count(strict)
	t.Logf("default age limit: %d of %d events rejected", lost, len(want))
	if lost == 0 || !strings.Contains(log2, "400") {
		t.Fatalf("the control backfill lost nothing: the test cannot tell the settings apart\n%s", log2)
	}
}
