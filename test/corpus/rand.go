package corpus

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// rng wraps a seeded PCG source. math/rand/v2's PCG is specified bit for bit,
// so a seed gives the same corpus on every Go version and platform.
type rng struct{ *rand.Rand }

func newRNG(seed int64, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(uint64(seed), stream))}
}

// chance reports true with probability p.
func (r rng) chance(p float64) bool { return r.Float64() < p }

// pick returns a uniformly chosen element.
func pick[T any](r rng, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted picks an index by integer weights.
func (r rng) weighted(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	n := r.IntN(total)
	for i, w := range weights {
		if n < w {
			return i
		}
		n -= w
	}
	return len(weights) - 1
}

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	lowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	hexLower   = "0123456789abcdef"
	mixedAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func (r rng) str(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// uuid is a random (version 4) UUID, the format of eventID and requestID.
func (r rng) uuid() string {
	b := []byte(r.str(hexLower, 32))
	b[12] = '4'
	b[16] = "89ab"[r.IntN(4)]
	return fmt.Sprintf("%s-%s-%s-%s-%s", b[0:8], b[8:12], b[12:16], b[16:20], b[20:32])
}

// awsID is an IAM unique ID or access key: a 4-letter prefix (AIDA, AROA,
// AKIA, ASIA) and 16 upper-case alphanumerics.
func (r rng) awsID(prefix string) string { return prefix + r.str(upperAlnum, 16) }

// publicIP avoids private ranges so addresses look like real callers.
func (r rng) publicIP() string {
	first := pick(r, []int{3, 18, 34, 44, 52, 54, 63, 81, 93, 101, 176, 185, 203})
	return fmt.Sprintf("%d.%d.%d.%d", first, r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

// ctTime formats a time the way CloudTrail writes eventTime.
func ctTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// consoleTime is the "Jan 5, 2017 10:18:22 PM" format OpsWorks CM uses in
// responseElements (createdAt), as in the AWS documentation examples.
func consoleTime(t time.Time) string { return t.UTC().Format("Jan 2, 2006 3:04:05 PM") }
