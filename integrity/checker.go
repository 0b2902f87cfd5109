package integrity

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// CheckerOptions configure a Checker.
type CheckerOptions struct {
	// List is the selection the archive is listed with (prefix,
	// organization, accounts, regions, Start, End, Now); the Checker
	// narrows it to one week of one stream's digests.
	List      cloudtrail.ListOptions
	NewLister func(cloudtrail.ListOptions) (cloudtrail.Lister, error)
	// ReadDigest reads a digest whole and uncompressed, with its signature
	// (x-amz-meta-signature; "" for a local copy).
	ReadDigest func(ctx context.Context, key string) (data []byte, signature string, err error)
	Bucket     string // "" for a local copy
	// Keys verify the signatures; Fetcher, when set, fills them from
	// ListPublicKeys for the digests read.
	Keys    PublicKeys
	Fetcher *KeyFetcher
	// LogStart is where the listing starts a log stream (a checkpoint's
	// resume point); nil: List.Start.
	LogStart func(cloudtrail.Stream) time.Time
	// Workers read digests in parallel; a read or a key fetch failing with
	// a retryable error is tried MaxRetries more times, Backoff apart.
	Workers    int
	MaxRetries int
	Backoff    func(attempt int) time.Duration
	// Wait, when set, is called before each digest read (a pause gate).
	Wait func(ctx context.Context) error
	// Report gets the findings of each week's digests (valid ones too)
	// when the week begins, and its log_missing when it ends, each
	// finding once; t is the time they are about. An error stops the
	// listing.
	Report func(ctx context.Context, t time.Time, fs []Finding) error
	// Incomplete hears of what could not be checked (reason, what, why):
	// a digest unreadable, a week's digests not listed, public keys not
	// fetched, a digest outside the layout. An error stops the listing.
	Incomplete func(reason, what, detail string) error
	// RefuseRevisit makes an account listed again after the listing left
	// it an error (the tree holds it under two prefixes): judged twice by
	// halves, its verdicts would be wrong.
	RefuseRevisit bool
}

// Checker validates an archive while a listing in key order (each stream in
// time order, account by account, log files before digests, as both
// listers go) passes through it: it judges each stream a week at a time.
// When the listing reaches a week's first log file, the week's digests are
// listed and read (from its start to two hours past it: the last digest
// that names its files, and the next, which carries that one's signature
// in a copy without metadata), their keys fetched, and they are sealed;
// each log file of the week is then judged from its SHA-256 as it is read.
// When the listing leaves the week, the files its digests name and that
// were not listed are log_missing. A week whose log files are all gone is
// found from its digests, which the listing yields after the account's log
// files. Memory: one week's index (about 200 bytes per log file), whatever
// the window. Listed, EndPass and Abandon are called from the listing's
// goroutine; the judges Listed returns may run concurrently.
type Checker struct {
	o CheckerOptions

	cur      *week
	account  accountKey
	accounts map[accountKey]bool // passed in this pass
	done     map[weekID]bool     // judged in this pass (the account's)
	ends     map[string]chainEnd // where each region's trails ended, in the week judged last there
	reported map[string]time.Time
	noKeys   error // ListPublicKeys failed: not asked again
}

type accountKey struct{ org, account string }

// chainEnd is where a region's trail ended in the week judged last there.
type chainEnd struct {
	week int64
	end  time.Time
}

// weekID is one week of one stream (weeks counted from the Unix epoch).
type weekID struct {
	org, account, region string
	n                    int64
}

// Week is the length of the part of a stream a Checker judges at once.
const Week = 7 * 24 * time.Hour

func weekOf(k cloudtrail.Key) weekID {
	return weekID{k.OrgID, k.Account, k.Region, k.Time.Unix() / int64(Week/time.Second)}
}

func (id weekID) span() (time.Time, time.Time) {
	start := time.Unix(id.n*int64(Week/time.Second), 0).UTC()
	return start, start.Add(Week)
}

func (id weekID) String() string {
	start, _ := id.span()
	where := id.account + " " + id.region
	if id.org != "" {
		where = id.org + "/" + where
	}
	return where + ", week of " + start.Format("2006-01-02")
}

type week struct {
	id   weekID
	idx  *Index
	last time.Time // the newest delivery time listed, for the log_missing
}

// NewChecker returns a checker for one listing pass at a time.
func NewChecker(o CheckerOptions) *Checker {
	c := &Checker{o: o, reported: map[string]time.Time{}}
	c.reset()
	return c
}

func (c *Checker) reset() {
	c.cur, c.account = nil, accountKey{}
	c.accounts, c.done, c.ends = map[accountKey]bool{}, map[weekID]bool{}, map[string]chainEnd{}
}

// Judge gives the verdict on a log file from its SHA-256.
type Judge func(sum [32]byte) Finding

// Listed sees every object the listing yields. It reports whether the
// object is to be read (digests are not: each week reads its own) and,
// for a log file, how to judge it once read; nil for a file no digest can
// name (Insights).
func (c *Checker) Listed(ctx context.Context, o cloudtrail.Object) (Judge, bool, error) {
	k := o.Key
	switch {
	case k.Kind == cloudtrail.KindInsight:
		return nil, true, nil // Insights files are in no digest
	case k.Account == "" && cloudtrail.IsDigestName(k.Path):
		return nil, false, c.unchecked(k.Path)
	case k.Account == "":
		return func([32]byte) Finding {
			return Finding{Status: StatusLogUnverified, Key: k.Path,
				Detail: "not in the CloudTrail key layout (AWSLogs/…/CloudTrail/REGION/YYYY/MM/DD/…): no digest can name it"}
		}, true, nil
	}
	if a := (accountKey{k.OrgID, k.Account}); a != c.account {
		if c.accounts[a] && c.o.RefuseRevisit {
			return nil, false, fmt.Errorf("%s: account %s comes again after the listing had passed it (the tree holds it under two prefixes?): verify each prefix on its own", k.Path, k.Account)
		}
		c.accounts[a] = true
		c.account, c.done, c.ends = a, map[weekID]bool{}, map[string]chainEnd{}
	}
	id := weekOf(k)
	if c.cur == nil || c.cur.id != id {
		if k.Kind == cloudtrail.KindDigest && c.done[id] {
			return nil, false, nil
		}
		if err := c.endWeek(ctx); err != nil {
			return nil, false, err
		}
		if err := c.startWeek(ctx, id); err != nil {
			return nil, false, err
		}
	}
	if k.Kind == cloudtrail.KindDigest {
		// The week had no log file listed: every file its digests name is
		// missing, and it is judged at once.
		return nil, false, c.endWeek(ctx)
	}
	if k.Time.After(c.cur.last) {
		c.cur.last = k.Time
	}
	idx := c.cur.idx
	if err := idx.Present(k.Path); err != nil {
		return nil, false, err
	}
	bucket := c.o.Bucket
	return func(sum [32]byte) Finding {
		f, err := idx.Judge(LogFile{Bucket: bucket, Key: k.Path, SHA256: sum})
		if err != nil { // not reached: the key parsed as a log file's
			return Finding{Status: StatusLogUnverified, Key: k.Path, Detail: err.Error()}
		}
		return f
	}, true, nil
}

// Skipped hears of a file the listing left out (its Skipped option): an
// S3 digest whose name does not parse (a backfill digest) is not checked
// yet, and the validation is incomplete.
func (c *Checker) Skipped(p string) {
	if cloudtrail.IsDigestName(p) {
		_ = c.unchecked(p)
	}
}

// unchecked reports a digest outside the CloudTrail layout — a backfill
// digest (…_backfill.json.gz) or one moved out of its folder —, which is
// not checked yet: the validation is incomplete.
func (c *Checker) unchecked(p string) error {
	return c.o.Incomplete("digest outside the layout", p,
		"a digest outside the CloudTrail layout (backfill digests are not checked yet); the files it names are judged without it")
}

func (c *Checker) now() time.Time {
	if c.o.List.Now != nil {
		return c.o.List.Now()
	}
	return time.Now()
}

// EndPass ends the week the listing is in: the pass is over.
func (c *Checker) EndPass(ctx context.Context) error {
	err := c.endWeek(ctx)
	c.reset()
	// Forget what a later pass cannot judge again.
	for k, t := range c.reported {
		if c.now().Sub(t) > recentFindings {
			delete(c.reported, k)
		}
	}
	return err
}

// Abandon drops the week the listing was in when the listing failed (its
// missing files would be false alarms): the next pass judges it again.
func (c *Checker) Abandon() { c.reset() }

func (c *Checker) endWeek(ctx context.Context) error {
	w := c.cur
	if w == nil {
		return nil
	}
	c.cur = nil
	w.idx.ChainEnds(func(_, _, region, trail string, end time.Time) {
		c.ends[region+"\x00"+trail] = chainEnd{w.id.n, end}
	})
	var out []Finding
	w.idx.Missing(func(f Finding) { out = c.keep(out, f) })
	return c.report(ctx, w.last, out)
}

// keep appends f unless a pass before this one reported it: a follow pass
// judges the recent digests again. Within a pass nothing comes twice (a
// week reports only its own digests and files). Only findings of the last
// two days are remembered — older files are behind every stream's floor,
// no later pass lists them — so a backfill of years keeps nothing here.
func (c *Checker) keep(out []Finding, f Finding) []Finding {
	id := f.Status + "\x00" + f.Bucket + "\x00" + f.Key
	if _, seen := c.reported[id]; seen {
		return out
	}
	now := c.now()
	if t := FindingTime(f, now); now.Sub(t) <= recentFindings {
		c.reported[id] = t
	}
	return append(out, f)
}

// recentFindings is how far back findings are remembered between passes.
const recentFindings = 48 * time.Hour

func (c *Checker) report(ctx context.Context, t time.Time, fs []Finding) error {
	if len(fs) == 0 {
		return nil
	}
	return c.o.Report(ctx, t, fs)
}

// startWeek lists and reads a week's digests, gets the public keys they
// need, seals them and reports their findings.
func (c *Checker) startWeek(ctx context.Context, id weekID) error {
	start, end := id.span()
	if t := c.o.List.Start; t.After(start) {
		start = t
	}
	stream := cloudtrail.Stream{OrgID: id.org, Account: id.account, Region: id.region, Kind: cloudtrail.KindLog}
	if c.o.LogStart != nil {
		if t := c.o.LogStart(stream); t.After(start) {
			start = t
		}
	}
	logEnd := c.o.List.End
	if logEnd.IsZero() {
		logEnd = c.now()
	}
	// A week's last files are named by the digest an hour after it; in a
	// copy without metadata, that digest's signature is in the next one.
	// So a week that is not the window's last reads two hours of the next
	// week's digests, and leaves their own verdicts to that week.
	digestEnd, reportBefore := logEnd.Add(DigestLag), time.Time{}
	if logEnd.After(end) {
		logEnd, digestEnd, reportBefore = end, end.Add(2*DigestLag), end
	}
	opts := c.o.List
	opts.DigestsOnly, opts.IncludeDigest, opts.IncludeInsight = true, false, false
	opts.OrgID, opts.DiscoverOrgs, opts.Accounts, opts.Regions = id.org, false, []string{id.account}, []string{id.region}
	opts.Skipped, opts.StartAfter, opts.StreamStart = nil, nil, nil
	opts.Start, opts.End = start, digestEnd
	idx := NewIndex(Options{Keys: c.o.Keys, Start: start, End: logEnd,
		// Only the week just before says where the chain was: a week
		// judged later (one whose files are all gone) would not.
		ChainBefore: func(_, _, region, trail string) (time.Time, bool) {
			e, ok := c.ends[region+"\x00"+trail]
			return e.end, ok && e.week == id.n-1
		}})
	c.cur = &week{id: id, idx: idx}
	c.done[id] = true
	digests, err := c.readDigests(ctx, opts, id)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Without its digests, the week's files cannot be verified: they
		// are log_unverified, and the run is incomplete.
		if err := c.o.Incomplete("digests not listed", id.String(), err.Error()+": its log files are not verified"); err != nil {
			return err
		}
		digests = nil
	}
	if c.o.Fetcher != nil && len(digests) > 0 {
		if err := c.fetchKeys(ctx, digests); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Judging the digests without their keys would call every one
			// invalid: tampering that did not happen. They are left out
			// instead, and the run is incomplete.
			if err := c.o.Incomplete("public keys", id.String(), fmt.Sprintf("%v: the %d digests of %s are not checked, its log files are not verified", err, len(digests), id)); err != nil {
				return err
			}
			for _, d := range digests {
				idx.AddUnreadable(d.Key)
			}
			digests = nil
		}
	}
	for _, d := range digests {
		if err := idx.AddDigest(d); err != nil {
			return err // not reached: the lister only yields keys in the layout
		}
	}
	var out []Finding
	idx.Seal(func(f Finding) {
		if k, ok := cloudtrail.ParseKey(f.Key); ok && !reportBefore.IsZero() && !k.Time.Before(reportBefore) {
			return // the next week's digest: that week reports it
		}
		out = c.keep(out, f)
	})
	return c.report(ctx, start, out)
}

// readDigests lists one week's digests and reads them with Workers. A
// digest that cannot be read is reported incomplete and left out: its log
// files are log_unverified, and its successor does not call it missing.
func (c *Checker) readDigests(ctx context.Context, opts cloudtrail.ListOptions, id weekID) ([]DigestFile, error) {
	lister, err := c.o.NewLister(opts)
	if err != nil {
		return nil, err
	}
	var (
		mu       sync.Mutex
		out      []DigestFile
		wg       sync.WaitGroup
		keys     = make(chan string)
		firstErr error
	)
	for range max(c.o.Workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				data, sig, err := c.readDigest(ctx, key)
				mu.Lock()
				if err == nil {
					out = append(out, DigestFile{Bucket: c.o.Bucket, Key: key, Data: data, Signature: sig})
				} else if ctx.Err() == nil {
					c.cur.idx.AddUnreadable(key)
					if err := c.o.Incomplete("digest unreadable", key, err.Error()+": the log files this digest names are not verified"); err != nil && firstErr == nil {
						firstErr = err
					}
				}
				mu.Unlock()
			}
		}()
	}
	err = lister.List(ctx, func(o cloudtrail.Object) error {
		if o.Key.OrgID != id.org { // a local tree may hold the account in both layouts
			return nil
		}
		if c.o.Wait != nil {
			if err := c.o.Wait(ctx); err != nil {
				return err
			}
		}
		select {
		case keys <- o.Key.Path:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(keys)
	wg.Wait()
	if err == nil {
		err = firstErr
	}
	return out, err
}

func (c *Checker) retry(ctx context.Context, attempt int, err error) bool {
	return err != nil && cloudtrail.Retryable(err) && attempt < c.o.MaxRetries && c.o.Backoff != nil &&
		cloudtrail.Sleep(ctx, c.o.Backoff(attempt)) == nil
}

// readDigest reads one digest, again after retryable errors.
func (c *Checker) readDigest(ctx context.Context, key string) ([]byte, string, error) {
	for attempt := 0; ; attempt++ {
		data, sig, err := c.o.ReadDigest(ctx, key)
		if !c.retry(ctx, attempt, err) {
			return data, sig, err
		}
	}
}

// fetchKeys gets the public keys the digests need, again after retryable
// errors; after a failure, later weeks do not ask again.
func (c *Checker) fetchKeys(ctx context.Context, digests []DigestFile) error {
	if c.noKeys != nil {
		return c.noKeys
	}
	for _, d := range digests {
		if k, ok := cloudtrail.ParseKey(d.Key); ok {
			c.o.Fetcher.Note(k.Region, k.Time)
		}
	}
	for attempt := 0; ; attempt++ {
		err := c.o.Fetcher.Fetch(ctx)
		if !c.retry(ctx, attempt, err) {
			if err != nil && ctx.Err() == nil {
				c.noKeys = err
			}
			return err
		}
	}
}

// FindingTime is when a finding happened: the file's delivery, the start
// of a gap, the delivery of a digest (from its key), else def.
func FindingTime(f Finding, def time.Time) time.Time {
	switch {
	case f.Delivered != nil:
		return *f.Delivered
	case f.Start != nil:
		return *f.Start
	}
	if k, ok := cloudtrail.ParseKey(f.Key); ok && !k.Time.IsZero() {
		return k.Time
	}
	return def
}
