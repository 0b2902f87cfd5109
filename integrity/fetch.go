package integrity

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/opsworks-trail/opsworks-trail/cloudtrail"
)

// LoadPublicKeysFiles reads files in the JSON `aws cloudtrail
// list-public-keys` prints (one per region, or merged); errors name the
// file.
func LoadPublicKeysFiles(files []string) (PublicKeys, error) {
	keys := PublicKeys{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if err := keys.ParsePublicKeysJSON(f, b); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// KeyFetcher fills a PublicKeys set from CloudTrail's ListPublicKeys,
// region by region, for the time span of the digests that need them. Keys
// rotate, and without a start time ListPublicKeys returns the current key
// only, so it asks for the span the digests cover (with an hour's margin
// each side), and again only when a later account's digests reach beyond
// what was asked. Safe for concurrent use.
type KeyFetcher struct {
	// Keys is the set filled (shared with the verifier's Options.Keys).
	Keys PublicKeys
	// List is ListPublicKeys for one region and span.
	List func(ctx context.Context, region string, start, end time.Time) ([]cloudtrail.PublicKey, error)

	mu      sync.Mutex
	need    map[string]span // digest delivery times seen, by region
	fetched map[string]span // asked already, by region
}

type span struct{ first, last time.Time }

func (s span) covers(o span) bool { return !o.first.Before(s.first) && !o.last.After(s.last) }

// Note records a digest of region delivered at t, whose key Fetch must get.
func (f *KeyFetcher) Note(region string, t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.need == nil {
		f.need = map[string]span{}
	}
	s, ok := f.need[region]
	if !ok || t.Before(s.first) {
		s.first = t
	}
	if t.After(s.last) {
		s.last = t
	}
	f.need[region] = s
}

// Fetch lists the keys of every region and span noted and not asked yet.
// Errors name the region.
func (f *KeyFetcher) Fetch(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetched == nil {
		f.fetched = map[string]span{}
	}
	for region, s := range f.need {
		if got, ok := f.fetched[region]; ok && got.covers(s) {
			continue
		}
		// A digest delivered at t is signed with the key valid over its
		// period, which ends at t or a little before.
		list, err := f.List(ctx, region, s.first.Add(-2*time.Hour), s.last.Add(time.Hour))
		if err != nil {
			return fmt.Errorf("public keys: %w", err)
		}
		for _, k := range list {
			if err := f.Keys.Add(k.Fingerprint, k.Value); err != nil {
				return fmt.Errorf("public keys of %s: %w", region, err)
			}
		}
		f.fetched[region] = s
	}
	return nil
}
