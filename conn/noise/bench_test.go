package noise

import (
	"testing"
)

// BenchmarkFramesLoopback measures the transport: 1 KiB frames written by
// a client Socket and read by the server Socket over loopback TCP after a
// real handshake. b.SetBytes makes MB/s the plaintext throughput.
func BenchmarkFramesLoopback(b *testing.B) {
	p := newPKI(b)
	cs, ss, _ := mustHandshake(b, p.clientConfig(b), p.serverConfig())
	msg := make([]byte, 1024)
	errc := make(chan error, 1)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for range b.N {
			if err := cs.WriteFrame(msg); err != nil {
				errc <- err
				return
			}
		}
		errc <- nil
	}()
	for range b.N {
		if _, err := ss.ReadFrame(); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkHandshake measures a full handshake, both sides, over a fresh
// loopback TCP connection each time (certificate verification included).
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b)
	ccfg, scfg := p.clientConfig(b), p.serverConfig()
	b.ReportAllocs()
	for b.Loop() {
		cs, cerr, so := handshake(b, ccfg, scfg)
		if cerr != nil || so.err != nil {
			b.Fatalf("client %v, server %v", cerr, so.err)
		}
		cs.Close()
		so.sock.Close()
	}
}
