package corpus

import (
	"fmt"
	"strings"
)

// The rest of a trail: the calls that dominate real CloudTrail volume, from
// about twenty services. Their shapes follow each API's CloudTrail records
// closely enough that size and nesting are realistic; the OpsWorks filter
// drops them, so only their cost of being looked at matters.
var otherOps = []op{
	{source: "ec2.amazonaws.com", name: "DescribeInstances", weight: 40, readOnly: true, services: []string{"autoscaling.amazonaws.com", "ssm.amazonaws.com"}, build: ec2DescribeInstances},
	{source: "ec2.amazonaws.com", name: "DescribeSecurityGroups", weight: 12, readOnly: true, build: ec2DescribeSGs},
	{source: "ec2.amazonaws.com", name: "RunInstances", weight: 3, build: ec2RunInstances},
	{source: "ec2.amazonaws.com", name: "TerminateInstances", weight: 2, build: ec2Terminate},
	{source: "ec2.amazonaws.com", name: "CreateTags", weight: 5, build: ec2CreateTags},
	{source: "ec2.amazonaws.com", name: "AuthorizeSecurityGroupIngress", weight: 1, build: ec2Authorize},
	{source: "s3.amazonaws.com", name: "ListBuckets", weight: 6, readOnly: true, global: true, build: s3ListBuckets},
	{source: "s3.amazonaws.com", name: "GetBucketAcl", weight: 12, readOnly: true, services: []string{"cloudtrail.amazonaws.com", "config.amazonaws.com"}, xacct: true, build: s3Bucket("acl")},
	{source: "s3.amazonaws.com", name: "GetBucketLocation", weight: 8, readOnly: true, xacct: true, build: s3Bucket("location")},
	{source: "s3.amazonaws.com", name: "PutBucketPolicy", weight: 1, build: s3PutPolicy},
	{source: "iam.amazonaws.com", name: "GetRole", weight: 8, readOnly: true, global: true, build: iamRole},
	{source: "iam.amazonaws.com", name: "ListRoles", weight: 4, readOnly: true, global: true, build: iamList},
	{source: "iam.amazonaws.com", name: "CreateAccessKey", weight: 1, global: true, build: iamCreateKey},
	{source: "iam.amazonaws.com", name: "AttachRolePolicy", weight: 1, global: true, build: iamAttach},
	{source: "sts.amazonaws.com", name: "AssumeRole", weight: 40, readOnly: true, services: []string{"lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com", "opsworks.amazonaws.com", "opsworks-cm.amazonaws.com"}, xacct: true, build: stsAssumeRole},
	{source: "sts.amazonaws.com", name: "GetCallerIdentity", weight: 10, readOnly: true, build: noParams},
	{source: "sts.amazonaws.com", name: "AssumeRoleWithWebIdentity", weight: 6, readOnly: true, kinds: []idKind{idWebIdentityUser}, build: stsWebIdentity},
	{source: "kms.amazonaws.com", name: "Decrypt", weight: 35, readOnly: true, services: []string{"secretsmanager.amazonaws.com", "s3.amazonaws.com", "lambda.amazonaws.com", "ssm.amazonaws.com"}, xacct: true, build: kmsDecrypt},
	{source: "kms.amazonaws.com", name: "GenerateDataKey", weight: 20, readOnly: true, services: []string{"s3.amazonaws.com", "logs.amazonaws.com", "sqs.amazonaws.com"}, xacct: true, build: kmsDataKey},
	{source: "lambda.amazonaws.com", name: "GetFunction20150331v2", weight: 5, readOnly: true, build: lambdaGet},
	{source: "lambda.amazonaws.com", name: "UpdateFunctionCode20150331v2", weight: 2, build: lambdaUpdate},
	{source: "logs.amazonaws.com", name: "CreateLogStream", weight: 15, services: []string{"lambda.amazonaws.com", "vpc-flow-logs.amazonaws.com"}, build: logsCreateStream},
	{source: "logs.amazonaws.com", name: "DescribeLogGroups", weight: 6, readOnly: true, build: logsDescribe},
	{source: "cloudtrail.amazonaws.com", name: "LookupEvents", weight: 4, readOnly: true, build: ctLookup},
	{source: "cloudformation.amazonaws.com", name: "DescribeStacks", weight: 6, readOnly: true, build: cfnDescribe},
	{source: "monitoring.amazonaws.com", name: "DescribeAlarms", weight: 8, readOnly: true, build: cwAlarms},
	{source: "monitoring.amazonaws.com", name: "PutMetricAlarm", weight: 1, build: cwPutAlarm},
	{source: "ssm.amazonaws.com", name: "UpdateInstanceInformation", weight: 20, build: ssmUpdateInfo},
	{source: "ssm.amazonaws.com", name: "GetParameter", weight: 10, readOnly: true, build: ssmGetParameter},
	{source: "secretsmanager.amazonaws.com", name: "GetSecretValue", weight: 8, readOnly: true, services: []string{"lambda.amazonaws.com"}, build: smGetSecret},
	{source: "rds.amazonaws.com", name: "DescribeDBInstances", weight: 5, readOnly: true, build: rdsDescribe},
	{source: "dynamodb.amazonaws.com", name: "DescribeTable", weight: 6, readOnly: true, build: ddbDescribe},
	{source: "autoscaling.amazonaws.com", name: "DescribeAutoScalingGroups", weight: 5, readOnly: true, build: asgDescribe},
	{source: "elasticloadbalancing.amazonaws.com", name: "DescribeTargetHealth", weight: 6, readOnly: true, build: elbHealth},
	{source: "ecr.amazonaws.com", name: "GetAuthorizationToken", weight: 6, readOnly: true, build: ecrToken},
	{source: "sqs.amazonaws.com", name: "ListQueues", weight: 3, readOnly: true, build: sqsList},
	{source: "sns.amazonaws.com", name: "ListSubscriptionsByTopic", weight: 2, readOnly: true, build: snsList},
	{source: "config.amazonaws.com", name: "PutEvaluations", weight: 6, services: []string{"config.amazonaws.com"}, build: configPut},
	{source: "signin.amazonaws.com", name: "ConsoleLogin", weight: 2, global: true, kinds: []idKind{idIAMUser, idRoot, idAssumedRole}, build: consoleLogin},
	{source: "signin.amazonaws.com", name: "UserAuthentication", weight: 1, global: true, kinds: []idKind{idIdentityCenterUser}, build: userAuthentication},
	{source: "route53.amazonaws.com", name: "ListHostedZones", weight: 2, readOnly: true, global: true, build: noParams},
	{source: "events.amazonaws.com", name: "PutRule", weight: 1, build: eventsPutRule},
}

func (g *generator) otherOp() *op { return pickOp(g.r, otherOps) }

// opsworksOp splits OpsWorks traffic between Stacks and the two CM engines.
func (g *generator) opsworksOp() *op {
	if g.r.chance(0.6) {
		return pickOp(g.r, stacksOps)
	}
	return pickOp(g.r, cmOps)
}

func (x *ctx) instanceID() string { return "i-0" + x.g.r.str(hexLower, 16) }

func ec2DescribeInstances(x *ctx) call {
	r := x.g.r
	if r.chance(0.5) {
		return call{req: o("instancesSet", o("items", []obj{o("instanceId", x.instanceID())}), "filterSet", o())}
	}
	return call{req: o("maxResults", 1000, "instancesSet", o(), "filterSet", o("items", []obj{
		o("name", "tag:aws:autoscaling:groupName", "valueSet", o("items", []obj{o("value", x.a.alias+"-web-asg")})),
		o("name", "instance-state-name", "valueSet", o("items", []obj{o("value", "running"), o("value", "pending")}))}))}
}

func ec2DescribeSGs(x *ctx) call {
	return call{req: o("securityGroupSet", o(), "securityGroupIdSet", o("items", []obj{o("groupId", "sg-"+x.g.r.str(hexLower, 17))}), "filterSet", o())}
}

func ec2RunInstances(x *ctx) call {
	r := x.g.r
	id := x.instanceID()
	req := o("instancesSet", o("items", []obj{o("imageId", "ami-0"+r.str(hexLower, 16), "minCount", 1, "maxCount", 1, "keyName", x.a.alias+"-ops")}),
		"instanceType", pick(r, []string{"t3.micro", "m5.large", "c6i.xlarge"}), "blockDeviceMapping", o(), "monitoring", o("enabled", false),
		"disableApiTermination", false, "clientToken", r.uuid(),
		"tagSpecificationSet", o("items", []obj{o("resourceType", "instance", "tags", []obj{o("key", "Name", "value", "web"), o("key", "team", "value", "platform")})}))
	resp := o("requestId", r.uuid(), "reservationId", "r-0"+r.str(hexLower, 16), "ownerId", x.a.id, "groupSet", o(),
		"instancesSet", o("items", []obj{o("instanceId", id, "imageId", "ami-0"+r.str(hexLower, 16), "instanceState", o("code", 0, "name", "pending"),
			"privateDnsName", fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", r.IntN(256), r.IntN(256)), "amiLaunchIndex", 0, "productCodes", o(),
			"instanceType", "m5.large", "launchTime", 1717000000000+r.Int64N(10000000), "placement", o("availabilityZone", x.region+"a", "tenancy", "default"),
			"monitoring", o("state", "disabled"), "subnetId", "subnet-"+r.str(hexLower, 17), "vpcId", "vpc-"+r.str(hexLower, 17),
			"privateIpAddress", fmt.Sprintf("10.0.%d.%d", r.IntN(256), r.IntN(256)), "architecture", "x86_64", "rootDeviceType", "ebs",
			"rootDeviceName", "/dev/xvda", "hypervisor", "xen", "ebsOptimized", false, "enaSupport", true)}))
	return call{req: req, resp: resp}
}

func ec2Terminate(x *ctx) call {
	id := x.instanceID()
	return call{req: o("instancesSet", o("items", []obj{o("instanceId", id)})),
		resp: o("requestId", x.g.r.uuid(), "instancesSet", o("items", []obj{o("instanceId", id,
			"currentState", o("code", 32, "name", "shutting-down"), "previousState", o("code", 16, "name", "running"))}))}
}

func ec2CreateTags(x *ctx) call {
	return call{req: o("resourcesSet", o("items", []obj{o("resourceId", x.instanceID())}),
		"tagSet", o("items", []obj{o("key", "Backup", "value", "daily")})), resp: o("requestId", x.g.r.uuid(), "_return", true)}
}

func ec2Authorize(x *ctx) call {
	r := x.g.r
	return call{req: o("groupId", "sg-"+r.str(hexLower, 17), "ipPermissions", o("items", []obj{o("ipProtocol", "tcp", "fromPort", 443, "toPort", 443,
		"groups", o(), "ipRanges", o("items", []obj{o("cidrIp", "0.0.0.0/0")}), "ipv6Ranges", o(), "prefixListIds", o())})),
		resp: o("requestId", r.uuid(), "_return", true, "securityGroupRuleSet", o("items", []obj{o("groupOwnerId", x.a.id, "isEgress", false,
			"ipProtocol", "tcp", "fromPort", 443, "toPort", 443, "cidrIpv4", "0.0.0.0/0", "securityGroupRuleId", "sgr-0"+r.str(hexLower, 16))}))}
}

func (x *ctx) bucket() string {
	return x.a.alias + "-" + pick(x.g.r, []string{"cloudtrail", "assets", "backups", "logs", "artifacts"}) + "-" + x.a.id
}

func s3ListBuckets(x *ctx) call {
	return call{req: o("Host", "s3.amazonaws.com"), extra: s3Extra(x)}
}

func s3Bucket(sub string) func(x *ctx) call {
	return func(x *ctx) call {
		b := x.bucket()
		return call{req: o("bucketName", b, "Host", b+".s3."+x.region+".amazonaws.com", sub, ""),
			extra: s3Extra(x), resources: []obj{o("accountId", x.a.id, "type", "AWS::S3::Bucket", "ARN", "arn:aws:s3:::"+b)}}
	}
}

func s3Extra(x *ctx) obj {
	r := x.g.r
	return o("SignatureVersion", "SigV4", "CipherSuite", "TLS_AES_128_GCM_SHA256", "bytesTransferredIn", 0,
		"AuthenticationMethod", "AuthHeader", "x-amz-id-2", r.str(mixedAlnum, 76)+"=", "bytesTransferredOut", 100+r.IntN(900))
}

func s3PutPolicy(x *ctx) call {
	b := x.bucket()
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"AWSCloudTrailWrite","Effect":"Allow","Principal":{"Service":"cloudtrail.amazonaws.com"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::%s/AWSLogs/%s/*","Condition":{"StringEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}]}`, b, x.a.id)
	return call{req: o("bucketPolicy", policy, "bucketName", b, "Host", b+".s3.amazonaws.com", "policy", ""), extra: s3Extra(x),
		resources: []obj{o("accountId", x.a.id, "type", "AWS::S3::Bucket", "ARN", "arn:aws:s3:::"+b)}}
}

func iamRole(x *ctx) call { return call{req: o("roleName", pick(x.g.r, x.a.roles).name)} }

func iamList(x *ctx) call {
	return call{req: o("maxItems", 100, "pathPrefix", opt(x.g.r.chance(0.3), "/service-role/"))}
}

func iamCreateKey(x *ctx) call {
	r := x.g.r
	u := pick(r, x.a.users)
	return call{req: o("userName", u.name), resp: o("accessKey", o("userName", u.name, "accessKeyId", r.awsID("AKIA"),
		"status", "Active", "createDate", consoleTime(x.t)))}
}

func iamAttach(x *ctx) call {
	return call{req: o("roleName", pick(x.g.r, x.a.roles).name, "policyArn", "arn:aws:iam::aws:policy/"+pick(x.g.r, []string{"ReadOnlyAccess", "AWSOpsWorksCMServiceRole", "AmazonSSMManagedInstanceCore"}))}
}

// stsAssumeRole returns temporary credentials; CloudTrail shows the access
// key and (only partially, or not at all) the session token.
func stsAssumeRole(x *ctx) call {
	r := x.g.r
	p := pick(r, x.a.roles)
	session := pick(r, []string{"botocore-session-" + fmt.Sprint(1700000000+r.IntN(30000000)), "terraform", p.email, "OpsWorksCM"})
	return call{req: o("roleArn", roleArn(x.a, p), "roleSessionName", session, "durationSeconds", 3600),
		resp: o("credentials", o("accessKeyId", r.awsID("ASIA"), "sessionToken", "IQoJb3JpZ2luX2VjE"+r.str(mixedAlnum, 180), "expiration", consoleTime(x.t.Add(3600e9))),
			"assumedRoleUser", o("assumedRoleId", p.id+":"+session, "arn", fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", x.a.id, p.name, session))),
		resources: []obj{o("accountId", x.a.id, "type", "AWS::IAM::Role", "ARN", roleArn(x.a, p))}}
}

func stsWebIdentity(x *ctx) call {
	r := x.g.r
	role := "github-actions-deploy"
	return call{req: o("roleArn", "arn:aws:iam::"+x.a.id+":role/ci/"+role, "roleSessionName", "GitHubActions", "durationSeconds", 3600),
		resp: o("credentials", o("accessKeyId", r.awsID("ASIA"), "sessionToken", "IQoJb3JpZ2luX2VjE"+r.str(mixedAlnum, 120), "expiration", consoleTime(x.t.Add(3600e9))),
			"subjectFromWebIdentityToken", "repo:"+x.a.alias+"/infra:ref:refs/heads/main", "audience", "sts.amazonaws.com",
			"provider", "arn:aws:iam::"+x.a.id+":oidc-provider/token.actions.githubusercontent.com"),
		extra: o("identityProviderConnectionVerificationMethod", "IAMTrustStore")}
}

func (x *ctx) keyArn() string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", x.region, x.a.id, x.g.r.uuid())
}

func kmsDecrypt(x *ctx) call {
	arn := x.keyArn()
	return call{req: o("encryptionAlgorithm", "SYMMETRIC_DEFAULT", "encryptionContext", o("aws:secretsmanager:arn", fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:prod/db-%s", x.region, x.a.id, x.g.r.str(mixedAlnum, 6)))),
		resources: []obj{o("accountId", x.a.id, "type", "AWS::KMS::Key", "ARN", arn)}}
}

func kmsDataKey(x *ctx) call {
	arn := x.keyArn()
	return call{req: o("keyId", arn, "encryptionContext", o("aws:s3:arn", "arn:aws:s3:::"+x.bucket()), "keySpec", "AES_256"),
		resources: []obj{o("accountId", x.a.id, "type", "AWS::KMS::Key", "ARN", arn)}}
}

func lambdaGet(x *ctx) call {
	return call{req: o("functionName", fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", x.region, x.a.id, pick(x.g.r, []string{"payments-webhook", "thumbnailer", "log-shipper"})))}
}

func lambdaUpdate(x *ctx) call {
	r := x.g.r
	fn := pick(r, []string{"payments-webhook", "thumbnailer", "log-shipper"})
	return call{req: o("functionName", fn, "publish", false, "dryRun", false, "s3Bucket", x.bucket(), "s3Key", fn+"/"+r.str(hexLower, 32)+".zip"),
		resp: o("functionName", fn, "functionArn", fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", x.region, x.a.id, fn), "runtime", "python3.12",
			"role", fmt.Sprintf("arn:aws:iam::%s:role/service-role/lambda-exec", x.a.id), "handler", "app.handler", "codeSize", 10000+r.IntN(90000),
			"timeout", 30, "memorySize", 256, "lastModified", x.t.Format("2006-01-02T15:04:05.000+0000"), "codeSha256", r.str(mixedAlnum, 43)+"=",
			"version", "$LATEST", "tracingConfig", o("mode", "PassThrough"), "revisionId", r.uuid(), "state", "Active", "lastUpdateStatus", "InProgress",
			"packageType", "Zip", "architectures", []string{"x86_64"}, "ephemeralStorage", o("size", 512))}
}

func logsCreateStream(x *ctx) call {
	r := x.g.r
	return call{req: o("logGroupName", "/aws/lambda/"+pick(r, []string{"payments-webhook", "thumbnailer", "log-shipper"}),
		"logStreamName", x.t.Format("2006/01/02")+"/[$LATEST]"+r.str(hexLower, 32))}
}

func logsDescribe(x *ctx) call {
	return call{req: o("logGroupNamePrefix", opt(x.g.r.chance(0.5), "/aws/opsworks"), "limit", 50)}
}

func ctLookup(x *ctx) call {
	return call{req: o("lookupAttributes", []obj{o("attributeKey", "EventSource", "attributeValue", pick(x.g.r, []string{srcStacks, srcCM, "iam.amazonaws.com"}))},
		"startTime", consoleTime(x.t.Add(-24*3600e9)), "endTime", consoleTime(x.t), "maxResults", 50)}
}

func cfnDescribe(x *ctx) call {
	return call{req: o("stackName", fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/%s", x.region, x.a.id, pick(x.g.r, []string{"network", "opsworks-cm-server", "app"}), x.g.r.uuid()))}
}

func cwAlarms(x *ctx) call {
	return call{req: o("alarmNamePrefix", opt(x.g.r.chance(0.5), x.a.alias), "maxRecords", 100)}
}

func cwPutAlarm(x *ctx) call {
	r := x.g.r
	return call{req: o("alarmName", x.a.alias+"-cpu-high", "metricName", "CPUUtilization", "namespace", "AWS/EC2", "statistic", "Average",
		"dimensions", []obj{o("name", "InstanceId", "value", x.instanceID())}, "period", 300, "evaluationPeriods", 2, "threshold", 80.0,
		"comparisonOperator", "GreaterThanThreshold", "alarmActions", []string{fmt.Sprintf("arn:aws:sns:%s:%s:ops-alerts", x.region, x.a.id)},
		"treatMissingData", pick(r, []string{"missing", "notBreaching"}))}
}

func ssmUpdateInfo(x *ctx) call {
	r := x.g.r
	// The SSM agent calls this every few minutes with the instance's role.
	x.c = x.g.serviceRole(x.a, x.t, "aws-opsworks-ec2-role", "", x.instanceID())
	x.c.ip, x.c.agent = r.publicIP(), "aws-sdk-go/1.55.5 (go1.22.7; linux; amd64) amazon-ssm-agent/3.3.987.0"
	return call{req: o("instanceId", x.instanceID(), "agentVersion", "3.3.987.0", "agentName", "amazon-ssm-agent", "platformType", "Linux",
		"platformName", "Amazon Linux", "platformVersion", "2", "iPAddress", fmt.Sprintf("10.0.%d.%d", r.IntN(256), r.IntN(256)),
		"computerName", fmt.Sprintf("ip-10-0-%d-%d.%s.compute.internal", r.IntN(256), r.IntN(256), x.region), "agentStatus", "Active", "availabilityZone", x.region+"b")}
}

func ssmGetParameter(x *ctx) call {
	return call{req: o("name", "/"+x.a.alias+"/"+pick(x.g.r, []string{"app/db_host", "app/feature_flags", "ami/latest"}), "withDecryption", x.g.r.chance(0.3))}
}

func smGetSecret(x *ctx) call {
	return call{req: o("secretId", fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:prod/db-%s", x.region, x.a.id, x.g.r.str(mixedAlnum, 6)))}
}

func rdsDescribe(x *ctx) call {
	return call{req: o("dBInstanceIdentifier", opt(x.g.r.chance(0.5), pick(x.g.r, []string{"orders-db", "users-db"})), "maxRecords", 100)}
}

func ddbDescribe(x *ctx) call {
	return call{req: o("tableName", pick(x.g.r, []string{"sessions", "orders", "feature-flags", "terraform-locks"}))}
}

func asgDescribe(x *ctx) call {
	return call{req: o("autoScalingGroupNames", []string{x.a.alias + "-web-asg"}, "maxRecords", 100)}
}

func elbHealth(x *ctx) call {
	return call{req: o("targetGroupArn", fmt.Sprintf("arn:aws:elasticloadbalancing:%s:%s:targetgroup/web/%s", x.region, x.a.id, x.g.r.str(hexLower, 16)))}
}

func ecrToken(x *ctx) call { return call{req: o("registryIds", []string{x.a.id})} }
func sqsList(x *ctx) call  { return call{req: o("queueNamePrefix", opt(x.g.r.chance(0.5), x.a.alias))} }

func snsList(x *ctx) call {
	return call{req: o("topicArn", fmt.Sprintf("arn:aws:sns:%s:%s:ops-alerts", x.region, x.a.id))}
}

func configPut(x *ctx) call {
	r := x.g.r
	return call{req: o("evaluations", []obj{o("complianceResourceType", "AWS::EC2::Instance", "complianceResourceId", x.instanceID(),
		"complianceType", pick(r, []string{"COMPLIANT", "NON_COMPLIANT"}), "orderingTimestamp", consoleTime(x.t))},
		"resultToken", r.str(mixedAlnum, 200), "testMode", false)}
}

func consoleLogin(x *ctx) call {
	ok := x.g.r.chance(0.9)
	resp := "Success"
	if !ok {
		resp = "Failure"
	}
	c := call{req: nil, resp: o("ConsoleLogin", resp), eventType: "AwsConsoleSignIn",
		extra: o("LoginTo", "https://console.aws.amazon.com/console/home?region="+x.region, "MobileVersion", "No", "MFAUsed", pick(x.g.r, []string{"Yes", "No"}))}
	if !ok {
		c.errMsg = "Failed authentication"
	}
	return c
}

func userAuthentication(x *ctx) call {
	return call{req: nil, eventType: "AwsServiceEvent",
		extra: o("AuthWorkflowID", x.g.r.uuid(), "UserName", pick(x.g.r, userNames)+"@example.com",
			"LoginTo", "https://"+strings.ReplaceAll(x.a.alias, "-", "")+".awsapps.com/start/", "CredentialType", "EXTERNAL_IDP")}
}

func eventsPutRule(x *ctx) call {
	return call{req: o("name", "opsworks-cm-events", "eventPattern", `{"source":["aws.opsworks-cm"],"detail-type":["OpsWorks CM Server State Change"]}`, "state", "ENABLED"),
		resp: o("ruleArn", fmt.Sprintf("arn:aws:events:%s:%s:rule/opsworks-cm-events", x.region, x.a.id))}
}
