package input

import (
	"context"
	"fmt"
	"time"

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
// source's configuration; the source fills in the listing.
type integrityOptions struct {
	integrity.CheckerOptions
	delay time.Duration // integrity_delay (follow mode)
}

// newIntegrityCheck is the polling source's integrity.Checker (see there
// for how an archive is judged week by week): findings are counted in the
// stats, problems queued as integrity records (in listing order), and
// what could not be checked is counted, logged and makes the run
// incomplete.
func newIntegrityCheck(o integrityOptions, env sourceEnv) *integrity.Checker {
	co := o.CheckerOptions
	co.Wait = env.gate.wait
	co.Backoff = env.backoff
	co.Report = func(ctx context.Context, t time.Time, fs []integrity.Finding) error {
		var problems []integrity.Finding
		for _, f := range fs {
			env.st.integrity(f.Status)
			if f.Status != integrity.StatusValid { // a valid digest is only counted
				problems = append(problems, f)
			}
		}
		if len(problems) == 0 {
			return nil
		}
		return env.putFindings(ctx, t, problems)
	}
	co.Incomplete = func(reason, what, detail string) error {
		env.st.integrityIncomplete.Add(1)
		env.st.failure("integrity: "+reason, what)
		env.warn.Warn("integrity: "+reason, fmt.Sprintf("integrity: %s: %s", what, detail))
		return nil
	}
	return integrity.NewChecker(co)
}
