package cloudtrail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// s3Lister is the one S3 call listing needs (satisfied by *s3.Client), so
// tests can record or fake it.
type s3Lister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Object is one listed archive file.
type Object struct {
	Key          Key
	Bucket       string // SQS mode: the bucket a notification named; "" means the configured one
	Size         int64
	LastModified time.Time
	// Named is the delivery time in the name of a local file outside the
	// CloudTrail layout (ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHmmZ_…), zero
	// if the name has none; Key.Time is zero for such files.
	Named time.Time
	// StorageClass is S3's storage class ("" for local files and STANDARD).
	// GLACIER and DEEP_ARCHIVE objects cannot be read without a restore;
	// reading one fails with ReasonArchived.
	StorageClass string
}

// NeedsRestore reports whether S3 will refuse to read the object until it
// is restored (GLACIER, DEEP_ARCHIVE). Objects in the archive tiers of
// INTELLIGENT_TIERING cannot be recognised from the listing; reading them
// fails with ReasonArchived.
func (o Object) NeedsRestore() bool {
	return o.StorageClass == "GLACIER" || o.StorageClass == "DEEP_ARCHIVE"
}

// ListOptions select what is listed. The same options drive the S3 and the
// local-directory listers; differences are noted per field.
type ListOptions struct {
	// Prefix is the trail's S3 key prefix or the path up to AWSLogs/ (see
	// NormalizePrefix); default "AWSLogs/". Ignored by DirLister, which
	// finds AWSLogs/ anywhere in its tree.
	Prefix string
	// OrgID restricts listing to one organization trail's tree
	// (AWSLogs/o-…/). Empty: the single-account layout AWSLogs/ACCOUNT/ on
	// S3 (unless DiscoverOrgs), any layout in a local tree.
	OrgID string
	// DiscoverOrgs lists the organization IDs under Prefix and walks every
	// one, plus single-account trees found next to them. S3 only.
	DiscoverOrgs bool
	// Accounts and Regions restrict listing; empty means discover them
	// (one listing with Delimiter "/" per level) or, locally, take any.
	Accounts []string
	Regions  []string
	// Start and End bound file delivery times (from the file name) to
	// [Start, End). Only the UTC day prefixes that overlap the window are
	// listed. Zero End means Now(); zero Start means from the stream's first
	// day, found with three Delimiter listings (year, month, day).
	Start, End time.Time
	// StreamStart, when set, gives a later start for one stream (for
	// example a checkpoint's resume time); the later of it and Start wins.
	StreamStart func(Stream) time.Time
	// StartAfter resumes a stream after a key (exclusive), as S3's
	// StartAfter does; days before that key's day are not listed at all.
	StartAfter map[Stream]string
	// IncludeInsight and IncludeDigest also list CloudTrail-Insight and
	// CloudTrail-Digest files (as their own streams). Digests hold no events.
	IncludeInsight bool
	IncludeDigest  bool
	// DigestsOnly lists CloudTrail-Digest files and nothing else: the
	// input's integrity pre-pass reads an account's digests before its
	// log files are judged.
	DigestsOnly bool
	// PageSize is MaxKeys per ListObjectsV2 call; 0 is S3's default (1000).
	PageSize int32
	// Skipped, when set, hears of every file (or pruned folder) a
	// DirLister leaves out for another reason than the window: not
	// .json/.json.gz, a kind not asked for; and of every S3 object in a
	// listed day folder whose name is not a CloudTrail file's (a backfill
	// digest, …_backfill.json.gz, is one). Nothing is skipped silently.
	Skipped func(path, reason string)
	// Now is the clock for a zero End; nil is time.Now.
	Now func() time.Time
}

// NotCloudTrailName is the reason Skipped gets for an S3 object in a
// CloudTrail day folder whose name is not a CloudTrail file's.
const NotCloudTrailName = "name not in the CloudTrail layout"

// Lister yields archive objects: each stream in key (= delivery time)
// order; fn returning an error stops the listing with that error.
type Lister interface {
	List(ctx context.Context, fn func(Object) error) error
}

// kinds are the kinds of file to list, in folder order.
func (o *ListOptions) kinds() []Kind {
	if o.DigestsOnly {
		return []Kind{KindDigest}
	}
	ks := []Kind{KindLog}
	if o.IncludeDigest {
		ks = append(ks, KindDigest)
	}
	if o.IncludeInsight {
		ks = append(ks, KindInsight)
	}
	return ks
}

// Validate checks the selection. The listers call it; the input's and the
// CLI's configuration call it too, so the rules live here only. Errors
// start with the option's key as the input spells it (accounts, regions,
// org_id, end_time).
func (o *ListOptions) Validate() error {
	for _, a := range o.Accounts {
		if !IsAccount(a) {
			return fmt.Errorf("accounts: %q is not a 12-digit AWS account ID", a)
		}
	}
	for _, r := range o.Regions {
		if !IsRegion(r) {
			return fmt.Errorf("regions: %q is not an AWS region name", r)
		}
	}
	if o.OrgID != "" && !IsOrgID(o.OrgID) {
		return fmt.Errorf("org_id: %q is not an organization ID (o- followed by 10 to 32 lower-case letters or digits)", o.OrgID)
	}
	if o.OrgID != "" && o.DiscoverOrgs {
		return fmt.Errorf("discover_orgs: cannot be combined with org_id (which names the one organization to read)")
	}
	if !o.Start.IsZero() && !o.End.IsZero() && !o.Start.Before(o.End) {
		return fmt.Errorf("end_time: %s is not after start_time %s", o.End.Format(time.RFC3339), o.Start.Format(time.RFC3339))
	}
	return nil
}

// window is the [start, end) of one stream; start may be zero (unbounded).
func (o *ListOptions) window(s Stream) (time.Time, time.Time) {
	start, end := o.Start, o.End
	if o.StreamStart != nil {
		if t := o.StreamStart(s); t.After(start) {
			start = t
		}
	}
	if end.IsZero() {
		if o.Now != nil {
			end = o.Now()
		} else {
			end = time.Now()
		}
	}
	return start.UTC(), end.UTC()
}

// afterResume reports whether a key of stream s is past the stream's
// StartAfter key (always true without one).
func (o *ListOptions) afterResume(s Stream, key string) bool {
	after, ok := o.StartAfter[s]
	return !ok || key > after
}

// wants is the per-file filter shared by both listers.
func (o *ListOptions) Wants(k Key, start, end time.Time) bool {
	return o.wantsStream(k.Stream()) && k.Region != "" &&
		!k.Time.Before(start) && k.Time.Before(end) &&
		o.afterResume(k.Stream(), k.Path)
}

// wantsStream filters by kind, organization, account and region; an empty
// Region (a folder above the region level) passes the region filter.
func (o *ListOptions) wantsStream(s Stream) bool {
	return o.wantsKind(s.Kind) &&
		(o.OrgID == "" || s.OrgID == o.OrgID) &&
		(len(o.Accounts) == 0 || slices.Contains(o.Accounts, s.Account)) &&
		(s.Region == "" || len(o.Regions) == 0 || slices.Contains(o.Regions, s.Region))
}

func (o *ListOptions) wantsKind(k Kind) bool {
	if o.DigestsOnly {
		return k == KindDigest
	}
	return k == KindLog || k == KindDigest && o.IncludeDigest || k == KindInsight && o.IncludeInsight
}

func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// S3Lister lists a CloudTrail archive in S3 without full-bucket scans:
// discovery uses Delimiter listings one level at a time, and objects are
// listed one day prefix at a time, only for days inside the window.
type S3Lister struct {
	client s3Lister
	bucket string
	base   string
	opts   ListOptions
}

// NewS3Lister checks the options and returns a lister for bucket.
func NewS3Lister(client s3Lister, bucket string, opts ListOptions) (*S3Lister, error) {
	if bucket == "" {
		return nil, errors.New("archive: no bucket given")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &S3Lister{client: client, bucket: bucket, base: NormalizePrefix(opts.Prefix), opts: opts}, nil
}

// List lists every stream, one after the other, each in key order.
func (l *S3Lister) List(ctx context.Context, fn func(Object) error) error {
	streams, err := l.Streams(ctx)
	if err != nil {
		return err
	}
	for _, s := range streams {
		if err := l.ListStream(ctx, s, fn); err != nil {
			return err
		}
	}
	return nil
}

// Streams returns the streams to list: configured or discovered
// organizations, accounts and regions, for every kind asked for.
func (l *S3Lister) Streams(ctx context.Context) ([]Stream, error) {
	roots, err := l.roots(ctx)
	if err != nil {
		return nil, err
	}
	var out []Stream
	for _, org := range roots {
		accounts, err := l.accounts(ctx, org)
		if err != nil {
			return nil, err
		}
		for _, acct := range accounts {
			for _, kind := range l.opts.kinds() {
				regions, err := l.regions(ctx, Stream{OrgID: org, Account: acct, Kind: kind})
				if err != nil {
					return nil, err
				}
				for _, r := range regions {
					out = append(out, Stream{OrgID: org, Account: acct, Region: r, Kind: kind})
				}
			}
		}
	}
	return out, nil
}

// roots are the organization IDs to walk; "" is the single-account layout.
func (l *S3Lister) roots(ctx context.Context) ([]string, error) {
	if l.opts.OrgID != "" {
		return []string{l.opts.OrgID}, nil
	}
	if !l.opts.DiscoverOrgs {
		return []string{""}, nil
	}
	children, err := l.children(ctx, l.base)
	if err != nil {
		return nil, err
	}
	var roots []string
	if slices.ContainsFunc(children, IsAccount) {
		roots = append(roots, "")
	}
	for _, c := range children {
		if IsOrgID(c) {
			roots = append(roots, c)
		}
	}
	return roots, nil
}

func (l *S3Lister) accounts(ctx context.Context, org string) ([]string, error) {
	if len(l.opts.Accounts) > 0 {
		return l.opts.Accounts, nil
	}
	prefix := l.base
	if org != "" {
		prefix += org + "/"
	}
	children, err := l.children(ctx, prefix)
	return FilterNames(children, IsAccount), err
}

// regions of one account and kind (s.Region is ignored).
func (l *S3Lister) regions(ctx context.Context, s Stream) ([]string, error) {
	if len(l.opts.Regions) > 0 {
		return l.opts.Regions, nil
	}
	children, err := l.children(ctx, accountPrefix(l.base, s.OrgID, s.Account)+s.Kind.Folder()+"/")
	return FilterNames(children, IsRegion), err
}

func FilterNames(names []string, keep func(string) bool) []string {
	var out []string
	for _, n := range names {
		if keep(n) {
			out = append(out, n)
		}
	}
	return out
}

// children lists the "folders" directly under prefix (Delimiter "/"), by
// name, in S3's (lexical) order.
func (l *S3Lister) children(ctx context.Context, prefix string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")}
	var names []string
	err := l.paginate(ctx, in, func(out *s3.ListObjectsV2Output) error {
		for _, cp := range out.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			names = append(names, name)
		}
		return nil
	})
	return names, err
}

// paginate runs a ListObjectsV2 listing to its end (or fn's error).
func (l *S3Lister) paginate(ctx context.Context, in *s3.ListObjectsV2Input, fn func(*s3.ListObjectsV2Output) error) error {
	p := s3.NewListObjectsV2Paginator(l.client, in, func(o *s3.ListObjectsV2PaginatorOptions) {
		o.Limit = l.opts.PageSize
		o.StopOnDuplicateToken = true
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return &ListError{Bucket: l.bucket, Prefix: aws.ToString(in.Prefix), Err: err}
		}
		if err := fn(out); err != nil {
			return err
		}
	}
	return nil
}

// ListError is a failed listing call; Retryable tells whether to try again.
type ListError struct {
	Bucket, Prefix string
	Err            error
}

func (e *ListError) Error() string {
	return fmt.Sprintf("list s3://%s/%s: %s: %v", e.Bucket, e.Prefix, Classify(e.Err), e.Err)
}

func (e *ListError) Unwrap() error { return e.Err }

// ListStream lists one stream's objects in key order, a day prefix at a time.
func (l *S3Lister) ListStream(ctx context.Context, s Stream, fn func(Object) error) error {
	start, end := l.opts.window(s)
	first := start
	if first.IsZero() {
		day, ok, err := l.edgeDay(ctx, s, false)
		if err != nil || !ok {
			return err
		}
		first = day
	}
	stop := end
	if l.opts.End.IsZero() {
		// Unbounded: stop after the stream's last day folder instead of
		// listing every empty day up to now (years of them for a trail
		// that ended). Files delivered later are found by the next pass.
		last, ok, err := l.edgeDay(ctx, s, true)
		if err != nil || !ok {
			return err
		}
		stop = minTime(end, last.AddDate(0, 0, 1))
	}
	for day := utcDay(first); day.Before(stop); day = day.AddDate(0, 0, 1) {
		if err := l.listDay(ctx, s, day, start, end, fn); err != nil {
			return err
		}
	}
	return nil
}

// listDay lists one day prefix of a stream, honouring StartAfter.
func (l *S3Lister) listDay(ctx context.Context, s Stream, day, start, end time.Time, fn func(Object) error) error {
	prefix := streamPrefix(l.base, s) + day.Format("2006/01/02") + "/"
	in := &s3.ListObjectsV2Input{Bucket: aws.String(l.bucket), Prefix: aws.String(prefix)}
	if after, ok := l.opts.StartAfter[s]; ok {
		if after > prefix && !strings.HasPrefix(after, prefix) {
			return nil // the whole day sorts before the resume key
		}
		if strings.HasPrefix(after, prefix) {
			in.StartAfter = aws.String(after)
		}
	}
	return l.paginate(ctx, in, func(out *s3.ListObjectsV2Output) error {
		for _, o := range out.Contents {
			key, ok := ParseKey(aws.ToString(o.Key))
			if !ok {
				if l.opts.Skipped != nil {
					l.opts.Skipped(aws.ToString(o.Key), NotCloudTrailName)
				}
				continue
			}
			if key.Stream() != s || !l.opts.Wants(key, start, end) {
				continue
			}
			obj := Object{Key: key, Size: aws.ToInt64(o.Size), LastModified: aws.ToTime(o.LastModified), StorageClass: string(o.StorageClass)}
			if err := fn(obj); err != nil {
				return err
			}
		}
		return nil
	})
}

// edgeDay finds a stream's earliest (or latest) day folder with three
// Delimiter listings (years, then months of that year, then days), so an
// unbounded backfill never lists objects outside day prefixes, nor the
// empty days between a trail's end and now.
func (l *S3Lister) edgeDay(ctx context.Context, s Stream, latest bool) (time.Time, bool, error) {
	prefix := streamPrefix(l.base, s)
	parts := make([]string, 0, 3)
	for _, width := range []int{4, 2, 2} {
		children, err := l.children(ctx, prefix)
		if err != nil {
			return time.Time{}, false, err
		}
		isPart := func(c string) bool { return isDigits(c, width) }
		i := slices.IndexFunc(children, isPart)
		if latest {
			i = lastIndexFunc(children, isPart)
		}
		if i < 0 {
			return time.Time{}, false, nil
		}
		parts = append(parts, children[i])
		prefix += children[i] + "/"
	}
	t, err := time.Parse("2006/01/02", strings.Join(parts, "/"))
	return t, err == nil, nil
}

func lastIndexFunc(s []string, f func(string) bool) int {
	for i := len(s) - 1; i >= 0; i-- {
		if f(s[i]) {
			return i
		}
	}
	return -1
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// DirLister lists a local tree of CloudTrail files: an `aws s3 sync` copy of
// a bucket, a decompressed copy, or any directory of .json/.json.gz files.
// Files in the CloudTrail layout are filtered like S3 objects (kinds,
// organization, accounts, regions, window, StartAfter) and day folders
// outside the window are not even read. Files outside the layout whose name
// ends in .json or .json.gz are listed too, as KindLog with no account,
// region or time (the zero Time): no window applies to them, and they come
// in walk order.
type DirLister struct {
	fsys fs.FS
	opts ListOptions
}

// NewDirLister checks the options and returns a lister over fsys (for
// example os.DirFS(dir)).
func NewDirLister(fsys fs.FS, opts ListOptions) (*DirLister, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	return &DirLister{fsys: fsys, opts: opts}, nil
}

// List walks the tree in lexical order, which is key order within each
// stream (every stream lives in its own REGION/YYYY/MM/DD folders).
func (l *DirLister) List(ctx context.Context, fn func(Object) error) error {
	return fs.WalkDir(l.fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("archive: walk %s: %w", p, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && l.skipDir(p) {
				return fs.SkipDir
			}
			return nil
		}
		obj, ok, err := l.object(p, d)
		if err != nil || !ok {
			return err
		}
		return fn(obj)
	})
}

func (l *DirLister) skipped(p, reason string) {
	if l.opts.Skipped != nil {
		l.opts.Skipped(p, reason)
	}
}

// object turns a walked file into an Object, or reports it is not wanted.
func (l *DirLister) object(p string, d fs.DirEntry) (Object, bool, error) {
	if !d.Type().IsRegular() {
		l.skipped(p, "not a regular file")
		return Object{}, false, nil
	}
	if _, isJSON := trimJSONExt(path.Base(p)); !isJSON {
		l.skipped(p, "not .json or .json.gz")
		return Object{}, false, nil
	}
	key, inLayout := ParseKey(p)
	if inLayout {
		start, end := l.opts.window(key.Stream())
		if !l.opts.wantsKind(key.Kind) {
			l.skipped(p, key.Kind.String()+" file (not asked for)")
			return Object{}, false, nil
		}
		if !l.opts.Wants(key, start, end) {
			return Object{}, false, nil
		}
	} else {
		if l.opts.DigestsOnly {
			return Object{}, false, nil // the main listing reports files outside the layout
		}
		if IsDigestName(p) && !l.opts.IncludeDigest {
			l.skipped(p, "digest file (not asked for)")
			return Object{}, false, nil // a digest moved out of its folder
		}
		key = Key{Path: p, Kind: KindLog}
	}
	// Outside the layout the folders say nothing, but a CloudTrail file
	// name still carries its delivery time: the window applies. Key.Time
	// stays zero (the key is in no stream); Object.Named holds the time.
	var named time.Time
	if !inLayout {
		if t, ok := nameTime(path.Base(p)); ok {
			// Stream{}: no stream, so no checkpoint resume time, only Start/End.
			if start, end := l.opts.window(Stream{}); t.Before(start) || !t.Before(end) {
				return Object{}, false, nil
			}
			named = t
		}
	}
	info, err := d.Info()
	if err != nil {
		return Object{}, false, fmt.Errorf("archive: stat %s: %w", p, err)
	}
	return Object{Key: key, Size: info.Size(), LastModified: info.ModTime(), Named: named}, true, nil
}

// skipDir prunes folders of the CloudTrail layout that cannot hold a wanted
// file: a kind, organization, account or region not asked for, or a
// year/month/day folder entirely outside the stream's window. Folders
// outside the layout are always walked, except CloudTrail-Digest folders
// when digests are not wanted.
func (l *DirLister) skipDir(p string) bool {
	segs := strings.Split(p, "/")
	at := kindFolderIndex(segs)
	if at < 0 {
		if path.Base(p) == KindDigest.Folder() && !l.opts.IncludeDigest {
			l.skipped(p+"/", "digest folder (digests hold no events)")
			return true
		}
		return false
	}
	s := Stream{Account: segs[at-1], Kind: kindOfFolder(segs[at])}
	if at >= 2 && IsOrgID(segs[at-2]) {
		s.OrgID = segs[at-2]
	}
	if len(segs) > at+1 {
		s.Region = segs[at+1]
	}
	if !l.opts.wantsStream(s) {
		// Accounts, regions or organizations left out on purpose are the
		// selection, not a surprise; kinds are reported (Insights, digests).
		if len(segs) == at+1 && !l.opts.wantsKind(s.Kind) {
			l.skipped(p+"/", s.Kind.String()+" folder (not asked for)")
		}
		return true
	}
	if len(segs) <= at+2 {
		return false
	}
	from, to, dated := folderSpan(segs[at+2:])
	if !dated {
		return false
	}
	start, end := l.opts.window(s)
	return !to.After(start) || !from.Before(end)
}

// kindFolderIndex finds ACCOUNT/FOLDER in a path and returns FOLDER's index
// (-1 if absent).
func kindFolderIndex(segs []string) int {
	for i := len(segs) - 1; i >= 1; i-- {
		if kindOfFolder(segs[i]) != 0 && IsAccount(segs[i-1]) {
			return i
		}
	}
	return -1
}

// folderSpan is the UTC time span of YYYY, YYYY/MM or YYYY/MM/DD folders.
func folderSpan(date []string) (time.Time, time.Time, bool) {
	widths := []int{4, 2, 2}
	if len(date) == 0 || len(date) > 3 {
		return time.Time{}, time.Time{}, false
	}
	nums := []int{0, 1, 1}
	for i, part := range date {
		if !isDigits(part, widths[i]) {
			return time.Time{}, time.Time{}, false
		}
		nums[i], _ = strconv.Atoi(part) // digits only, checked above
	}
	from := time.Date(nums[0], time.Month(nums[1]), nums[2], 0, 0, 0, 0, time.UTC)
	steps := [][3]int{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}[len(date)-1]
	return from, from.AddDate(steps[0], steps[1], steps[2]), true
}
