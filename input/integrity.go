package input

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
	"github.com/opsworks-trail/opsworks-trail/integrity"
)

// Record fields of integrity validation (validate_integrity).
const (
	// FieldIntegrity is on every event record: its file's verdict (valid,
	// log_modified, log_unreferenced, log_unverified).
	FieldIntegrity = "s3_integrity"
	// Integrity records: one per problem, with FieldIntegrityStatus
	// (record.FieldIntegrityStatus) and these.
	FieldDetail      = "detail"
	FieldDigestKey   = "digest_key"
	FieldDelivered   = "delivered"    // a log file's delivery time (RFC 3339)
	FieldPeriodStart = "period_start" // chain_gap: the period without digests
	FieldPeriodEnd   = "period_end"
)

// integrityOptions are what integrity validation needs from the polling
// source's configuration.
type integrityOptions struct {
	// list is the input's selection; the pre-pass narrows it to one
	// account's digests.
	list      cloudtrail.ListOptions
	newLister func(cloudtrail.ListOptions) (cloudtrail.Lister, error)
	// read reads a digest whole and uncompressed, with its signature
	// (x-amz-meta-signature; "" for a local copy).
	read   func(ctx context.Context, key string) (data []byte, signature string, err error)
	bucket string // "" in local mode
	keys   integrity.PublicKeys
	// fetcher gets the keys from ListPublicKeys; nil with public_keys_file.
	fetcher *integrity.KeyFetcher
	// logStart is where the listing starts a log stream (the checkpoint's
	// resume point): digests are read from there, and files a digest
	// names before it are not missing.
	logStart   func(cloudtrail.Stream) time.Time
	workers    int
	maxRetries int
	delay      time.Duration // integrity_delay (follow mode)
}

// integrityCheck validates the archive while the polling source reads it.
// Within a stream (account and region) the listing goes in time order, so
// the check judges each stream a week at a time (a slice): when the
// listing reaches a slice's first log file, the slice's digests are read
// (from the slice's start to an hour past its end, where its last files
// are named) and sealed — the pre-pass —, and each log file of the slice
// is then judged as a worker reads it: its events carry the verdict, and
// its problems become integrity records. When the listing leaves the
// slice, the files its digests name and that were not listed are
// log_missing. A slice whose log files are all gone is found by its
// digests, which the listing yields after the account's log files.
// Memory: one slice's digest index at a time (about 200 bytes per log
// file: a week of one busy region is ~2,000 files), whatever the window.
type integrityCheck struct {
	o   integrityOptions
	env sourceEnv
	// putFindings queues integrity records in listing order.
	putFindings func(ctx context.Context, t time.Time, fs []integrity.Finding) error

	cur *sliceCheck
	// account is the account the listing is in; done its slices judged
	// in this pass, ends where each region's trails ended in the last
	// slice judged there (the next slice's ChainBefore).
	account accountID
	done    map[sliceID]bool
	ends    map[string]chainEnd
	// reported are the findings of the pre-pass and the slice's end
	// already queued: the overlap of two slices, and a follow pass, judge
	// the same digests again.
	reported map[string]time.Time
	// noKeys: ListPublicKeys failed after its retries; later slices do
	// not ask again in this run.
	noKeys error
}

type accountID struct{ org, account string }

// chainEnd is where a region's trail ended in the slice judged last there.
type chainEnd struct {
	week int64
	end  time.Time
}

// sliceID is one week of one stream (weeks counted from the Unix epoch).
type sliceID struct {
	org, account, region string
	week                 int64
}

// integritySlice is the length of a slice.
const integritySlice = 7 * 24 * time.Hour

func sliceOf(k cloudtrail.Key) sliceID {
	return sliceID{k.OrgID, k.Account, k.Region, k.Time.Unix() / int64(integritySlice/time.Second)}
}

func (id sliceID) span() (time.Time, time.Time) {
	start := time.Unix(id.week*int64(integritySlice/time.Second), 0).UTC()
	return start, start.Add(integritySlice)
}

func (id sliceID) stream() cloudtrail.Stream {
	return cloudtrail.Stream{OrgID: id.org, Account: id.account, Region: id.region, Kind: cloudtrail.KindLog}
}

func (id sliceID) String() string {
	start, _ := id.span()
	where := id.account + " " + id.region
	if id.org != "" {
		where = id.org + "/" + where
	}
	return where + ", week of " + start.Format("2006-01-02")
}

type sliceCheck struct {
	id   sliceID
	idx  *integrity.Index
	last time.Time // the newest delivery time listed, for the record of log_missing
}

func newIntegrityCheck(o integrityOptions, env sourceEnv, putFindings func(context.Context, time.Time, []integrity.Finding) error) *integrityCheck {
	return &integrityCheck{o: o, env: env, putFindings: putFindings, reported: map[string]time.Time{},
		done: map[sliceID]bool{}, ends: map[string]chainEnd{}}
}

// verdict judges one log file from its SHA-256.
type verdict func(sum [32]byte) integrity.Finding

// listed sees every object the listing yields, before the checkpoint. It
// returns whether the object is to be read (digests are not: the pre-pass
// reads them) and, for a log file, how to judge it.
func (c *integrityCheck) listed(ctx context.Context, o cloudtrail.Object) (verdict, bool, error) {
	k := o.Key
	switch {
	case k.Kind == cloudtrail.KindInsight:
		return nil, true, nil // Insights files are in no digest
	case k.Account == "" && uncheckedDigest(c.env, k.Path):
		return nil, false, nil
	case k.Account == "":
		return func([32]byte) integrity.Finding {
			return integrity.Finding{Status: integrity.StatusLogUnverified, Key: k.Path,
				Detail: "not in the CloudTrail key layout (AWSLogs/…/CloudTrail/REGION/YYYY/MM/DD/…): no digest can name it"}
		}, true, nil
	}
	if a := (accountID{k.OrgID, k.Account}); a != c.account {
		// The listing never comes back to an account it left.
		c.account, c.done, c.ends = a, map[sliceID]bool{}, map[string]chainEnd{}
	}
	id := sliceOf(k)
	if c.cur == nil || c.cur.id != id {
		if k.Kind == cloudtrail.KindDigest && c.done[id] {
			return nil, false, nil
		}
		if err := c.endSlice(ctx); err != nil {
			return nil, false, err
		}
		if err := c.startSlice(ctx, id); err != nil {
			return nil, false, err
		}
	}
	if k.Kind == cloudtrail.KindDigest {
		// The slice had no log file listed: every file its digests name
		// is missing, and it is judged at once.
		return nil, false, c.endSlice(ctx)
	}
	if k.Time.After(c.cur.last) {
		c.cur.last = k.Time
	}
	idx := c.cur.idx
	idx.Present(k.Path)
	return func(sum [32]byte) integrity.Finding {
		f, err := idx.Judge(integrity.LogFile{Bucket: c.o.bucket, Key: k.Path, SHA256: sum})
		if err != nil { // not reached: the key parsed as a log file's
			return integrity.Finding{Status: integrity.StatusLogUnverified, Key: k.Path, Detail: err.Error()}
		}
		return f
	}, true, nil
}

// uncheckedDigest reports a digest outside the CloudTrail layout — a
// backfill digest (…_backfill.json.gz) or one moved out of its folder —
// which is not checked yet: the validation is incomplete, and says so. It
// reports whether p is such a digest.
func uncheckedDigest(env sourceEnv, p string) bool {
	if !strings.Contains(path.Base(p), "_CloudTrail-Digest_") {
		return false
	}
	env.st.integrityIncomplete.Add(1)
	env.st.failure("integrity: digest outside the layout", p)
	env.warn.Warn("integrity-layout", fmt.Sprintf("integrity: %s: a digest outside the CloudTrail layout (backfill digests are not checked yet); the files it names are judged without it", p))
	return true
}

// now is the listing's clock (in follow mode, integrity_delay behind).
func (c *integrityCheck) now() time.Time {
	if c.o.list.Now != nil {
		return c.o.list.Now()
	}
	return time.Now()
}

// endPass ends the slice the listing is in (the pass is over).
func (c *integrityCheck) endPass(ctx context.Context) error {
	err := c.endSlice(ctx)
	c.account, c.done, c.ends = accountID{}, map[sliceID]bool{}, map[string]chainEnd{}
	// Forget what a later pass cannot judge again: its files are behind
	// every stream's floor by more than a day.
	for k, t := range c.reported {
		if c.now().Sub(t) > 48*time.Hour {
			delete(c.reported, k)
		}
	}
	return err
}

// abandon drops the slice the listing was in when the listing failed (its
// missing files would be false alarms): the next pass (or run) judges it
// again.
func (c *integrityCheck) abandon() {
	c.cur, c.account, c.done, c.ends = nil, accountID{}, map[sliceID]bool{}, map[string]chainEnd{}
}

func (c *integrityCheck) endSlice(ctx context.Context) error {
	sc := c.cur
	if sc == nil {
		return nil
	}
	c.cur = nil
	sc.idx.ChainEnds(func(_, _, region, trail string, end time.Time) {
		c.ends[region+"\x00"+trail] = chainEnd{sc.id.week, end}
	})
	var out []integrity.Finding
	sc.idx.Missing(func(f integrity.Finding) { out = c.keep(out, f) })
	return c.put(ctx, sc.last, out)
}

// keep appends f to out unless it was queued before (or is valid: a
// digest's verdict is only worth a record when it is a problem).
func (c *integrityCheck) keep(out []integrity.Finding, f integrity.Finding) []integrity.Finding {
	c.env.st.integrity(f.Status)
	if f.Status == integrity.StatusValid {
		return out
	}
	id := f.Status + "\x00" + f.Key
	if _, seen := c.reported[id]; seen {
		return out
	}
	c.reported[id] = findingTime(f, c.now())
	return append(out, f)
}

func (c *integrityCheck) put(ctx context.Context, t time.Time, fs []integrity.Finding) error {
	if len(fs) == 0 {
		return nil
	}
	return c.putFindings(ctx, t, fs)
}

// startSlice is the pre-pass of a slice: it lists and reads the slice's
// digests (from its start — or the stream's resume point — to an hour past
// its end), gets the public keys they need, seals them and queues their
// problems.
func (c *integrityCheck) startSlice(ctx context.Context, id sliceID) error {
	start, end := id.span()
	if t := c.o.list.Start; t.After(start) {
		start = t
	}
	if t := c.o.logStart(id.stream()); t.After(start) {
		start = t
	}
	logEnd := c.o.list.End
	if logEnd.IsZero() {
		logEnd = c.now()
	}
	// A slice's last files are named by the digest an hour after it; in a
	// copy without metadata, that digest's signature is in the next one.
	// So a slice that is not the window's last reads two hours of the next
	// slice's digests, and leaves their own verdicts to that slice.
	digestEnd, reportBefore := logEnd.Add(integrity.DigestLag), time.Time{}
	if logEnd.After(end) {
		logEnd, digestEnd, reportBefore = end, end.Add(2*integrity.DigestLag), end
	}
	opts := c.o.list
	opts.DigestsOnly, opts.IncludeDigest, opts.IncludeInsight = true, false, false
	opts.OrgID, opts.DiscoverOrgs, opts.Accounts, opts.Regions = id.org, false, []string{id.account}, []string{id.region}
	opts.Skipped, opts.StartAfter, opts.StreamStart = nil, nil, nil
	opts.Start, opts.End = start, digestEnd
	idx := integrity.NewIndex(integrity.Options{Keys: c.o.keys, Start: start, End: logEnd,
		// Only the week just before says where the chain was: a slice
		// judged later (one whose files are all gone) would not.
		ChainBefore: func(_, _, region, trail string) (time.Time, bool) {
			e, ok := c.ends[region+"\x00"+trail]
			return e.end, ok && e.week == id.week-1
		}})
	c.cur = &sliceCheck{id: id, idx: idx}
	c.done[id] = true
	digests, err := c.readDigests(ctx, opts, id.org)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// Without its digests, the slice's files cannot be verified:
		// they are log_unverified, and the run is incomplete.
		c.env.logf(LogError, "integrity: listing the digests of %s failed, its log files are not verified: %v", id, err)
		c.env.st.failure("integrity: digests not listed", id.String())
		c.env.st.integrityIncomplete.Add(1)
		digests = nil
	}
	if c.o.fetcher != nil && len(digests) > 0 {
		if err := c.fetchKeys(ctx, digests); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// Judging the digests without their keys would call every one
			// invalid: tampering that did not happen. They are left out
			// instead, and the run is incomplete.
			c.env.warn.Warn("integrity-keys", fmt.Sprintf("integrity: %v (or set public_keys_file): the %d digests of %s are not checked, its log files are not verified", err, len(digests), id))
			c.env.st.failure("integrity: public keys", id.String())
			c.env.st.integrityIncomplete.Add(1)
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
	var out []integrity.Finding
	idx.Seal(func(f integrity.Finding) {
		if k, ok := cloudtrail.ParseKey(f.Key); ok && !reportBefore.IsZero() && !k.Time.Before(reportBefore) {
			return // the next slice's digest: that slice reports it
		}
		out = c.keep(out, f)
	})
	return c.put(ctx, start, out)
}

// readDigests lists one slice's digests and reads them with the
// input's number of workers. A digest that cannot be read is logged and
// left out: its log files are log_unverified, and its successor does not
// call it missing.
func (c *integrityCheck) readDigests(ctx context.Context, opts cloudtrail.ListOptions, org string) ([]integrity.DigestFile, error) {
	lister, err := c.o.newLister(opts)
	if err != nil {
		return nil, err
	}
	var (
		mu   sync.Mutex
		out  []integrity.DigestFile
		wg   sync.WaitGroup
		keys = make(chan string)
	)
	for range max(c.o.workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range keys {
				data, sig, err := c.readDigest(ctx, key)
				mu.Lock()
				if err == nil {
					out = append(out, integrity.DigestFile{Bucket: c.o.bucket, Key: key, Data: data, Signature: sig})
				} else if ctx.Err() == nil {
					c.env.st.integrityIncomplete.Add(1)
					c.env.st.failure("integrity: digest unreadable", key)
					c.env.warn.Warn("integrity", fmt.Sprintf("integrity: %v: the log files this digest names are not verified", err))
					c.cur.idx.AddUnreadable(key)
				}
				mu.Unlock()
			}
		}()
	}
	err = lister.List(ctx, func(o cloudtrail.Object) error {
		if o.Key.OrgID != org { // a local tree may hold the account in both layouts
			return nil
		}
		if err := c.env.gate.wait(ctx); err != nil {
			return err
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
	return out, err
}

// readDigest reads one digest, again after retryable errors.
func (c *integrityCheck) readDigest(ctx context.Context, key string) ([]byte, string, error) {
	for attempt := 0; ; attempt++ {
		data, sig, err := c.o.read(ctx, key)
		if err == nil || !cloudtrail.Retryable(err) || attempt >= c.o.maxRetries || !sleep(ctx, c.env.backoff(attempt)) {
			return data, sig, err
		}
	}
}

// fetchKeys gets the public keys the digests need, again after
// retryable errors; after a failure, later slices do not ask again.
func (c *integrityCheck) fetchKeys(ctx context.Context, digests []integrity.DigestFile) error {
	if c.noKeys != nil {
		return c.noKeys
	}
	for _, d := range digests {
		if k, ok := cloudtrail.ParseKey(d.Key); ok {
			c.o.fetcher.Note(k.Region, k.Time)
		}
	}
	for attempt := 0; ; attempt++ {
		err := c.o.fetcher.Fetch(ctx)
		if err == nil || !cloudtrail.Retryable(err) || attempt >= c.o.maxRetries || !sleep(ctx, c.env.backoff(attempt)) {
			if err != nil && ctx.Err() == nil {
				c.noKeys = err
			}
			return err
		}
	}
}

// findingTime is when a finding happened: the file's delivery, the start
// of a gap, the delivery of a digest (from its key), else def.
func findingTime(f integrity.Finding, def time.Time) time.Time {
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
