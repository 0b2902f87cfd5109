// Package audit holds what the views of the audit (the HTML report, the
// Grafana dashboard, the Kibana / OpenSearch Dashboards saved searches)
// agree on, so that each shows the same rows: which OpsWorks actions count as
// destructive or sensitive.
package audit

import (
	"regexp"
	"strings"
)

// DestructivePrefixes and DestructiveNames are the actions an audit looks at
// first: they remove, stop, restore or change access to OpsWorks resources
// (Stacks, and the Chef Automate / Puppet Enterprise servers of OpsWorks CM).
var (
	DestructivePrefixes = []string{"Delete", "Stop", "Deregister", "Disassociate", "Detach"}
	DestructiveNames    = []string{"RestoreServer", "UpdateServerEngineAttributes", "SetPermission", "UpdateStack",
		"UpdateApp", "UpdateLayer", "UpdateInstance", "UpdateUserProfile", "UpdateMyUserProfile", "GrantAccess"}
)

// IsDestructive reports whether eventName is one of them.
func IsDestructive(eventName string) bool {
	for _, p := range DestructivePrefixes {
		if strings.HasPrefix(eventName, p) {
			return true
		}
	}
	for _, n := range DestructiveNames {
		if eventName == n {
			return true
		}
	}
	return false
}

// DestructiveRegexp is the same set as an RE2 alternation matched against the
// whole name, the form LogQL's =~ takes (Grafana).
func DestructiveRegexp() string {
	alts := make([]string, 0, len(DestructivePrefixes)+len(DestructiveNames))
	for _, p := range DestructivePrefixes {
		alts = append(alts, regexp.QuoteMeta(p)+".*")
	}
	for _, n := range DestructiveNames {
		alts = append(alts, regexp.QuoteMeta(n))
	}
	return strings.Join(alts, "|")
}
