package filter

import (
	"bytes"
	"container/list"
	"sync"

	"github.com/opsworks-trail/opsworks-trail/record"
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

// classify names the variant of an event from a selected source.
func classify(ev *record.Value, src *record.Value, mem *serverMemory) string {
	if src.IsString(sourceStacks) {
		return VariantStacks
	}
	if src.IsString(sourceCM) {
		return classifyCM(ev, mem)
	}
	// A user-selected source that is not OpsWorks: name it after the service.
	s := src.String()
	if i := bytes.IndexByte([]byte(s), '.'); i > 0 {
		return s[:i]
	}
	return "other"
}

// engineVariant maps an OpsWorks CM engine name to a variant: the API says
// "ChefAutomate" or "Puppet", older events and the console say "Chef".
func engineVariant(v *record.Value) string {
	if v == nil || v.Kind != record.KindString {
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
func attributeVariant(v *record.Value) string {
	if v == nil || v.Kind != record.KindString {
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
func modelVariant(v *record.Value) string {
	switch {
	case v.IsString("Single"):
		return VariantChefAutomate
	case v.IsString("Monolithic"):
		return VariantPuppetEnterprise
	}
	return ""
}

// unanimous returns the variant all elements of list agree on via field key.
func unanimous(list *record.Value, key string) string {
	if list == nil || list.Kind != record.KindArray {
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
func attributeNames(v *record.Value, depth int) string {
	if v == nil || depth > 8 {
		return ""
	}
	switch v.Kind {
	case record.KindMap:
		for i := 0; i+1 < len(v.Items); i += 2 {
			k, val := &v.Items[i], &v.Items[i+1]
			if k.IsString("name") || k.IsString("attributeName") || k.IsString("exportAttributeName") {
				if r := attributeVariant(val); r != "" {
					return r
				}
			}
			if val.Kind == record.KindMap || val.Kind == record.KindArray {
				if r := attributeNames(val, depth+1); r != "" {
					return r
				}
			}
		}
	case record.KindArray:
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
func classifyCM(ev *record.Value, mem *serverMemory) string {
	req := ev.Get("requestParameters")
	resp := ev.Get("responseElements")
	acct, region := memoryScope(ev)

	// Learn each listed server/backup individually (DescribeServers, DescribeBackups).
	for _, list := range [...]*record.Value{resp.Get("servers"), resp.Get("backups")} {
		if list != nil && list.Kind == record.KindArray {
			for i := range list.Items {
				it := &list.Items[i]
				mem.learn(acct, region, it.Get("serverName"), engineVariant(it.Get("engine")))
			}
		}
	}

	variant := signalVariant(req, resp)
	names := [...]*record.Value{req.Get("serverName"), resp.Path("server", "serverName"), resp.Path("backup", "serverName")}
	if variant != "" {
		for _, n := range names {
			mem.learn(acct, region, n, variant)
		}
		return variant
	}
	for _, n := range names {
		if v := mem.lookup(acct, region, n); v != "" {
			return v
		}
	}
	return VariantCMUnknown
}

// signalVariant applies rules 2–5 of the README's table, first match wins.
func signalVariant(req, resp *record.Value) string {
	if v := engineVariant(req.Get("engine")); v != "" {
		return v
	}
	if v := engineVariant(resp.Path("server", "engine")); v != "" {
		return v
	}
	if v := engineVariant(resp.Path("backup", "engine")); v != "" {
		return v
	}
	if v := unanimous(resp.Get("servers"), "engine"); v != "" {
		return v
	}
	if v := unanimous(resp.Get("backups"), "engine"); v != "" {
		return v
	}
	if v := attributeNames(req, 0); v != "" {
		return v
	}
	if v := attributeNames(resp, 0); v != "" {
		return v
	}
	if v := modelVariant(req.Get("engineModel")); v != "" {
		return v
	}
	return modelVariant(resp.Path("server", "engineModel"))
}

// memoryScope is what makes server names unique: OpsWorks CM server names are
// unique per account and region.
func memoryScope(ev *record.Value) (acct, region []byte) {
	a := ev.Get("recipientAccountId")
	if a == nil || a.Kind != record.KindString || len(a.Str) == 0 {
		a = ev.Path("userIdentity", "accountId")
	}
	if a != nil && a.Kind == record.KindString {
		acct = a.Str
	}
	if r := ev.Get("awsRegion"); r != nil && r.Kind == record.KindString {
		region = r.Str
	}
	return acct, region
}

// serverMemory is a bounded LRU of (account, region, serverName) → variant
// learned from earlier events, shared by all threads that run one filter
// instance. Lookups build the key in a stack buffer: no allocation.
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

func memoryKey(buf []byte, acct, region []byte, name *record.Value) []byte {
	buf = append(buf, acct...)
	buf = append(buf, '|')
	buf = append(buf, region...)
	buf = append(buf, '|')
	return append(buf, name.Str...)
}

func usableName(name *record.Value) bool {
	return name != nil && name.Kind == record.KindString && len(name.Str) > 0
}

func (m *serverMemory) learn(acct, region []byte, name *record.Value, variant string) {
	if m == nil || m.max == 0 || variant == "" || !usableName(name) {
		return
	}
	var buf [256]byte
	key := memoryKey(buf[:0], acct, region, name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[string(key)]; ok {
		m.order.MoveToFront(el)
		if m.vals[string(key)] != variant {
			m.vals[el.Value.(string)] = variant
		}
		return
	}
	k := string(key)
	m.items[k] = m.order.PushFront(k)
	m.vals[k] = variant
	for m.order.Len() > m.max {
		old := m.order.Remove(m.order.Back()).(string)
		delete(m.items, old)
		delete(m.vals, old)
	}
}

func (m *serverMemory) lookup(acct, region []byte, name *record.Value) string {
	if m == nil || m.max == 0 || !usableName(name) {
		return ""
	}
	var buf [256]byte
	key := memoryKey(buf[:0], acct, region, name)
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[string(key)]
	if !ok {
		return ""
	}
	m.order.MoveToFront(el)
	return m.vals[string(key)]
}

// Len is the number of remembered servers.
func (m *serverMemory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}
