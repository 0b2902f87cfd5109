package corpus

import (
	"fmt"
	"time"
)

// OpsWorks for Chef Automate and OpsWorks for Puppet Enterprise (eventSource
// opsworks-cm.amazonaws.com). Only some calls name the engine; the rest name
// a server (or nothing), which is what the filter's serverName memory and its
// cm_unknown variant are for. Servers live in the world, so a CreateServer is
// followed by backups, node associations and finally DeleteServer by name.
const srcCM = "opsworks-cm.amazonaws.com"

// maxServers caps live servers per account and region (as the service's
// quota does), which also keeps DescribeServers listings realistically sized.
const maxServers = 5

var cmOps = []op{
	{source: srcCM, name: "DescribeServers", weight: 20, readOnly: true, build: describeServers},
	{source: srcCM, name: "DescribeBackups", weight: 7, readOnly: true, build: describeBackups},
	{source: srcCM, name: "DescribeEvents", weight: 7, readOnly: true, build: serverOnly},
	{source: srcCM, name: "DescribeNodeAssociationStatus", weight: 6, readOnly: true, build: nodeStatus},
	{source: srcCM, name: "DescribeAccountAttributes", weight: 2, readOnly: true, build: noParams},
	{source: srcCM, name: "AssociateNode", weight: 10, build: associateNode},
	{source: srcCM, name: "DisassociateNode", weight: 4, build: disassociateNode},
	{source: srcCM, name: "CreateServer", weight: 2, build: createServer},
	{source: srcCM, name: "CreateBackup", weight: 6, services: []string{srcCM}, build: createBackup},
	{source: srcCM, name: "UpdateServer", weight: 3, build: updateServer},
	{source: srcCM, name: "UpdateServerEngineAttributes", weight: 3, build: updateEngineAttributes},
	{source: srcCM, name: "StartMaintenance", weight: 2, build: startMaintenance},
	{source: srcCM, name: "ExportServerEngineAttribute", weight: 2, build: exportAttribute},
	{source: srcCM, name: "RestoreServer", weight: 1, build: restoreServer},
	{source: srcCM, name: "DeleteBackup", weight: 1, build: deleteBackup},
	{source: srcCM, name: "DeleteServer", weight: 2, build: deleteServer},
	{source: srcCM, name: "ListTagsForResource", weight: 3, readOnly: true, build: listTags},
	{source: srcCM, name: "TagResource", weight: 1, build: tagResource},
}

// server returns a live server of the account/region. When there is none it
// invents one that predates the window, which the filter cannot know yet.
func (x *ctx) server() *cmServer {
	key := x.a.id + "|" + x.region
	live := x.g.w.liveServers(key)
	if len(live) == 0 {
		s := newServer(x.g.r, x.t.Add(-90*24*time.Hour))
		x.g.w.servers[key] = append(x.g.w.servers[key], s)
		return s
	}
	return pick(x.g.r, live)
}

func (x *ctx) serverArn(s *cmServer) string {
	return fmt.Sprintf("arn:aws:opsworks-cm:%s:%s:server/%s/%s", x.region, x.a.id, s.name, s.id)
}

func model(s *cmServer) string {
	if s.variant == "puppet_enterprise" {
		return "Monolithic"
	}
	return "Single"
}

// responseAttributes are the engine attributes the service returns on
// creation; CloudTrail always shows them redacted.
func responseAttributes(s *cmServer) []obj {
	if s.variant == "puppet_enterprise" {
		return []obj{o("name", "PUPPET_STARTER_KIT", "value", redacted), o("name", "PUPPET_ADMIN_PASSWORD", "value", redacted), o("name", "PUPPET_API_CA_CERT", "value", redacted)}
	}
	return []obj{o("name", "CHEF_STARTER_KIT", "value", redacted), o("name", "CHEF_PIVOTAL_KEY", "value", redacted), o("name", "CHEF_DELIVERY_ADMIN_PASSWORD", "value", redacted)}
}

// serverObj is the Server structure of the OpsWorks CM API.
func (x *ctx) serverObj(s *cmServer, status string, withAttrs bool) obj {
	r := x.g.r
	var attrs any = omit{}
	if withAttrs {
		attrs = responseAttributes(s)
	}
	return o("endpoint", s.name+"-"+s.id[:8]+r.str(lowerAlnum, 8)+"."+x.region+".opsworks-cm.io",
		"createdAt", consoleTime(s.created),
		"serviceRoleArn", fmt.Sprintf("arn:aws:iam::%s:role/service-role/aws-opsworks-cm-service-role", x.a.id),
		"preferredBackupWindow", "Wed:08:00", "status", status, "subnetIds", []string{"subnet-" + s.id[:8]},
		"engine", s.engine, "instanceType", s.instType, "serverName", s.name, "serverArn", x.serverArn(s),
		"engineModel", model(s), "backupRetentionCount", 10, "engineAttributes", attrs, "engineVersion", s.version,
		"instanceProfileArn", fmt.Sprintf("arn:aws:iam::%s:instance-profile/aws-opsworks-cm-ec2-role", x.a.id),
		"preferredMaintenanceWindow", "Fri:21:00", "maintenanceStatus", opt(status == "HEALTHY", "SUCCESS"))
}

func noParams(x *ctx) call   { return call{req: nil} }
func serverOnly(x *ctx) call { return call{req: o("serverName", x.server().name)} }

func describeServers(x *ctx) call {
	if x.g.r.chance(0.6) {
		s := x.server()
		return call{req: o("serverName", s.name), resp: o("servers", []obj{x.serverObj(s, "HEALTHY", false)})}
	}
	// Listing all servers of a region can mix Chef and Puppet servers.
	var list []obj
	for _, s := range x.g.w.liveServers(x.a.id + "|" + x.region) {
		list = append(list, x.serverObj(s, "HEALTHY", false))
	}
	if list == nil {
		list = []obj{}
	}
	return call{req: o(), resp: o("servers", list)}
}

func (x *ctx) backupObj(s *cmServer, id string, status string) obj {
	return o("backupArn", fmt.Sprintf("arn:aws:opsworks-cm:%s:%s:backup/%s", x.region, x.a.id, id), "backupId", id,
		"backupType", pick(x.g.r, []string{"AUTOMATED", "MANUAL"}), "createdAt", consoleTime(x.t),
		"engine", s.engine, "engineModel", model(s), "engineVersion", s.version, "instanceType", s.instType,
		"preferredBackupWindow", "Wed:08:00", "preferredMaintenanceWindow", "Fri:21:00",
		"s3LogUrl", fmt.Sprintf("https://s3.amazonaws.com/opsworks-cm-%s-%s/%s/%s.log", x.region, x.a.id, s.name, id),
		"serverName", s.name, "status", status, "toolsVersion", "2.0.1")
}

func backupID(s *cmServer, t time.Time) string {
	return s.name + "-" + t.UTC().Format("20060102150405") + "000"
}

func describeBackups(x *ctx) call {
	s := x.server()
	var list []obj
	for i := x.g.r.IntN(3); i >= 0; i-- {
		list = append(list, x.backupObj(s, backupID(s, x.t.Add(-time.Duration(i+1)*24*time.Hour)), "OK"))
	}
	return call{req: o("serverName", s.name), resp: o("backups", list)}
}

func nodeStatus(x *ctx) call {
	return call{req: o("nodeAssociationStatusToken", x.g.r.str(mixedAlnum, 48), "serverName", x.server().name)}
}

func (x *ctx) nodeName() string { return "i-0" + x.g.r.str(hexLower, 16) }

// associateNode is usually called by the node itself from its user data.
func associateNode(x *ctx) call {
	r := x.g.r
	s := x.server()
	node := x.nodeName()
	s.nodes = append(s.nodes, node)
	var attrs []obj
	if s.variant == "puppet_enterprise" {
		attrs = []obj{o("name", "PUPPET_NODE_CSR", "value", "-----BEGIN CERTIFICATE REQUEST-----\nMIICvDCCAaQCAQAwdzELMAkGA1UEBhMC"+r.str(mixedAlnum, 160)+"\n-----END CERTIFICATE REQUEST-----")}
	} else {
		attrs = []obj{o("name", "CHEF_ORGANIZATION", "value", "default"),
			o("name", "CHEF_NODE_PUBLIC_KEY", "value", "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"+r.str(mixedAlnum, 160)+"\n-----END PUBLIC KEY-----")}
	}
	return call{req: o("serverName", s.name, "nodeName", node, "engineAttributes", attrs),
		resp: o("nodeAssociationStatusToken", r.str(mixedAlnum, 48))}
}

func disassociateNode(x *ctx) call {
	r := x.g.r
	s := x.server()
	node := x.nodeName()
	if len(s.nodes) > 0 {
		node = pick(r, s.nodes)
	}
	var attrs any = omit{}
	if s.variant == "chef_automate" {
		attrs = []obj{o("name", "CHEF_ORGANIZATION", "value", "default")}
	}
	return call{req: o("serverName", s.name, "nodeName", node, "engineAttributes", attrs),
		resp: o("nodeAssociationStatusToken", r.str(mixedAlnum, 48))}
}

// requestAttributes are what a user passes to CreateServer. The admin
// password is sometimes logged in plain text here: the case redaction is for.
func (x *ctx) requestAttributes(s *cmServer) []obj {
	r := x.g.r
	if s.variant == "puppet_enterprise" {
		return []obj{o("name", "PUPPET_ADMIN_PASSWORD", "value", x.secret("Pe-"+r.str(mixedAlnum, 14))),
			o("name", "PUPPET_R10K_REMOTE", "value", fmt.Sprintf("https://github.com/%s/control-repo.git", x.a.alias)),
			o("name", "PUPPET_R10K_PRIVATE_KEY", "value", redacted)}
	}
	return []obj{o("name", "CHEF_AUTOMATE_ADMIN_PASSWORD", "value", x.secret("Ca-"+r.str(mixedAlnum, 14))),
		o("name", "CHEF_AUTOMATE_PIVOTAL_KEY", "value", redacted)}
}

func createServer(x *ctx) call {
	r := x.g.r
	s := newServer(r, x.t)
	req := o("serverName", s.name, "engineModel", model(s), "engine", s.engine, "engineVersion", s.version,
		"instanceProfileArn", fmt.Sprintf("arn:aws:iam::%s:instance-profile/aws-opsworks-cm-ec2-role", x.a.id),
		"backupRetentionCount", 10, "serviceRoleArn", fmt.Sprintf("arn:aws:iam::%s:role/service-role/aws-opsworks-cm-service-role", x.a.id),
		"preferredMaintenanceWindow", "Fri:21:00", "instanceType", s.instType, "keyPair", opt(r.chance(0.5), x.a.alias+"-ops"),
		"subnetIds", []string{"subnet-" + s.id[:8]}, "preferredBackupWindow", "Wed:08:00",
		"associatePublicIpAddress", true, "disableAutomatedBackup", false, "engineAttributes", x.requestAttributes(s))
	if r.chance(0.05) {
		// A request without engine fails validation; only engineModel is left
		// to tell the engine.
		req = append(req[:2], req[3:]...)
		return call{req: req, errCode: "ValidationException", errMsg: "1 validation error detected: Value null at 'engine' failed to satisfy constraint: Member must not be null"}
	}
	key := x.a.id + "|" + x.region
	if len(x.g.w.liveServers(key)) >= maxServers {
		return call{req: req, errCode: "LimitExceededException", errMsg: "The maximum number of servers for this account and region has been reached."}
	}
	x.g.w.servers[key] = append(x.g.w.servers[key], s)
	return call{req: req, resp: o("server", x.serverObj(s, "CREATING", true))}
}

func createBackup(x *ctx) call {
	r := x.g.r
	s := x.server()
	req := o("serverName", s.name, "description", opt(r.chance(0.5), "before upgrade"))
	if r.chance(0.4) {
		return call{req: req, errCode: "InvalidStateException", errMsg: fmt.Sprintf("Server %s is not in a valid state for a backup. A backup is already in progress.", s.name)}
	}
	id := backupID(s, x.t)
	s.backups = append(s.backups, id)
	return call{req: req, resp: o("backup", x.backupObj(s, id, "IN_PROGRESS"))}
}

func updateServer(x *ctx) call {
	r := x.g.r
	s := x.server()
	req := o("serverName", s.name, "backupRetentionCount", opt(r.chance(0.5), 1+r.IntN(30)),
		"preferredMaintenanceWindow", opt(r.chance(0.5), "Sun:03:00"), "disableAutomatedBackup", opt(r.chance(0.3), false))
	return call{req: req, resp: o("server", x.serverObj(s, "HEALTHY", false))}
}

var updatableAttributes = map[string][]string{
	"chef_automate":     {"CHEF_PIVOTAL_KEY", "CHEF_DELIVERY_ADMIN_PASSWORD"},
	"puppet_enterprise": {"PUPPET_ADMIN_PASSWORD"},
}

func updateEngineAttributes(x *ctx) call {
	r := x.g.r
	s := x.server()
	name := pick(r, updatableAttributes[s.variant])
	plain := "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA" + r.str(mixedAlnum, 128) + "\n-----END RSA PRIVATE KEY-----"
	if name != "CHEF_PIVOTAL_KEY" {
		plain = r.str(mixedAlnum, 18)
	}
	value := redacted
	if r.chance(0.15) {
		value = plain
	}
	req := o("serverName", s.name, "attributeName", name, "attributeValue", value)
	if r.chance(0.3) {
		return call{req: req, resp: o("server", x.serverObj(s, "HEALTHY", false))}
	}
	return call{req: req}
}

func startMaintenance(x *ctx) call {
	s := x.server()
	var attrs any = omit{}
	if s.variant == "chef_automate" && x.g.r.chance(0.3) {
		attrs = []obj{o("name", "CHEF_MAJOR_UPGRADE", "value", "true")}
	}
	return call{req: o("serverName", s.name, "engineAttributes", attrs), resp: o("server", x.serverObj(s, "UNDER_MAINTENANCE", false))}
}

// exportAttribute asks for user data to bootstrap a node (Chef servers).
func exportAttribute(x *ctx) call {
	r := x.g.r
	s := x.server()
	inputs := []obj{o("name", "RunList", "value", "recipe[base],role[web]"), o("name", "OrganizationName", "value", "default"),
		o("name", "NodeEnvironment", "value", pick(r, []string{"production", "staging"}))}
	return call{req: o("exportAttributeName", "Userdata", "serverName", s.name, "inputAttributes", inputs),
		resp: o("engineAttribute", o("name", "Userdata", "value", redacted), "serverName", s.name)}
}

func restoreServer(x *ctx) call {
	s := x.server()
	id := backupID(s, x.t.Add(-48*time.Hour))
	if len(s.backups) > 0 {
		id = pick(x.g.r, s.backups)
	}
	return call{req: o("backupId", id, "serverName", s.name, "instanceType", opt(x.g.r.chance(0.3), "m5.xlarge"))}
}

// deleteBackup names only the backup: nothing in the event identifies the
// engine, so it stays cm_unknown.
func deleteBackup(x *ctx) call {
	s := x.server()
	return call{req: o("backupId", backupID(s, x.t.Add(-30*24*time.Hour)))}
}

func deleteServer(x *ctx) call {
	s := x.server()
	s.deleted = true
	return call{req: o("serverName", s.name)}
}

func listTags(x *ctx) call { return call{req: o("resourceArn", x.serverArn(x.server()))} }

func tagResource(x *ctx) call {
	r := x.g.r
	return call{req: o("resourceArn", x.serverArn(x.server()), "tags", []obj{o("key", "team", "value", pick(r, []string{"platform", "sre", "infra"})), o("key", "env", "value", "prod")})}
}
