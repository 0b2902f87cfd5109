package corpus

import (
	"fmt"
	"time"
)

// Kind of caller, as in userIdentity.type. WebIdentity is the common modern
// form of web identity federation: an AssumedRole whose sessionContext carries
// webIdFederationData (IRSA, GitHub Actions OIDC). WebIdentityUser is the
// older standalone type, seen on AssumeRoleWithWebIdentity itself.
type idKind int

const (
	idRoot idKind = iota
	idIAMUser
	idAssumedRole
	idFederatedUser
	idAWSService
	idAWSAccount
	idIdentityCenterUser
	idWebIdentity
	idWebIdentityUser
	numIDKinds
)

// IdentityTypes are the caller types every corpus of realistic size contains;
// "WebIdentityUser" stands for both web identity forms.
var IdentityTypes = []string{"Root", "IAMUser", "AssumedRole", "FederatedUser", "AWSService", "AWSAccount", "IdentityCenterUser", "WebIdentityUser"}

// caller is who made a call: the userIdentity object plus what goes with it
// elsewhere in the event (source address, user agent, console session).
type caller struct {
	kind    idKind
	ui      obj
	ip      string
	agent   string
	console bool
	service string // AWSService: the calling service's host name
}

// identity builds a caller of the given kind in account a at time t.
// service is the invoking service for AWSService/AWSAccount callers.
func (g *generator) identity(kind idKind, a *account, t time.Time, service string) caller {
	r := g.r
	switch kind {
	case idRoot:
		return caller{kind: kind, console: true, ip: r.publicIP(), agent: pick(r, browserAgents), ui: o(
			"type", "Root", "principalId", a.id, "arn", "arn:aws:iam::"+a.id+":root", "accountId", a.id,
			"accessKeyId", r.awsID("ASIA"), "sessionContext", o("attributes", g.sessionAttrs(t, true)))}
	case idIAMUser:
		return g.iamUser(a, t)
	case idFederatedUser:
		u := pick(r, a.users)
		return caller{kind: kind, ip: u.ip, agent: u.agent, ui: o(
			"type", "FederatedUser", "principalId", a.id+":"+u.name,
			"arn", fmt.Sprintf("arn:aws:sts::%s:federated-user/%s", a.id, u.name), "accountId", a.id,
			"accessKeyId", r.awsID("ASIA"), "sessionContext", o(
				"sessionIssuer", o("type", "IAMUser", "principalId", u.id, "arn", userArn(a, u), "accountId", a.id, "userName", u.name),
				"attributes", g.sessionAttrs(t, false)))}
	case idAWSService:
		return caller{kind: kind, ip: service, agent: service, service: service,
			ui: o("type", "AWSService", "invokedBy", service)}
	case idAWSAccount:
		other := g.otherAccount(a)
		return caller{kind: kind, ip: opt1(service != "", service, r.publicIP()), agent: opt1(service != "", service, pick(r, agents)),
			ui: o("type", "AWSAccount", "principalId", r.awsID("AROA")+":"+pick(r, []string{"cross-account-audit", "backup-vault", "log-shipper"}),
				"accountId", other, "invokedBy", opt(service != "", service))}
	case idIdentityCenterUser:
		return caller{kind: kind, ip: r.publicIP(), agent: pick(r, browserAgents), ui: o(
			"type", "IdentityCenterUser", "accountId", a.id,
			"onBehalfOf", o("userId", r.str(hexLower, 10)+"-"+r.uuid(), "identityStoreArn", fmt.Sprintf("arn:aws:identitystore::%s:identitystore/%s", a.id, a.idStore)),
			"credentialId", r.str(mixedAlnum, 40))}
	case idWebIdentity:
		return g.webIdentityRole(a, t)
	case idWebIdentityUser:
		sub := "repo:" + a.alias + "/infra:ref:refs/heads/main"
		prov := "arn:aws:iam::" + a.id + ":oidc-provider/token.actions.githubusercontent.com"
		return caller{kind: kind, ip: r.publicIP(), agent: "aws-sdk-nodejs/2.1550.0 linux/v20.11.0 configure-aws-credentials-for-github-actions promise", ui: o(
			"type", "WebIdentityUser", "principalId", prov+":sts.amazonaws.com:"+sub, "userName", sub, "identityProvider", prov)}
	}
	return g.assumedRole(a, t, service)
}

func opt1(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

var browserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
}

func userArn(a *account, u *principal) string {
	return fmt.Sprintf("arn:aws:iam::%s:user%s%s", a.id, u.path, u.name)
}

func roleArn(a *account, p *principal) string {
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", a.id, p.path, p.name)
}

// sessionAttrs is sessionContext.attributes: the session began up to 12 hours
// before the call.
func (g *generator) sessionAttrs(t time.Time, mfa bool) obj {
	created := t.Add(-time.Duration(g.r.IntN(12*3600)) * time.Second)
	return o("creationDate", ctTime(created), "mfaAuthenticated", fmt.Sprint(mfa))
}

func (g *generator) iamUser(a *account, t time.Time) caller {
	u := pick(g.r, a.users)
	ui := o("type", "IAMUser", "principalId", u.id, "arn", userArn(a, u), "accountId", a.id, "accessKeyId", u.accessKey, "userName", u.name)
	c := caller{kind: idIAMUser, ip: u.ip, agent: u.agent, ui: ui}
	if u.agent == "console.amazonaws.com" || u.agent == "AWS Internal" {
		// Console sessions use temporary keys and carry session attributes.
		c.console = true
		c.ui = o("type", "IAMUser", "principalId", u.id, "arn", userArn(a, u), "accountId", a.id,
			"accessKeyId", g.r.awsID("ASIA"), "userName", u.name, "sessionContext", o("attributes", g.sessionAttrs(t, g.r.chance(0.7))))
	}
	return c
}

// assumedRole is the most common caller. invokedBy is set when a service
// acted with the role on the customer's behalf (OpsWorks with its service
// role, Auto Scaling with its service-linked role).
func (g *generator) assumedRole(a *account, t time.Time, invokedBy string) caller {
	r := g.r
	p := pick(r, a.roles)
	session := g.sessionName(p)
	issuer := o("type", "Role", "principalId", p.id, "arn", roleArn(a, p), "accountId", a.id, "userName", p.name)
	ctx := o("sessionIssuer", issuer, "attributes", g.sessionAttrs(t, r.chance(0.3)),
		"ec2RoleDelivery", opt(p.name == "aws-opsworks-ec2-role", "2.0"),
		"sourceIdentity", opt(r.chance(0.05), p.email))
	ui := o("type", "AssumedRole", "principalId", p.id+":"+session,
		"arn", fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", a.id, p.name, session), "accountId", a.id,
		"accessKeyId", r.awsID("ASIA"), "sessionContext", ctx, "invokedBy", opt(invokedBy != "", invokedBy))
	c := caller{kind: idAssumedRole, ip: p.ip, agent: p.agent, ui: ui}
	if invokedBy != "" {
		c.ip, c.agent = invokedBy, invokedBy
	}
	c.console = p.agent == "console.amazonaws.com" || p.agent == "AWS Internal"
	return c
}

func (g *generator) sessionName(p *principal) string {
	r := g.r
	switch {
	case p.name == "aws-opsworks-ec2-role":
		return "i-0" + r.str(hexLower, 16)
	case p.name == "github-actions-deploy":
		return "GitHubActions"
	case len(p.name) > 14 && p.name[:14] == "AWSReservedSSO":
		return p.email
	case p.name == "lambda-exec":
		return "payments-webhook"
	}
	return pick(r, []string{p.email, "botocore-session-" + fmt.Sprint(1700000000+r.IntN(30000000)), "terraform-run-" + r.str(lowerAlnum, 8), "aws-go-sdk-" + fmt.Sprint(1700000000000+r.Int64N(30000000000))})
}

// webIdentityRole is a role session obtained with AssumeRoleWithWebIdentity:
// GitHub Actions OIDC or an EKS service account (IRSA).
func (g *generator) webIdentityRole(a *account, t time.Time) caller {
	r := g.r
	var p *principal
	for _, x := range a.roles {
		if x.name == "github-actions-deploy" || x.name == "eks-app-irsa" {
			if p == nil || r.chance(0.5) {
				p = x
			}
		}
	}
	var fed obj
	session := "GitHubActions"
	if p.name == "github-actions-deploy" {
		fed = o("federatedProvider", "arn:aws:iam::"+a.id+":oidc-provider/token.actions.githubusercontent.com",
			"attributes", o("token.actions.githubusercontent.com:aud", "sts.amazonaws.com",
				"token.actions.githubusercontent.com:sub", "repo:"+a.alias+"/infra:ref:refs/heads/main"))
	} else {
		session = "botocore-session-" + fmt.Sprint(1700000000+r.IntN(30000000))
		fed = o("federatedProvider", "arn:aws:iam::"+a.id+":oidc-provider/"+a.oidcHost,
			"attributes", o(a.oidcHost+":aud", "sts.amazonaws.com", a.oidcHost+":sub", "system:serviceaccount:apps:"+pick(r, []string{"billing", "ingest", "reports"})))
	}
	ui := o("type", "AssumedRole", "principalId", p.id+":"+session,
		"arn", fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", a.id, p.name, session), "accountId", a.id,
		"accessKeyId", r.awsID("ASIA"), "sessionContext", o(
			"sessionIssuer", o("type", "Role", "principalId", p.id, "arn", roleArn(a, p), "accountId", a.id, "userName", p.name),
			"webIdFederationData", fed,
			"attributes", g.sessionAttrs(t, false)))
	return caller{kind: idWebIdentity, ip: r.publicIP(), agent: pick(r, agents[2:5]), ui: ui}
}

// otherAccount is a caller's account for cross-account access.
func (g *generator) otherAccount(a *account) string {
	for _, x := range g.w.accounts {
		if x != a && g.r.chance(0.7) {
			return x.id
		}
	}
	return "9" + g.r.str("0123456789", 11)
}

// serviceRole is a service acting with the customer's service role (OpsWorks
// starting instances for time-based scaling, OpsWorks CM running backups):
// an AssumedRole session with invokedBy set.
func (g *generator) serviceRole(a *account, t time.Time, roleName, service, session string) caller {
	p := a.roles[0]
	for _, x := range a.roles {
		if x.name == roleName {
			p = x
		}
	}
	ui := o("type", "AssumedRole", "principalId", p.id+":"+session,
		"arn", fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", a.id, p.name, session), "accountId", a.id,
		"accessKeyId", g.r.awsID("ASIA"), "sessionContext", o(
			"sessionIssuer", o("type", "Role", "principalId", p.id, "arn", roleArn(a, p), "accountId", a.id, "userName", p.name),
			"attributes", g.sessionAttrs(t, false)),
		"invokedBy", opt(service != "", service))
	return caller{kind: idAssumedRole, ip: service, agent: service, ui: ui}
}
