package filter

import (
	"bytes"
	"container/list"
	"sync"
)

// Variant names, the values of opsworks_variant and the tag suffixes.
const (
	VariantStacks           = "stacks"
	VariantChefAutomate     = "chef_automate"
	VariantPuppetEnterprise = "puppet_enterprise"
	VariantCMUnknown        = "cm_unknown"
)

const (
	sourceStacks = "opsworks.amazonaws.com"
	sourceCM     = "opsworks-cm.amazonaws.com"
)

// engineVariant maps an OpsWorks CM engine name to a variant: the API says
// "ChefAutomate" or "Puppet", older events and the console say "Chef".
func engineVariant(v *Value) string {
	if v == nil || v.Kind != KindString {
		return ""
	}
	s := v.Str
	switch {
	case hasPrefixFold(s, "chef"):
		return VariantChefAutomate
	case hasPrefixFold(s, "puppet"):
		return VariantPuppetEnterprise
	}
	return ""
}

func hasPrefixFold(s []byte, prefix string) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], []byte(prefix))
}

// attributeVariant reads engine attribute names such as CHEF_PIVOTAL_KEY or
// PUPPET_ADMIN_PASSWORD.
func attributeVariant(v *Value) string {
	if v == nil || v.Kind != KindString {
		return ""
	}
	switch {
	case bytes.HasPrefix(v.Str, []byte("CHEF_")):
		return VariantChefAutomate
	case bytes.HasPrefix(v.Str, []byte("PUPPET_")):
		return VariantPuppetEnterprise
	}
	return ""
}

// modelVariant reads engineModel: "Single" is Chef Automate's, "Monolithic"
// Puppet Enterprise's (OpsWorks CM API reference, CreateServer).
func modelVariant(v *Value) string {
	switch {
	case v.IsString("Single"):
		return VariantChefAutomate
	case v.IsString("Monolithic"):
		return VariantPuppetEnterprise
	}
	return ""
}

// unanimous returns the variant all elements of list agree on via field key.
func unanimous(list *Value, key string) string {
	if list == nil || list.Kind != KindArray {
		return ""
	}
	found := ""
	for i := range list.Items {
		v := engineVariant(list.Items[i].Get(key))
		if v == "" {
			continue
		}
		if found != "" && v != found {
			return ""
		}
		found = v
	}
	return found
}

// attributeNames walks v for engine attribute names under the keys the
// OpsWorks CM API uses for them (name, attributeName, exportAttributeName).
func attributeNames(v *Value, depth int) string {
	if v == nil || depth > 8 {
		return ""
	}
	switch v.Kind {
	case KindMap:
		for i := 0; i+1 < len(v.Items); i += 2 {
			k, val := &v.Items[i], &v.Items[i+1]
			if k.IsString("name") || k.IsString("attributeName") || k.IsString("exportAttributeName") {
				if r := attributeVariant(val); r != "" {
					return r
				}
			}
			if val.Kind == KindMap || val.Kind == KindArray {
				if r := attributeNames(val, depth+1); r != "" {
					return r
				}
			}
		}
	case KindArray:
		for i := range v.Items {
			if r := attributeNames(&v.Items[i], depth+1); r != "" {
				return r
			}
		}
	}
	return ""
}

// classifyCM determines the variant of an opsworks-cm event from the signals it
// carries, in the order of the README's rule table, then from servers seen
// earlier. It also teaches mem every serverName → engine pair the event shows.
func classifyCM(ev *Value, mem *serverMemory) string {
	req := ev.Get("requestParameters")
	resp := ev.Get("responseElements")
	scope := memoryScope(ev)

	// Learn each listed server/backup individually (DescribeServers, DescribeBackups).
	for _, list := range []*Value{resp.Get("servers"), resp.Get("backups")} {
		if list != nil && list.Kind == KindArray {
			for i := range list.Items {
				it := &list.Items[i]
				mem.learn(scope, it.Get("serverName"), engineVariant(it.Get("engine")))
			}
		}
	}

	variant := firstOf(
		func() string { return engineVariant(req.Get("engine")) },
		func() string { return engineVariant(resp.Path("server", "engine")) },
		func() string { return engineVariant(resp.Path("backup", "engine")) },
		func() string { return unanimous(resp.Get("servers"), "engine") },
		func() string { return unanimous(resp.Get("backups"), "engine") },
		func() string { return attributeNames(req, 0) },
		func() string { return attributeNames(resp, 0) },
		func() string { return modelVariant(req.Get("engineModel")) },
		func() string { return modelVariant(resp.Path("server", "engineModel")) },
	)
	names := []*Value{req.Get("serverName"), resp.Path("server", "serverName"), resp.Path("backup", "serverName")}
	if variant != "" {
		for _, n := range names {
			mem.learn(scope, n, variant)
		}
		return variant
	}
	for _, n := range names {
		if v := mem.lookup(scope, n); v != "" {
			return v
		}
	}
	return VariantCMUnknown
}

func firstOf(signals ...func() string) string {
	for _, s := range signals {
		if v := s(); v != "" {
			return v
		}
	}
	return ""
}

// memoryScope is the part of the server key that makes names unique: OpsWorks
// CM server names are unique per account and region.
func memoryScope(ev *Value) string {
	acct := ev.Get("recipientAccountId").String()
	if acct == "" {
		acct = ev.Path("userIdentity", "accountId").String()
	}
	return acct + "|" + ev.Get("awsRegion").String() + "|"
}

// serverMemory is a bounded LRU of serverName → variant learned from earlier
// events, shared by all threads that run one filter instance.
type serverMemory struct {
	mu    sync.Mutex
	max   int
	order *list.List // front = most recently used; values are keys
	items map[string]*list.Element
	vals  map[string]string
}

func newServerMemory(max int) *serverMemory {
	return &serverMemory{max: max, order: list.New(), items: map[string]*list.Element{}, vals: map[string]string{}}
}

func (m *serverMemory) learn(scope string, name *Value, variant string) {
	if m == nil || m.max == 0 || variant == "" || name == nil || name.Kind != KindString || len(name.Str) == 0 {
		return
	}
	key := scope + string(name.Str)
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		m.order.MoveToFront(el)
		m.vals[key] = variant
		return
	}
	m.items[key] = m.order.PushFront(key)
	m.vals[key] = variant
	for m.order.Len() > m.max {
		old := m.order.Remove(m.order.Back()).(string)
		delete(m.items, old)
		delete(m.vals, old)
	}
}

func (m *serverMemory) lookup(scope string, name *Value) string {
	if m == nil || m.max == 0 || name == nil || name.Kind != KindString || len(name.Str) == 0 {
		return ""
	}
	key := scope + string(name.Str)
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[key]
	if !ok {
		return ""
	}
	m.order.MoveToFront(el)
	return m.vals[key]
}

// Len is the number of remembered servers.
func (m *serverMemory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
