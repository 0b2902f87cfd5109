package filter

// ecs.go derives the three Elastic Common Schema fields that are not a plain
// copy of one CloudTrail field (ecs_fields on). The one-to-one names
// (event.action ← eventName, cloud.region ← awsRegion, …) are field aliases
// in the index templates instead: they cost no bytes per document and leave
// the record as CloudTrail wrote it. See "ECS field names" in schema/README.md.

import (
	"net/netip"

	"github.com/opsworks-trail/opsworks-trail/record"
)

// The top-level objects ecs_fields adds. No CloudTrail event has these keys,
// so with the option on they are the filter's own (replaced on a second pass).
const (
	FieldECSEvent  = "event"  // {"outcome": "success"|"failure"}
	FieldECSUser   = "user"   // {"name": …}
	FieldECSSource = "source" // {"ip": …}
)

// appendECS appends event.outcome, user.name and source.ip (as nested
// objects, ECS's JSON form) for ev. Their values come from ev and are
// encoded before the workspace is reused, so ws.ecs holds them without
// allocating.
//
//   - event.outcome: "failure" when errorCode or errorMessage is set, else
//     "success" (Elastic's CloudTrail integration does the same).
//   - user.name: userIdentity.sessionContext.sessionIssuer.userName when
//     present (AssumedRole: the role's name; FederatedUser: the IAM user that
//     federated), else userIdentity.userName (IAMUser). Root, AWSService,
//     AWSAccount and Identity Center identities have neither and get none:
//     inventing a name ("root", the service) would put a value in the index
//     that CloudTrail did not write. The role session's name stays in
//     userIdentity_arn and userIdentity_principalId (user.id).
//   - source.ip: sourceIPAddress only when it is an IP address; CloudTrail
//     writes "AWS Internal" or a service name there as often as an address,
//     and those stay in sourceIPAddress (source.address).
func appendECS(ws *workspace, sep string, items []record.Value, ev *record.Value) []record.Value {
	e := &ws.ecs
	outcome := "success"
	if nonEmptyString(ev.Get("errorCode")) || nonEmptyString(ev.Get("errorMessage")) {
		outcome = "failure"
	}
	e[0], e[1] = record.StringValue("outcome"), record.StringValue(outcome)
	items = append(items, record.StringValue(FieldECSEvent), record.Value{Kind: record.KindMap, Items: e[0:2]})
	var name *record.Value
	if id := ev.Get("userIdentity"); id != nil && id.Kind == record.KindMap {
		name = id.Get("sessionContext").Get("sessionIssuer").Get("userName")
		if !nonEmptyString(name) {
			name = id.Get("userName")
		}
	} else {
		// A record passing the filter a second time has its identity
		// flattened already (the rare path: the keys are built here).
		name = ev.Get("userIdentity" + sep + "sessionContext" + sep + "sessionIssuer" + sep + "userName")
		if !nonEmptyString(name) {
			name = ev.Get("userIdentity" + sep + "userName")
		}
	}
	if nonEmptyString(name) {
		e[2], e[3] = record.StringValue("name"), *name
		items = append(items, record.StringValue(FieldECSUser), record.Value{Kind: record.KindMap, Items: e[2:4]})
	}
	if ip := ev.Get("sourceIPAddress"); nonEmptyString(ip) {
		// ES's ip type takes no IPv6 zone ("fe80::1%eth0").
		if a, err := netip.ParseAddr(string(ip.Str)); err == nil && a.Zone() == "" {
			e[4], e[5] = record.StringValue("ip"), *ip
			items = append(items, record.StringValue(FieldECSSource), record.Value{Kind: record.KindMap, Items: e[4:6]})
		}
	}
	return items
}

func nonEmptyString(v *record.Value) bool {
	return v != nil && v.Kind == record.KindString && len(v.Str) > 0
}

// isECSField reports whether k is one of the objects appendECS adds.
func isECSField(k *record.Value) bool {
	return k.IsString(FieldECSEvent) || k.IsString(FieldECSUser) || k.IsString(FieldECSSource)
}
