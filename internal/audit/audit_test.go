package audit

import (
	"regexp"
	"testing"
)

func TestIsDestructive(t *testing.T) {
	cases := []struct {
		name string
		want bool
	}{
		{"DeleteStack", true}, {"StopInstance", true}, {"DeregisterRdsDbInstance", true},
		{"DisassociateNode", true}, {"DetachElasticLoadBalancer", true}, {"RestoreServer", true},
		{"UpdateServerEngineAttributes", true}, {"SetPermission", true}, {"GrantAccess", true},
		{"UpdateMyUserProfile", true},
		{"DescribeStacks", false}, {"CreateServer", false}, {"UpdateServer", false},
		{"RestoreServerX", false}, {"XDeleteStack", false}, {"", false},
	}
	re := regexp.MustCompile("^(?:" + DestructiveRegexp() + ")$")
	for _, tc := range cases {
		if got := IsDestructive(tc.name); got != tc.want {
			t.Errorf("IsDestructive(%q) = %v, want %v", tc.name, got, tc.want)
		}
		if got := re.MatchString(tc.name); got != tc.want {
			t.Errorf("DestructiveRegexp matches %q: %v, want %v", tc.name, got, tc.want)
		}
	}
}
