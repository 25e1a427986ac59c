package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestBenchPrintsOneJSONObject runs a tiny benchmark in both modes: stdout
// is exactly one JSON object, nothing is lost or duplicated, and every
// rate was measured.
func TestBenchPrintsOneJSONObject(t *testing.T) {
	for _, mode := range []string{"steady", "first-contact"} {
		t.Run(mode, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"bench", "-n", "24", "-users", "3", "-c", "4", "-inbound", "9", "--mode", mode, "-progress", "50ms"}, &out, &errOut)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
			var res benchResult
			if err := dec.Decode(&res); err != nil {
				t.Fatalf("stdout %q: %v", out.String(), err)
			}
			if dec.More() {
				t.Fatalf("more than one JSON value on stdout: %q", out.String())
			}
			if res.Lost != 0 || res.Duplicated != 0 || res.Rejected != 0 {
				t.Fatalf("lost %d duplicated %d rejected %d", res.Lost, res.Duplicated, res.Rejected)
			}
			if res.AcceptedPerS <= 0 || res.AckedPerS <= 0 || res.DeliveredPerS <= 0 || res.InboundPerS <= 0 ||
				res.AcceptP50 <= 0 || res.AcceptP99 < res.AcceptP50 || res.E2EP99 < res.E2EP50 || res.E2EP50 <= 0 || res.PeakRSSMB <= 0 {
				t.Fatalf("unmeasured figures: %+v", res)
			}
			wantUsers := 3
			if mode == "first-contact" {
				wantUsers = 24
			}
			if res.Users != wantUsers || res.Messages != 24 || res.Mode != mode {
				t.Fatalf("%+v", res)
			}
			if !strings.Contains(errOut.String(), "bench: sqlite, "+mode+" mode") {
				t.Fatalf("progress on stderr: %q", errOut.String())
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[99-i] = time.Duration(i+1) * time.Millisecond
	}
	if p50, p99 := percentiles(ds); p50 != 50 || p99 != 99 {
		t.Fatalf("p50 %v p99 %v", p50, p99)
	}
	if p50, p99 := percentiles(nil); p50 != 0 || p99 != 0 {
		t.Fatal("empty")
	}
}
