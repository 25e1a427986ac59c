package noise_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/waent/waent/conn/noise"
)

// A server on loopback with its own root of trust, a client that trusts
// that root, one handshake and one frame each way.
func Example() {
	root, _ := noise.GenerateKeyPair()
	intermediate, _ := noise.GenerateKeyPair()
	serverKey, _ := noise.GenerateKeyPair()
	clientKey, _ := noise.GenerateKeyPair()
	chain, err := noise.NewCertChain(root, intermediate, serverKey.Public, time.Now().Add(-time.Minute), time.Now().Add(time.Hour))
	if err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		sock, res, err := noise.Server(ctx, c, noise.ServerConfig{
			Static:    serverKey,
			CertChain: chain,
			Authenticate: func(clientStatic [32]byte, payload []byte) error {
				if clientStatic != clientKey.Public {
					return fmt.Errorf("unknown key")
				}
				return nil
			},
		})
		if err != nil {
			served <- err
			return
		}
		defer sock.Close()
		fmt.Printf("server: client logged in with payload %q\n", res.Payload)
		frame, err := sock.ReadFrame()
		if err != nil {
			served <- err
			return
		}
		served <- sock.WriteFrame(append([]byte("echo: "), frame...))
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	sock, err := noise.Client(ctx, c, noise.ClientConfig{
		Static:  clientKey,
		Payload: []byte("ClientPayload bytes"),
		RootKey: root.Public,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sock.Close()
	if err := sock.WriteFrame([]byte("hello")); err != nil {
		log.Fatal(err)
	}
	reply, err := sock.ReadFrame()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("client: %s\n", reply)
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	// Output:
	// server: client logged in with payload "ClientPayload bytes"
	// client: echo: hello
}
