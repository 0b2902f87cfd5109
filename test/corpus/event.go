package corpus

import (
	"fmt"
	"strings"
	"time"
)

// op is one API operation the generator can produce.
type op struct {
	source   string // eventSource
	name     string // eventName
	weight   int    // relative frequency within its group
	readOnly bool
	services []string // services that make this call themselves (AWSService callers)
	xacct    bool     // often called from another account (AWSAccount callers)
	global   bool     // logged in us-east-1 whatever the caller's region (IAM, STS global endpoint)
	kinds    []idKind // if set, the only caller kinds (e.g. AssumeRoleWithWebIdentity)
	build    func(x *ctx) call
}

// ctx is what an op's builder sees.
type ctx struct {
	g      *generator
	t      time.Time
	a      *account
	region string
	c      caller
}

// call is the operation-specific part of an event.
type call struct {
	req, resp any // nil encodes as null, as in CloudTrail
	errCode   string
	errMsg    string
	extra     obj   // additionalEventData
	resources []obj // resources
	eventType string
}

// Relative frequency of caller kinds, indexed by idKind. AWSService and
// AWSAccount only apply to ops that list services / xacct.
var (
	kindWeightsOpsWorks = [numIDKinds]int{idRoot: 1, idIAMUser: 14, idAssumedRole: 62, idFederatedUser: 3, idAWSService: 4, idIdentityCenterUser: 2, idWebIdentity: 8}
	kindWeightsOther    = [numIDKinds]int{idRoot: 2, idIAMUser: 14, idAssumedRole: 48, idFederatedUser: 3, idAWSService: 14, idAWSAccount: 5, idIdentityCenterUser: 3, idWebIdentity: 8}
)

func (g *generator) event(t time.Time, opsworks bool) event {
	a := pick(g.r, g.w.accounts)
	region := g.region()
	var p *op
	weights := &kindWeightsOther
	if opsworks {
		p, weights = g.opsworksOp(), &kindWeightsOpsWorks
	} else {
		p = g.otherOp()
	}
	if p.global && g.hasRegion("us-east-1") {
		region = "us-east-1"
	}
	x := &ctx{g: g, t: t, a: a, region: region}
	x.c = g.caller(p, weights, a, t)
	cl := p.build(x)
	body := appendJSON(make([]byte, 0, 2048), g.envelope(x, p, cl))
	return event{account: a.id, region: region, time: t, body: body, opsworks: opsworks}
}

// region favours the first region, as most accounts have a home region.
func (g *generator) region() string {
	rs := g.o.Regions
	if len(rs) == 1 || g.r.chance(0.4) {
		return rs[0]
	}
	return pick(g.r, rs)
}

func (g *generator) hasRegion(r string) bool {
	for _, x := range g.o.Regions {
		if x == r {
			return true
		}
	}
	return false
}

// caller picks who makes the call, honouring the op's constraints.
func (g *generator) caller(p *op, weights *[numIDKinds]int, a *account, t time.Time) caller {
	if len(p.kinds) > 0 {
		return g.identity(pick(g.r, p.kinds), a, t, "")
	}
	w := *weights
	if len(p.services) == 0 {
		w[idAWSService] = 0
	}
	if !p.xacct {
		w[idAWSAccount] = 0
	}
	kind := idKind(g.r.weighted(w[:]))
	svc := ""
	if len(p.services) > 0 && (kind == idAWSService || kind == idAWSAccount) {
		svc = pick(g.r, p.services)
	}
	if kind == idAWSAccount && g.r.chance(0.5) {
		svc = "" // direct cross-account API call, not through a service
	}
	return g.identity(kind, a, t, svc)
}

var eventVersions = []string{"1.08", "1.09", "1.10", "1.11"}

// envelope assembles the event with CloudTrail's field order.
func (g *generator) envelope(x *ctx, p *op, cl call) obj {
	r := g.r
	c := &x.c
	svc := strings.TrimSuffix(p.source, ".amazonaws.com")
	if cl.errCode == "" && c.kind != idAWSService && r.chance(0.02) {
		cl.errCode, cl.errMsg = accessDenied(x, p)
	}
	if cl.eventType == "" {
		cl.eventType = "AwsApiCall"
	}
	shared := c.kind == idAWSService || c.kind == idAWSAccount
	return o(
		"eventVersion", eventVersions[r.weighted([]int{20, 40, 25, 15})],
		"userIdentity", c.ui,
		"eventTime", ctTime(x.t),
		"eventSource", p.source,
		"eventName", p.name,
		"awsRegion", x.region,
		"sourceIPAddress", c.ip,
		"userAgent", agentFor(c.agent, svc, kebab(p.name)),
		"errorCode", opt(cl.errCode != "", cl.errCode),
		"errorMessage", opt(cl.errMsg != "", cl.errMsg),
		"requestParameters", cl.req,
		"responseElements", respOrNull(cl),
		"additionalEventData", opt(cl.extra != nil, cl.extra),
		"requestID", r.uuid(),
		"eventID", r.uuid(),
		"readOnly", p.readOnly,
		"resources", opt(len(cl.resources) > 0, cl.resources),
		"eventType", cl.eventType,
		"managementEvent", true,
		"recipientAccountId", x.a.id,
		"sharedEventID", opt(shared, r.uuid()),
		"vpcEndpointId", opt(c.kind == idAssumedRole && r.chance(0.04), "vpce-0"+r.str(hexLower, 16)),
		"eventCategory", "Management",
		"tlsDetails", opt(c.kind != idAWSService, g.tls(svc, x.region, p.global)),
		"sessionCredentialFromConsole", opt(c.console, "true"),
	)
}

// respOrNull drops the response of failed calls, as CloudTrail does.
func respOrNull(cl call) any {
	if cl.errCode != "" {
		return nil
	}
	return cl.resp
}

func (g *generator) tls(svc, region string, global bool) obj {
	host := svc + "." + region + ".amazonaws.com"
	if global {
		host = svc + ".amazonaws.com"
	}
	if g.r.chance(0.8) {
		return o("tlsVersion", "TLSv1.3", "cipherSuite", "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader", host)
	}
	return o("tlsVersion", "TLSv1.2", "cipherSuite", "ECDHE-RSA-AES128-GCM-SHA256", "clientProvidedHostHeader", host)
}

// accessDenied turns a call into the failure CloudTrail logs when the caller
// lacks permission: no response, an error code and message naming the ARN.
func accessDenied(x *ctx, p *op) (code, msg string) {
	arn := "arn:aws:iam::" + x.a.id + ":root"
	for _, f := range x.c.ui {
		if f.k == "arn" {
			arn = f.v.(string)
		}
	}
	svc := strings.TrimSuffix(p.source, ".amazonaws.com")
	code = "AccessDenied"
	if strings.HasPrefix(svc, "opsworks") || svc == "lambda" || svc == "kms" {
		code = "AccessDeniedException"
	}
	return code, fmt.Sprintf("User: %s is not authorized to perform: %s:%s because no identity-based policy allows the %s:%s action", arn, svc, p.name, svc, p.name)
}

// kebab turns CreateLayer into create-layer for CLI user agents.
func kebab(s string) string {
	var b strings.Builder
	for i, c := range s {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func pickOp(r rng, ops []op) *op {
	w := make([]int, len(ops))
	for i := range ops {
		w[i] = ops[i].weight
	}
	return &ops[r.weighted(w)]
}
