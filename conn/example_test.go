package conn_test

import (
	"context"
	"fmt"
	"time"

	"github.com/waent/waent/conn"
	"github.com/waent/waent/conn/noise"
	"github.com/waent/waent/conn/wabin"
	"github.com/waent/waent/waenttest"
)

// Connecting to the simulated network and sending an iq: Conn dials,
// handshakes, logs in and keeps the connection alive by itself.
func Example() {
	network, err := waenttest.NewNetwork(waenttest.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer network.Close()

	key, _ := noise.GenerateKeyPair()
	network.RegisterAccount("16315551000", key.Public)

	connected := make(chan struct{}, 1)
	cfg := network.ClientConfig("16315551000", key)
	cfg.OnEvent = func(e conn.Event) {
		if _, ok := e.(conn.Connected); ok {
			connected <- struct{}{}
		}
	}
	c, err := conn.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Start()

	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		fmt.Println("not connected:", c.State())
		return
	}
	reply, err := c.SendIQ(context.Background(), wabin.Node{Tag: "iq", Attrs: wabin.Attrs{"xmlns": "w:p", "type": "get", "to": wabin.ServerJID}})
	fmt.Println(c.State(), reply.AttrString("type"), err)
	// Output: connected result <nil>
}
