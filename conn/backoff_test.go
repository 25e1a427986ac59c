package conn

import (
	"testing"
	"time"
)

func TestBackoffIsCappedFullJitter(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n := 1; n <= 40; n++ {
		ceiling := hi
		if n < 6 {
			ceiling = min(hi, lo<<(n-1))
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			d := backoff(n, lo, hi)
			if d <= 0 || d > ceiling {
				t.Fatalf("backoff(%d) = %v, want in (0, %v]", n, d, ceiling)
			}
			seen[d] = true
		}
		// Full jitter: the waits spread over the range instead of all
		// clients waking together.
		if len(seen) < 150 {
			t.Fatalf("backoff(%d) produced only %d distinct waits in 200 draws", n, len(seen))
		}
	}
}
