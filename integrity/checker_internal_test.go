package integrity

import (
	"testing"
	"time"
)

// keep remembers only recent findings (a follow pass may judge them
// again), so a backfill of years holds none of its verdicts in memory; a
// recent finding is reported once.
func TestCheckerRemembersOnlyRecentFindings(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	c := NewChecker(CheckerOptions{})
	c.o.List.Now = func() time.Time { return now }
	old, recent := now.AddDate(-3, 0, 0), now.Add(-time.Hour)
	for i := range 3 {
		for _, at := range []time.Time{old, recent} {
			f := Finding{Status: StatusValid, Key: "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/x" + at.Format(time.RFC3339), Delivered: &at}
			got := c.keep(nil, f)
			if want := at.Equal(old) || i == 0; (len(got) == 1) != want {
				t.Errorf("pass %d, finding of %s: reported %v, want %v", i, at, len(got) == 1, want)
			}
		}
	}
	if len(c.reported) != 1 {
		t.Errorf("%d findings remembered, want only the recent one", len(c.reported))
	}
}
