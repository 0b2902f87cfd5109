package corpus

import (
	"fmt"
	"strings"
)

// OpsWorks Stacks (eventSource opsworks.amazonaws.com). Parameter names follow
// the AWS OpsWorks Stacks API as CloudTrail logs it (lowerCamel). Secrets the
// service redacts appear as "*** Redacted ***"; a few requests carry a plain
// value under a sensitive name so the filter's redaction has work to do.
const (
	srcStacks = "opsworks.amazonaws.com"
	redacted  = "*** Redacted ***"
)

// plainSecretRate is how often a request field that CloudTrail would normally
// show redacted carries a plain secret instead.
const plainSecretRate = 0.05

var stacksOps = []op{
	{source: srcStacks, name: "DescribeStacks", weight: 10, readOnly: true, build: describeStacks},
	{source: srcStacks, name: "DescribeInstances", weight: 12, readOnly: true, build: describeInstances},
	{source: srcStacks, name: "DescribeLayers", weight: 8, readOnly: true, build: byStack("layerIds")},
	{source: srcStacks, name: "DescribeApps", weight: 5, readOnly: true, build: byStack("appIds")},
	{source: srcStacks, name: "DescribeDeployments", weight: 6, readOnly: true, build: byStack("deploymentIds")},
	{source: srcStacks, name: "DescribeCommands", weight: 3, readOnly: true, build: describeCommands},
	{source: srcStacks, name: "DescribeStackSummary", weight: 3, readOnly: true, build: stackOnly},
	{source: srcStacks, name: "DescribeElasticIps", weight: 2, readOnly: true, build: instanceOnly},
	{source: srcStacks, name: "DescribeUserProfiles", weight: 2, readOnly: true, build: describeUserProfiles},
	{source: srcStacks, name: "DescribePermissions", weight: 2, readOnly: true, build: describePermissions},
	{source: srcStacks, name: "DescribeAgentVersions", weight: 1, readOnly: true, build: stackOnly},
	{source: srcStacks, name: "DescribeServiceErrors", weight: 1, readOnly: true, build: stackOnly},
	{source: srcStacks, name: "CreateStack", weight: 1, build: createStack},
	{source: srcStacks, name: "UpdateStack", weight: 2, build: updateStack},
	{source: srcStacks, name: "DeleteStack", weight: 1, build: stackOnly},
	{source: srcStacks, name: "CreateLayer", weight: 3, build: createLayer},
	{source: srcStacks, name: "UpdateLayer", weight: 3, build: updateLayer},
	{source: srcStacks, name: "DeleteLayer", weight: 1, build: layerOnly},
	{source: srcStacks, name: "CreateInstance", weight: 3, build: createInstance},
	{source: srcStacks, name: "StartInstance", weight: 4, services: []string{srcStacks}, build: instanceOnly},
	{source: srcStacks, name: "StopInstance", weight: 3, services: []string{srcStacks}, build: stopInstance},
	{source: srcStacks, name: "RebootInstance", weight: 1, services: []string{srcStacks}, build: instanceOnly},
	{source: srcStacks, name: "DeleteInstance", weight: 1, build: deleteInstance},
	{source: srcStacks, name: "CreateApp", weight: 2, build: createApp},
	{source: srcStacks, name: "UpdateApp", weight: 2, build: updateApp},
	{source: srcStacks, name: "DeleteApp", weight: 1, build: appOnly},
	{source: srcStacks, name: "CreateDeployment", weight: 5, build: createDeployment},
	{source: srcStacks, name: "SetPermission", weight: 1, build: setPermission},
	{source: srcStacks, name: "RegisterRdsDbInstance", weight: 1, build: rdsInstance(true)},
	{source: srcStacks, name: "UpdateRdsDbInstance", weight: 1, build: rdsInstance(false)},
	{source: srcStacks, name: "GrantAccess", weight: 1, build: grantAccess},
	{source: srcStacks, name: "SetLoadBasedAutoScaling", weight: 1, build: loadBasedScaling},
}

// stack returns one of the account/region's stacks.
func (x *ctx) stack() *stack {
	key := x.a.id + "|" + x.region
	if len(x.g.w.stacks[key]) == 0 {
		x.g.w.stacks[key] = append(x.g.w.stacks[key], newStack(x.g.r, x.a))
	}
	return pick(x.g.r, x.g.w.stacks[key])
}

// secret is "*** Redacted ***" or, rarely, the plain value.
func (x *ctx) secret(plain string) string {
	if x.g.r.chance(plainSecretRate) {
		return plain
	}
	return redacted
}

func describeStacks(x *ctx) call {
	if x.g.r.chance(0.3) {
		return call{req: o()}
	}
	return call{req: o("stackIds", []string{x.stack().id})}
}

func describeInstances(x *ctx) call {
	s := x.stack()
	switch x.g.r.IntN(3) {
	case 0:
		return call{req: o("stackId", s.id)}
	case 1:
		return call{req: o("layerId", pick(x.g.r, s.layers))}
	}
	return call{req: o("instanceIds", []string{pick(x.g.r, s.instances)})}
}

// byStack describes a stack's items either by stack or by explicit IDs.
func byStack(idsKey string) func(x *ctx) call {
	return func(x *ctx) call {
		s := x.stack()
		if x.g.r.chance(0.7) {
			return call{req: o("stackId", s.id)}
		}
		return call{req: o(idsKey, []string{x.g.r.uuid()})}
	}
}

func describeCommands(x *ctx) call { return call{req: o("deploymentId", x.g.r.uuid())} }
func stackOnly(x *ctx) call        { return call{req: o("stackId", x.stack().id)} }
func layerOnly(x *ctx) call        { return call{req: o("layerId", pick(x.g.r, x.stack().layers))} }
func appOnly(x *ctx) call          { return call{req: o("appId", x.g.r.uuid())} }

func instanceOnly(x *ctx) call {
	return call{req: o("instanceId", pick(x.g.r, x.stack().instances))}
}

func stopInstance(x *ctx) call {
	return call{req: o("instanceId", pick(x.g.r, x.stack().instances), "force", x.g.r.chance(0.1))}
}

func deleteInstance(x *ctx) call {
	return call{req: o("instanceId", pick(x.g.r, x.stack().instances), "deleteElasticIp", x.g.r.chance(0.5), "deleteVolumes", x.g.r.chance(0.5))}
}

func describeUserProfiles(x *ctx) call {
	u := pick(x.g.r, x.a.users)
	return call{req: o("iamUserArns", []string{userArn(x.a, u)})}
}

func describePermissions(x *ctx) call {
	u := pick(x.g.r, x.a.users)
	return call{req: o("stackId", x.stack().id, "iamUserArn", userArn(x.a, u))}
}

func setPermission(x *ctx) call {
	u := pick(x.g.r, x.a.users)
	return call{req: o("stackId", x.stack().id, "iamUserArn", userArn(x.a, u), "allowSsh", x.g.r.chance(0.6),
		"allowSudo", x.g.r.chance(0.3), "level", pick(x.g.r, []string{"manage", "deploy", "show", "iam_only"}))}
}

func (x *ctx) cookbooksSource() obj {
	r := x.g.r
	if r.chance(0.3) {
		return o("type", "s3", "url", fmt.Sprintf("https://s3.amazonaws.com/%s-cookbooks/cookbooks.tar.gz", x.a.alias),
			"username", r.awsID("AKIA"), "password", x.secret(r.str(mixedAlnum, 40)))
	}
	return o("type", "git", "url", fmt.Sprintf("git@github.com:%s/cookbooks.git", x.a.alias), "revision", pick(r, []string{"main", "master", "v2.3.1"}),
		"sshKey", x.secret("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA"+r.str(mixedAlnum, 64)+"\n-----END RSA PRIVATE KEY-----"))
}

func createStack(x *ctx) call {
	r := x.g.r
	s := newStack(r, x.a)
	key := x.a.id + "|" + x.region
	x.g.w.stacks[key] = append(x.g.w.stacks[key], s)
	req := o("name", s.name, "region", x.region, "vpcId", "vpc-"+r.str(hexLower, 17), "defaultSubnetId", "subnet-"+r.str(hexLower, 17),
		"serviceRoleArn", s.roleArn, "defaultInstanceProfileArn", s.profile,
		"defaultOs", pick(r, []string{"Amazon Linux 2", "Ubuntu 18.04 LTS", "Amazon Linux 2018.03"}),
		"hostnameTheme", pick(r, []string{"Layer_Dependent", "Baked_Goods", "Greek_Deities"}),
		"configurationManager", o("name", "Chef", "version", pick(r, []string{"12", "11.10"})),
		"useCustomCookbooks", true, "customCookbooksSource", x.cookbooksSource(),
		"useOpsworksSecurityGroups", true, "defaultRootDeviceType", "ebs",
		"defaultSshKeyName", x.a.alias+"-ops", "customJson", redacted)
	return call{req: req, resp: o("stackId", s.id)}
}

func updateStack(x *ctx) call {
	s := x.stack()
	req := o("stackId", s.id, "customJson", redacted, "useCustomCookbooks", true, "customCookbooksSource", x.cookbooksSource())
	return call{req: req}
}

var layerTypes = []string{"custom", "custom", "rails-app", "php-app", "nodejs-app", "java-app", "db-master", "lb", "monitoring-master"}

func (x *ctx) recipes() obj {
	r := x.g.r
	cb := pick(r, []string{"acme", "app", "base", "monitoring"})
	return o("setup", []string{cb + "::setup", "base::users"}, "configure", []string{cb + "::configure"},
		"deploy", []string{cb + "::deploy"}, "undeploy", []string{}, "shutdown", []string{cb + "::drain"})
}

func (x *ctx) layerAttributes(typ string) obj {
	switch typ {
	case "db-master":
		return o("MysqlRootPassword", x.secret(x.g.r.str(mixedAlnum, 20)), "MysqlRootPasswordUbiquitous", "true")
	case "rails-app":
		return o("RailsStack", "nginx_unicorn", "RubyVersion", "2.6.3", "BundlerVersion", "1.17.3", "ManageBundler", "true")
	case "java-app":
		return o("JavaAppServer", "tomcat", "JavaAppServerVersion", "8", "JvmOptions", "-Xmx1024m")
	}
	return o()
}

func createLayer(x *ctx) call {
	r := x.g.r
	s := x.stack()
	typ := pick(r, layerTypes)
	name := pick(r, []string{"web", "app", "worker", "db", "cache", "frontend"})
	id := r.uuid()
	s.layers = append(s.layers, id)
	req := o("stackId", s.id, "type", typ, "name", name, "shortname", name+r.str(lowerAlnum, 4),
		"attributes", x.layerAttributes(typ), "customRecipes", x.recipes(),
		"autoAssignElasticIps", false, "autoAssignPublicIps", true, "enableAutoHealing", true, "installUpdatesOnBoot", true,
		"packages", []string{}, "customSecurityGroupIds", []string{"sg-" + r.str(hexLower, 17)})
	return call{req: req, resp: o("layerId", id)}
}

func updateLayer(x *ctx) call {
	r := x.g.r
	s := x.stack()
	req := o("layerId", pick(r, s.layers), "customRecipes", x.recipes(), "enableAutoHealing", r.chance(0.8),
		"attributes", opt(r.chance(0.3), x.layerAttributes(pick(r, layerTypes))))
	return call{req: req}
}

func createInstance(x *ctx) call {
	r := x.g.r
	s := x.stack()
	id := r.uuid()
	s.instances = append(s.instances, id)
	req := o("stackId", s.id, "layerIds", []string{pick(r, s.layers)},
		"instanceType", pick(r, []string{"t3.small", "t3.medium", "m5.large", "c5.xlarge"}),
		"os", pick(r, []string{"Amazon Linux 2", "Ubuntu 18.04 LTS"}), "sshKeyName", x.a.alias+"-ops",
		"availabilityZone", x.region+pick(r, []string{"a", "b", "c"}), "subnetId", "subnet-"+r.str(hexLower, 17),
		"architecture", "x86_64", "rootDeviceType", "ebs", "installUpdatesOnBoot", true,
		"autoScalingType", opt(r.chance(0.3), pick(r, []string{"load", "timer"})),
		"hostname", opt(r.chance(0.5), pick(r, []string{"web", "app", "worker"})+fmt.Sprint(1+r.IntN(20))))
	return call{req: req, resp: o("instanceId", id)}
}

func (x *ctx) appSource() obj {
	r := x.g.r
	return o("type", "git", "url", fmt.Sprintf("git@github.com:%s/%s.git", x.a.alias, pick(r, []string{"storefront", "api", "admin"})),
		"revision", pick(r, []string{"main", "release-2024.05", "v1.9.0"}), "sshKey", redacted)
}

func (x *ctx) environment() []obj {
	r := x.g.r
	return []obj{
		o("key", "NODE_ENV", "value", "production", "secure", false),
		o("key", "DATABASE_URL", "value", redacted, "secure", true),
		o("key", "LOG_LEVEL", "value", pick(r, []string{"info", "warn", "debug"}), "secure", false),
	}
}

func createApp(x *ctx) call {
	r := x.g.r
	s := x.stack()
	id := r.uuid()
	s.apps = append(s.apps, id)
	name := pick(r, []string{"storefront", "api", "admin", "docs"})
	domain := name + "." + x.a.alias + ".example.com"
	req := o("stackId", s.id, "shortname", name, "name", strings.ToUpper(name[:1])+name[1:],
		"type", pick(r, []string{"nodejs", "php", "java", "rails", "static", "other"}),
		"appSource", x.appSource(), "domains", []string{domain}, "enableSsl", true,
		"sslConfiguration", o("certificate", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE"+r.str(mixedAlnum, 96)+"\n-----END CERTIFICATE-----",
			"privateKey", x.secret("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"+r.str(mixedAlnum, 96)+"\n-----END PRIVATE KEY-----")),
		"environment", x.environment(), "attributes", o("DocumentRoot", "public", "AutoBundleOnDeploy", "true"))
	return call{req: req, resp: o("appId", id)}
}

func updateApp(x *ctx) call {
	return call{req: o("appId", x.g.r.uuid(), "appSource", x.appSource(), "environment", x.environment())}
}

func createDeployment(x *ctx) call {
	r := x.g.r
	s := x.stack()
	cmd := pick(r, []string{"deploy", "deploy", "execute_recipes", "update_custom_cookbooks", "configure", "setup"})
	var args any = omit{}
	if cmd == "execute_recipes" {
		args = o("recipes", []string{pick(r, []string{"acme::rotate_logs", "app::migrate", "base::patch"})})
	}
	req := o("stackId", s.id, "appId", opt(cmd == "deploy", r.uuid()), "instanceIds", []string{pick(r, s.instances)},
		"command", o("name", cmd, "args", args), "comment", opt(r.chance(0.4), "release "+r.str(hexLower, 7)), "customJson", redacted)
	return call{req: req, resp: o("deploymentId", r.uuid())}
}

func rdsInstance(register bool) func(x *ctx) call {
	return func(x *ctx) call {
		r := x.g.r
		arn := fmt.Sprintf("arn:aws:rds:%s:%s:db:%s-db", x.region, x.a.id, pick(r, []string{"orders", "users", "wp"}))
		// RDS credentials are the secret OpsWorks users most often pass in
		// plain text; a larger share keeps the corpus's redaction cases varied.
		pw := redacted
		if r.chance(0.2) {
			pw = r.str(mixedAlnum, 16)
		}
		return call{req: o("stackId", opt(register, x.stack().id), "rdsDbInstanceArn", arn, "dbUser", "admin", "dbPassword", pw)}
	}
}

func grantAccess(x *ctx) call {
	r := x.g.r
	id := pick(r, x.stack().instances)
	return call{req: o("instanceId", id, "validForInMinutes", 60),
		resp: o("temporaryCredential", o("username", "opsworks-temp-"+r.str(lowerAlnum, 6), "password", redacted, "validForInMinutes", 60, "instanceId", id))}
}

func loadBasedScaling(x *ctx) call {
	r := x.g.r
	scale := func(up bool) obj {
		cpu := 80.0
		if !up {
			cpu = 20.0
		}
		return o("instanceCount", 1+r.IntN(3), "thresholdsWaitTime", 5, "ignoreMetricsTime", 10, "cpuThreshold", cpu, "memoryThreshold", -1.0, "loadThreshold", -1.0)
	}
	return call{req: o("layerId", pick(r, x.stack().layers), "enable", true, "upScaling", scale(true), "downScaling", scale(false))}
}
