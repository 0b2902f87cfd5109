package corpus

import (
	"fmt"
	"strings"
	"time"
)

// world is the state the generator keeps so that events refer to each other
// the way real activity does: OpsWorks CM servers are created, described,
// backed up and deleted by name (which is what exercises the filter's
// serverName memory), stacks accumulate layers, instances and apps.
type world struct {
	accounts []*account
	regions  []string
	servers  map[string][]*cmServer // key: account|region
	stacks   map[string][]*stack    // key: account|region
}

type account struct {
	id       string
	alias    string
	users    []*principal
	roles    []*principal
	idStore  string // Identity Center store id (d-xxxxxxxxxx)
	oidcHost string // EKS OIDC issuer host for web identity roles
}

// principal is an IAM user or role with stable IDs, so the same caller shows
// the same principalId and access key across events.
type principal struct {
	name      string
	path      string
	id        string // AIDA… or AROA…
	accessKey string // AKIA… for users
	ip        string
	agent     string
	email     string // for SSO/console sessions
}

type cmServer struct {
	name     string
	engine   string // as the API reports it: ChefAutomate, Chef, Puppet
	variant  string // chef_automate or puppet_enterprise
	id       string
	created  time.Time
	deleted  bool
	nodes    []string
	backups  []string
	version  string
	instType string
}

type stack struct {
	id        string
	name      string
	layers    []string
	instances []string
	apps      []string
	roleArn   string
	profile   string
}

var (
	userNames = []string{"alice", "bob", "carol", "dmitri", "erin", "farah", "deploy-bot", "jenkins", "ci-runner", "terraform"}
	roleNames = []struct{ name, path string }{
		{"Admin", "/"},
		{"OpsWorksAdmin", "/"},
		{"DevOpsEngineer", "/teams/"},
		{"ReadOnly", "/"},
		{"AWSReservedSSO_AdministratorAccess_5f2e9c1a7b3d4e60", "/aws-reserved/sso.amazonaws.com/"},
		{"AWSReservedSSO_PowerUserAccess_0c4d7e2a9f1b3c58", "/aws-reserved/sso.amazonaws.com/"},
		{"github-actions-deploy", "/ci/"},
		{"aws-opsworks-service-role", "/service-role/"},
		{"aws-opsworks-cm-service-role", "/service-role/"},
		{"aws-opsworks-ec2-role", "/"},
		{"eks-app-irsa", "/"},
		{"lambda-exec", "/service-role/"},
	}
	agents = []string{
		"aws-cli/2.15.30 Python/3.11.8 Linux/5.10.210-201.852.amzn2.x86_64 exe/x86_64.amzn.2 prompt/off command/%s",
		"aws-cli/2.17.60 md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#%s",
		"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.15.0-1057-aws md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
		"aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/%s#1.20.1",
		"APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/%s#1.20.1",
		"aws-sdk-ruby3/3.191.3 ua/2.0 api/%s#1.60.0 os/linux md/x86_64 lang/ruby#3.2.2 md/3.2.2 cfg/retry-mode#legacy",
		"console.amazonaws.com",
		"AWS Internal",
	}
	defaultRegions  = []string{"us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}
	defaultAccounts = []string{"111122223333", "444455556666", "777788889999"}
)

func newWorld(r rng, accounts, regions []string, start time.Time) *world {
	w := &world{regions: regions, servers: map[string][]*cmServer{}, stacks: map[string][]*stack{}}
	for _, id := range accounts {
		w.accounts = append(w.accounts, newAccount(r, id))
	}
	// Servers and stacks that existed before the window: events about them
	// arrive before (or without) any event naming their engine.
	for _, a := range w.accounts {
		for _, reg := range regions {
			key := a.id + "|" + reg
			for i := r.IntN(3); i > 0; i-- {
				w.servers[key] = append(w.servers[key], newServer(r, start.Add(-time.Duration(1+r.IntN(400))*24*time.Hour)))
			}
			for i := 1 + r.IntN(2); i > 0; i-- {
				w.stacks[key] = append(w.stacks[key], newStack(r, a))
			}
		}
	}
	return w
}

func newAccount(r rng, id string) *account {
	a := &account{id: id, alias: pick(r, []string{"acme", "globex", "initech", "umbrella", "hooli"}) + "-" + pick(r, []string{"prod", "staging", "dev", "shared"})}
	a.idStore = "d-" + r.str("0123456789", 10)
	a.oidcHost = "oidc.eks." + defaultRegions[0] + ".amazonaws.com/id/" + r.str(upperAlnum, 32)
	for _, n := range userNames {
		a.users = append(a.users, &principal{name: n, path: "/", id: r.awsID("AIDA"), accessKey: r.awsID("AKIA"),
			ip: r.publicIP(), agent: pick(r, agents), email: n + "@example.com"})
	}
	for _, rn := range roleNames {
		a.roles = append(a.roles, &principal{name: rn.name, path: rn.path, id: r.awsID("AROA"), ip: r.publicIP(), agent: pick(r, agents),
			email: pick(r, userNames) + "@example.com"})
	}
	return a
}

func newServer(r rng, created time.Time) *cmServer {
	s := &cmServer{id: r.uuid(), created: created, instType: pick(r, []string{"m5.large", "r5.xlarge", "m5.2xlarge", "t3.medium"})}
	if r.chance(0.55) {
		s.variant, s.engine, s.version = "chef_automate", pick(r, []string{"ChefAutomate", "ChefAutomate", "Chef"}), "2"
		s.name = pick(r, []string{"chef-prod", "chef-automate", "opschef", "chef-infra", "cfgmgmt-chef"}) + "-" + r.str(lowerAlnum, 4)
	} else {
		s.variant, s.engine, s.version = "puppet_enterprise", "Puppet", pick(r, []string{"2019", "2019.8.10"})
		s.name = pick(r, []string{"puppet-master", "pe-prod", "puppet-ent", "opspuppet"}) + "-" + r.str(lowerAlnum, 4)
	}
	return s
}

func newStack(r rng, a *account) *stack {
	s := &stack{id: r.uuid(), name: pick(r, []string{"web", "api", "billing", "legacy-php", "rails-app", "batch", "intranet"}) + "-" + pick(r, []string{"prod", "staging", "qa"}),
		roleArn: fmt.Sprintf("arn:aws:iam::%s:role/service-role/aws-opsworks-service-role", a.id),
		profile: fmt.Sprintf("arn:aws:iam::%s:instance-profile/aws-opsworks-ec2-role", a.id)}
	for i := 1 + r.IntN(3); i > 0; i-- {
		s.layers = append(s.layers, r.uuid())
	}
	for i := 1 + r.IntN(5); i > 0; i-- {
		s.instances = append(s.instances, r.uuid())
	}
	for i := r.IntN(3); i > 0; i-- {
		s.apps = append(s.apps, r.uuid())
	}
	return s
}

// liveServers are the servers of an account/region not yet deleted.
func (w *world) liveServers(key string) []*cmServer {
	var out []*cmServer
	for _, s := range w.servers[key] {
		if !s.deleted {
			out = append(out, s)
		}
	}
	return out
}

// agentFor fills the %s of an SDK user agent with the service/command.
func agentFor(tmpl, service, command string) string {
	if !strings.Contains(tmpl, "%s") {
		return tmpl
	}
	if strings.Contains(tmpl, "command") {
		return fmt.Sprintf(tmpl, service+"."+command)
	}
	return fmt.Sprintf(tmpl, service)
}
