package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// The shipped routing pipelines: each variant's tag reaches its own output and
// no other. chef_automate → Elasticsearch, puppet_enterprise → OpenSearch,
// stacks → Loki, cm_unknown → a review file, errors → the errors file.
func TestShippedRoutingPipelines(t *testing.T) {
	bin := fluentBit(t)
	a := shipUploadArchive(t, true)
	for _, ext := range []string{".conf", ".yaml"} {
		t.Run(strings.TrimPrefix(ext, "."), func(t *testing.T) {
			d := shipInstall(t, "routing"+ext)
			in := a.shipInput
			want := map[string]map[string]map[string]any{}
			for id, e := range in.events {
				v := e["opsworks_variant"].(string)
				if want[v] == nil {
					want[v] = map[string]map[string]any{}
				}
				want[v][id] = e
			}
			for _, v := range []string{"stacks", "chef_automate", "puppet_enterprise", "cm_unknown"} {
				if len(want[v]) == 0 {
					t.Fatalf("the input has no %s event", v)
				}
			}
			es, esSrv := newCaptureBulk(t)
			os, osSrv := newCaptureBulk(t)
			loki, lokiSrv := newCaptureLoki(t)
			unknownFile := filepath.Join(d.state, "unclassified", "cm_unknown.ndjson")
			d.runArchive(t, bin, a, shipEnv(esSrv, osSrv, lokiSrv), func() bool {
				return es.count() >= len(want["chef_automate"]) && os.count() >= len(want["puppet_enterprise"]) &&
					loki.count() >= len(want["stacks"]) && len(readPlainNDJSON(t, unknownFile)) >= len(want["cm_unknown"])
			})
			checkDocuments(t, "chef_automate → es", es.snapshot(t, "opsworks-chef_automate"), want["chef_automate"])
			checkDocuments(t, "puppet_enterprise → opensearch", os.snapshot(t, "opsworks-puppet_enterprise"), want["puppet_enterprise"])
			checkRecords(t, "stacks → loki", loki.records(t), want["stacks"])
			unknown := map[string]map[string]any{}
			for _, r := range readPlainNDJSON(t, unknownFile) {
				unknown[r["eventID"].(string)] = r
			}
			checkRecords(t, "cm_unknown → file", unknown, want["cm_unknown"])
		})
	}
}
