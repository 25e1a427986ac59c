package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/waent/waent"
	"github.com/waent/waent/webhook"
)

// BenchmarkPostMessages measures POST /v1/messages through the handler
// (authentication, decoding, validation, Client.Send with its durable
// enqueue on memstore), served in-process so that the number is the
// handler's and not the loopback socket's. The recipient is a simulated
// phone that is online, so the outbox delivers while requests arrive, as
// in production. "serial" is one request at a time; "parallel" is
// GOMAXPROCS×8 concurrent clients, where the outbox's group commit pays.
func BenchmarkPostMessages(b *testing.B) {
	a := newAPI(b, apiOptions{cfg: func(c *waent.Config) {
		// Statuses go to a sink that takes them, so the callback queue
		// never reaches its bound and answers 1016 mid-benchmark.
		c.Webhook = webhook.FuncSink(func(context.Context, []byte) error { return nil })
	}})
	u := msgNewUser(b, a, "16315551090")
	token := "Bearer " + a.admin
	post := func(i int64) error {
		body := fmt.Sprintf(`{"to":"%s","type":"text","text":{"body":"bench %d"}}`, u.Phone(), i)
		req := httptest.NewRequest("POST", "/v1/messages", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", token)
		rec := httptest.NewRecorder()
		a.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			return fmt.Errorf("POST /v1/messages: %d %s", rec.Code, rec.Body.Bytes())
		}
		return nil
	}
	if err := post(-1); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		var i int64
		for b.Loop() {
			i++
			if err := post(i); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Int64
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := post(n.Add(1)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
	})
}
