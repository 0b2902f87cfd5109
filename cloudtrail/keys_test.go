package cloudtrail

import (
	"testing"
	"time"

	"github.com/opsworks-trail/opsworks-trail/test/testutil"
)

var utc = testutil.UTC

func TestParseKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		ok   bool
		want Key
	}{
		{
			name: "single account",
			key:  "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz",
			ok:   true,
			want: Key{Base: "AWSLogs/", Account: "111122223333", Region: "us-east-1", Kind: KindLog, Time: utc("2024-05-31T23:55:00Z")},
		},
		{
			name: "organization trail",
			key:  "AWSLogs/o-exampleorgid/444455556666/CloudTrail/eu-west-1/2023/01/02/444455556666_CloudTrail_eu-west-1_20230102T0005Z_Zz9Yy8Xx7Ww6Vv5U.json.gz",
			ok:   true,
			want: Key{Base: "AWSLogs/", OrgID: "o-exampleorgid", Account: "444455556666", Region: "eu-west-1", Kind: KindLog, Time: utc("2023-01-02T00:05:00Z")},
		},
		{
			name: "trail with an S3 key prefix",
			key:  "myprefix/AWSLogs/111122223333/CloudTrail/us-west-2/2024/05/31/111122223333_CloudTrail_us-west-2_20240531T2208Z_NwiqwBASsxxJ9Sc4.json.gz",
			ok:   true,
			want: Key{Base: "myprefix/AWSLogs/", Account: "111122223333", Region: "us-west-2", Kind: KindLog, Time: utc("2024-05-31T22:08:00Z")},
		},
		{
			name: "nested prefix that itself contains AWSLogs",
			key:  "audit/AWSLogs/copy/AWSLogs/o-aa11bb22cc/111122223333/CloudTrail/us-gov-west-1/2020/02/29/111122223333_CloudTrail_us-gov-west-1_20200229T1200Z_abcdefABCDEF0123.json.gz",
			ok:   true,
			want: Key{Base: "audit/AWSLogs/copy/AWSLogs/", OrgID: "o-aa11bb22cc", Account: "111122223333", Region: "us-gov-west-1", Kind: KindLog, Time: utc("2020-02-29T12:00:00Z")},
		},
		{
			name: "decompressed local copy",
			key:  "AWSLogs/111122223333/CloudTrail/us-west-2/2024/05/31/111122223333_CloudTrail_us-west-2_20240531T2238Z_Sb1o4vLZWWmbPRhP.json",
			ok:   true,
			want: Key{Base: "AWSLogs/", Account: "111122223333", Region: "us-west-2", Kind: KindLog, Time: utc("2024-05-31T22:38:00Z")},
		},
		{
			name: "digest",
			key:  "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2017/11/05/111122223333_CloudTrail-Digest_us-east-2_awscloudtrail-example_us-east-2_20171105T013005Z.json.gz",
			ok:   true,
			want: Key{Base: "AWSLogs/", Account: "111122223333", Region: "us-east-2", Kind: KindDigest, Trail: "awscloudtrail-example", Time: utc("2017-11-05T01:30:05Z")},
		},
		{
			name: "digest of a trail whose name has underscores, home region elsewhere",
			key:  "AWSLogs/o-exampleorgid/111122223333/CloudTrail-Digest/ap-south-1/2024/01/31/111122223333_CloudTrail-Digest_ap-south-1_org_trail_main_us-east-1_20240131T235959Z.json.gz",
			ok:   true,
			want: Key{Base: "AWSLogs/", OrgID: "o-exampleorgid", Account: "111122223333", Region: "ap-south-1", Kind: KindDigest, Trail: "org_trail_main", Time: utc("2024-01-31T23:59:59Z")},
		},
		{
			name: "insight",
			key:  "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/03/10/111122223333_CloudTrail-Insight_us-east-1_20240310T1530Z_QwErTyUiOpAsDfGh.json.gz",
			ok:   true,
			want: Key{Base: "AWSLogs/", Account: "111122223333", Region: "us-east-1", Kind: KindInsight, Time: utc("2024-03-10T15:30:00Z")},
		},
		// Garbage and near misses.
		{name: "empty", key: ""},
		{name: "folder only", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/"},
		{name: "no AWSLogs", key: "logs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "short account", key: "AWSLogs/11112222333/CloudTrail/us-east-1/2024/05/31/11112222333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "account mismatch", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/999922223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "region mismatch", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-2_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "unknown folder", key: "AWSLogs/111122223333/Config/us-east-1/2024/05/31/111122223333_Config_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "bad date", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/02/30/111122223333_CloudTrail_us-east-1_20240230T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "bad stamp", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_2024053T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "hour 24", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2400Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "no unique suffix", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z.json.gz"},
		{name: "wrong extension", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.txt"},
		{name: "bad org id", key: "AWSLogs/o-Short/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "upper-case region", key: "AWSLogs/111122223333/CloudTrail/US-EAST-1/2024/05/31/111122223333_CloudTrail_US-EAST-1_20240531T2355Z_a1B2c3D4e5F6g7H8.json.gz"},
		{name: "digest without trail name", key: "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2017/11/05/111122223333_CloudTrail-Digest_us-east-2_us-east-2_20171105T013005Z.json.gz"},
		{name: "S3 console folder marker", key: "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/x/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseKey(tc.key)
			if ok != tc.ok {
				t.Fatalf("ParseKey(%q) ok = %v, want %v (got %+v)", tc.key, ok, tc.ok, got)
			}
			if !ok {
				return
			}
			tc.want.Path = tc.key
			if got != tc.want {
				t.Errorf("ParseKey(%q)\n got  %+v\n want %+v", tc.key, got, tc.want)
			}
		})
	}
}

func TestKeyOrderIsTimeOrderWithinAStream(t *testing.T) {
	// The lister and the checkpoints rely on this: S3 lists in key order.
	keys := []string{
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/31/111122223333_CloudTrail_us-east-1_20240531T2355Z_zzzzzzzzzzzzzzzz.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01/111122223333_CloudTrail_us-east-1_20240601T0000Z_AAAAAAAAAAAAAAAA.json.gz",
		"AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01/111122223333_CloudTrail_us-east-1_20240601T0005Z_0000000000000000.json.gz",
	}
	for i := 1; i < len(keys); i++ {
		a, _ := ParseKey(keys[i-1])
		b, _ := ParseKey(keys[i])
		if !(keys[i-1] < keys[i]) || !a.Time.Before(b.Time) || a.Stream() != b.Stream() {
			t.Fatalf("order broken between %s and %s", keys[i-1], keys[i])
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "AWSLogs/",
		"/":                 "AWSLogs/",
		"AWSLogs":           "AWSLogs/",
		"AWSLogs/":          "AWSLogs/",
		"myprefix":          "myprefix/AWSLogs/",
		"myprefix/":         "myprefix/AWSLogs/",
		"myprefix/AWSLogs":  "myprefix/AWSLogs/",
		"a/b/AWSLogs/":      "a/b/AWSLogs/",
		"notAWSLogs":        "notAWSLogs/AWSLogs/",
		"/leading/trailing": "leading/trailing/AWSLogs/",
	} {
		if got := NormalizePrefix(in); got != want {
			t.Errorf("NormalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDayPrefix(t *testing.T) {
	day := time.Date(2024, 5, 31, 23, 59, 0, 0, time.FixedZone("UTC-2", -2*3600)) // 2024-06-01 01:59 UTC
	tests := []struct {
		base, org, account, region string
		kind                       Kind
		want                       string
	}{
		{"", "", "111122223333", "us-east-1", KindLog, "AWSLogs/111122223333/CloudTrail/us-east-1/2024/06/01/"},
		{"AWSLogs/", "o-exampleorgid", "111122223333", "us-east-1", KindLog, "AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2024/06/01/"},
		{"myprefix", "", "111122223333", "eu-west-1", KindLog, "myprefix/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/06/01/"},
		{"", "", "111122223333", "us-east-1", KindInsight, "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/06/01/"},
	}
	for _, tc := range tests {
		var got string
		if tc.kind == KindLog {
			got = DayPrefix(tc.base, tc.org, tc.account, tc.region, day)
		} else {
			got = KindDayPrefix(tc.kind, tc.base, tc.org, tc.account, tc.region, day)
		}
		if got != tc.want {
			t.Errorf("day prefix = %q, want %q", got, tc.want)
		}
		// Every key of that day parses back to the same stream.
		if k, ok := ParseKey(got + tc.account + "_" + tc.kind.Folder() + "_" + tc.region + "_20240601T0159Z_abcdefghijklmnop.json.gz"); !ok || k.Region != tc.region || k.OrgID != tc.org {
			t.Errorf("key under %q does not parse back: %+v %v", got, k, ok)
		}
	}
}
