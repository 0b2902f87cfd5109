package cloudtrail

import (
	"path"
	"strings"
	"time"
)

// Kind is the kind of file CloudTrail delivers, named by the third (or, for
// organization trails, fourth) segment after AWSLogs/.
type Kind uint8

const (
	// KindLog is a log file of management/data events (folder CloudTrail).
	KindLog Kind = iota + 1
	// KindDigest is an integrity digest (folder CloudTrail-Digest); it holds
	// no events.
	KindDigest
	// KindInsight is a CloudTrail Insights file (folder CloudTrail-Insight).
	KindInsight
)

// Folder is the key segment that holds files of this kind.
func (k Kind) Folder() string {
	switch k {
	case KindLog:
		return "CloudTrail"
	case KindDigest:
		return "CloudTrail-Digest"
	case KindInsight:
		return "CloudTrail-Insight"
	}
	return ""
}

func (k Kind) String() string {
	switch k {
	case KindLog:
		return "log"
	case KindDigest:
		return "digest"
	case KindInsight:
		return "insight"
	}
	return "unknown"
}

func kindOfFolder(folder string) Kind {
	for _, k := range []Kind{KindLog, KindDigest, KindInsight} {
		if k.Folder() == folder {
			return k
		}
	}
	return 0
}

// Key is a parsed CloudTrail object key.
type Key struct {
	Path    string // the whole key (or, for a local tree, the slash-separated path)
	Base    string // everything up to and including "AWSLogs/" (a trail's S3 key prefix shows up here)
	OrgID   string // "o-…" for organization trails, else ""
	Account string
	Region  string
	Kind    Kind
	Trail   string    // digests only: the trail name from the file name
	Time    time.Time // delivery time from the file name, UTC; zero for files outside the layout
}

// Stream is the unit that is listed, ordered and checkpointed: one kind of
// file of one account in one region (of one organization). Within a stream,
// key order is delivery-time order, because every file name of a stream
// starts with the same ACCOUNT_Folder_REGION_ followed by a fixed-width time.
type Stream struct {
	OrgID   string
	Account string
	Region  string
	Kind    Kind
}

// Stream is the stream the key belongs to.
func (k Key) Stream() Stream {
	return Stream{OrgID: k.OrgID, Account: k.Account, Region: k.Region, Kind: k.Kind}
}

func (s Stream) String() string {
	var b strings.Builder
	if s.OrgID != "" {
		b.WriteString(s.OrgID + "/")
	}
	b.WriteString(s.Account + "/" + s.Kind.Folder() + "/" + s.Region)
	return b.String()
}

// Layout constants.
const (
	awsLogs = "AWSLogs"
	// DefaultPrefix is where CloudTrail writes when the trail has no key prefix.
	DefaultPrefix = awsLogs + "/"
)

// ParseKey parses a CloudTrail key:
//
//	[PREFIX/]AWSLogs/[o-ORGID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz
//	…/ACCOUNT/CloudTrail-Digest/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Digest_REGION_TRAIL_HOMEREGION_YYYYMMDDTHHmmssZ.json.gz
//	…/ACCOUNT/CloudTrail-Insight/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail-Insight_REGION_YYYYMMDDTHHmmZ_UNIQUE.json.gz
//
// The key is read from its end, because the part after AWSLogs/ has a fixed
// shape while the trail's key prefix before it is arbitrary (it may even
// contain "AWSLogs"). ".json" is accepted as well as ".json.gz", for local
// copies that were decompressed. The account and region of the file name
// must match the folders; the file name's date need not match the day
// folder (CloudTrail always writes them equal, and Time comes from the name).
func ParseKey(key string) (Key, bool) {
	segs := strings.Split(key, "/")
	n := len(segs)
	if n < 8 {
		return Key{}, false
	}
	k := Key{Path: key, Account: segs[n-7], Region: segs[n-5], Kind: kindOfFolder(segs[n-6])}
	if k.Kind == 0 || !IsAccount(k.Account) || !IsRegion(k.Region) || !isDay(segs[n-4], segs[n-3], segs[n-2]) {
		return Key{}, false
	}
	rootAt := n - 8 // index of AWSLogs
	if rootAt >= 0 && IsOrgID(segs[rootAt]) {
		k.OrgID = segs[rootAt]
		rootAt--
	}
	if rootAt < 0 || segs[rootAt] != awsLogs {
		return Key{}, false
	}
	k.Base = strings.Join(segs[:rootAt+1], "/") + "/"
	t, trail, ok := parseFileName(segs[n-1], k.Account, k.Kind, k.Region)
	if !ok {
		return Key{}, false
	}
	k.Time, k.Trail = t, trail
	return k, true
}

// nameTime is the delivery time in a CloudTrail file name wherever the file
// sits: ACCOUNT_CloudTrail[-Insight]_REGION_YYYYMMDDTHHmmZ_UNIQUE.json[.gz].
func nameTime(name string) (time.Time, bool) {
	stem, ok := trimJSONExt(name)
	if !ok {
		return time.Time{}, false
	}
	parts := strings.Split(stem, "_")
	if len(parts) != 5 || !IsAccount(parts[0]) || kindOfFolder(parts[1]) == 0 || kindOfFolder(parts[1]) == KindDigest || !IsRegion(parts[2]) {
		return time.Time{}, false
	}
	return parseStamp(parts[3])
}

// parseFileName checks a file name against its folders and returns the
// delivery time (and, for digests, the trail name).
func parseFileName(name, account string, kind Kind, region string) (time.Time, string, bool) {
	stem, ok := trimJSONExt(name)
	if !ok {
		return time.Time{}, "", false
	}
	head := account + "_" + kind.Folder() + "_" + region + "_"
	rest, ok := strings.CutPrefix(stem, head)
	if !ok {
		return time.Time{}, "", false
	}
	if kind == KindDigest {
		return parseDigestTail(rest)
	}
	stamp, unique, ok := strings.Cut(rest, "_")
	if !ok || !isUnique(unique) {
		return time.Time{}, "", false
	}
	t, ok := parseStamp(stamp)
	return t, "", ok
}

// parseDigestTail reads TRAIL_HOMEREGION_STAMP. Trail names may themselves
// contain underscores, so the two fixed fields are taken from the end.
func parseDigestTail(rest string) (time.Time, string, bool) {
	i := strings.LastIndexByte(rest, '_')
	if i < 0 {
		return time.Time{}, "", false
	}
	t, ok := parseStamp(rest[i+1:])
	if !ok {
		return time.Time{}, "", false
	}
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '_')
	if j <= 0 || !IsRegion(rest[j+1:]) {
		return time.Time{}, "", false
	}
	return t, rest[:j], true
}

// IsDigestName reports whether a path's file name is a CloudTrail digest's
// (ACCOUNT_CloudTrail-Digest_…), in the layout or not: a backfill digest
// (…_backfill.json.gz) or one moved out of its folder too.
func IsDigestName(p string) bool { return strings.Contains(path.Base(p), "_CloudTrail-Digest_") }

func trimJSONExt(name string) (string, bool) {
	if s, ok := strings.CutSuffix(name, ".json.gz"); ok {
		return s, true
	}
	return strings.CutSuffix(name, ".json")
}

// parseStamp reads YYYYMMDDTHHmmZ (log and insight files) or
// YYYYMMDDTHHmmssZ (digests); either is accepted for any kind.
func parseStamp(s string) (time.Time, bool) {
	for _, layout := range []string{"20060102T1504Z", "20060102T150405Z"} {
		if len(s) == len(layout) {
			t, err := time.Parse(layout, s)
			return t.UTC(), err == nil
		}
	}
	return time.Time{}, false
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func IsAccount(s string) bool { return isDigits(s, 12) }

// isOrgID follows the AWS Organizations ID pattern o-[a-z0-9]{10,32}.
func IsOrgID(s string) bool {
	id, ok := strings.CutPrefix(s, "o-")
	if !ok || len(id) < 10 || len(id) > 32 {
		return false
	}
	return isLowerAlnum(id)
}

// isRegion accepts region-like names (us-east-1, us-gov-west-1,
// cn-northwest-1, eusc-de-east-1): lower-case letters, digits and dashes,
// starting with a letter and ending with a digit.
func IsRegion(s string) bool {
	if len(s) < 4 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] < '0' || s[len(s)-1] > '9' || !strings.Contains(s, "-") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func isLowerAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isUnique checks the random suffix of log and insight file names (16
// alphanumerics in practice; any non-empty alphanumeric run is accepted).
func isUnique(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func isDay(y, m, d string) bool {
	if !isDigits(y, 4) || !isDigits(m, 2) || !isDigits(d, 2) {
		return false
	}
	_, err := time.Parse("2006/01/02", y+"/"+m+"/"+d)
	return err == nil
}

// NormalizePrefix turns a configured prefix into the listing base, which
// always ends with "AWSLogs/": "" gives "AWSLogs/", a trail's key prefix
// "myprefix" (or "myprefix/") gives "myprefix/AWSLogs/", and
// "myprefix/AWSLogs" gets its slash. Users may give either the trail's key
// prefix or the full path to AWSLogs; both mean the same place.
func NormalizePrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return DefaultPrefix
	}
	if p == awsLogs || strings.HasSuffix(p, "/"+awsLogs) {
		return p + "/"
	}
	return p + "/" + DefaultPrefix
}

// DayPrefix is the listing prefix of one day of log files:
// BASE[ORG/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/. base is normalized with
// NormalizePrefix; day is taken in UTC (CloudTrail's folders are UTC days).
func DayPrefix(base, org, account, region string, day time.Time) string {
	return KindDayPrefix(KindLog, base, org, account, region, day)
}

// KindDayPrefix is DayPrefix for any kind of file.
func KindDayPrefix(kind Kind, base, org, account, region string, day time.Time) string {
	return streamPrefix(NormalizePrefix(base), Stream{OrgID: org, Account: account, Region: region, Kind: kind}) +
		day.UTC().Format("2006/01/02") + "/"
}

// streamPrefix is BASE[ORG/]ACCOUNT/FOLDER/REGION/ for a normalized base.
func streamPrefix(base string, s Stream) string {
	return accountPrefix(base, s.OrgID, s.Account) + s.Kind.Folder() + "/" + s.Region + "/"
}

func accountPrefix(base, org, account string) string {
	if org != "" {
		return base + org + "/" + account + "/"
	}
	return base + account + "/"
}
