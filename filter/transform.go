package filter

// transform.go holds the transform of one event into its output body:
// buildBody (fields in order, the filter's own replaced, carrier fields
// appended) and flatten for userIdentity.

import (
	"bytes"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// buildBody assembles the output map: the event's fields in order, with
// userIdentity replaced by its flattened keys, carrier fields appended, and
// the filter's own fields last. Fields the filter owns are replaced, never
// duplicated, so records can pass through the filter twice.
func buildBody(ws *workspace, cfg *Config, ev *record.Value, carrier *record.Value, variant, warning string) record.Value {
	items := ws.body[:0]
	for i := 0; i+1 < len(ev.Items); i += 2 {
		k, v := &ev.Items[i], &ev.Items[i+1]
		switch {
		case isOwnField(k), cfg.ECSFields && isECSField(k):
			continue
		case k.IsString("userIdentity") && v.Kind == record.KindMap:
			items = flatten(ws, cfg.Separator, items, k.Str, v)
		default:
			items = append(items, *k, *v)
		}
	}
	if carrier != nil {
		for i := 0; i+1 < len(carrier.Items); i += 2 {
			k := &carrier.Items[i]
			if k.IsString(cfg.SourceKey) || k.IsString("Records") || isOwnField(k) || (cfg.ECSFields && isECSField(k)) || hasKey(items, k) {
				continue
			}
			items = append(items, *k, carrier.Items[i+1])
		}
	}
	if cfg.ECSFields {
		items = appendECS(ws, cfg.Separator, items, ev)
	}
	if variant != "" {
		items = append(items, record.StringValue(FieldVariant), record.StringValue(variant))
	}
	if warning != "" {
		items = append(items, record.StringValue(FieldWarning), record.StringValue(warning))
	}
	ws.body = items
	return record.Value{Kind: record.KindMap, Items: items}
}

func isOwnField(k *record.Value) bool {
	return k.IsString(FieldVariant) || k.IsString(FieldError) || k.IsString(FieldWarning)
}

func hasKey(items []record.Value, k *record.Value) bool {
	for i := 0; i < len(items); i += 2 {
		if k.Kind == record.KindString && items[i].Kind == record.KindString && bytes.Equal(items[i].Str, k.Str) {
			return true
		}
	}
	return false
}

// flatten appends prefix<sep>path → value pairs for every leaf of m. Arrays
// are leaves (kept as values); empty objects carry nothing and vanish.
func flatten(ws *workspace, sep string, items []record.Value, prefix []byte, m *record.Value) []record.Value {
	for i := 0; i+1 < len(m.Items); i += 2 {
		k, v := &m.Items[i], &m.Items[i+1]
		if k.Kind != record.KindString {
			continue
		}
		key := ws.arena.Concat(prefix, sep, k.Str)
		if v.Kind == record.KindMap {
			items = flatten(ws, sep, items, key, v)
			continue
		}
		items = append(items, record.Value{Kind: record.KindString, Str: key}, *v)
	}
	return items
}
