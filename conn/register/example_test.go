package register_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"

	"github.com/waent/waent/conn/register"
	"github.com/waent/waent/waenttest/regserver"
)

// Registering a number against the simulated registration service: ask
// for a code, read the code the service "sent", submit it. The chat
// server then accepts logins with the registered Noise key.
func Example() {
	ctx := context.Background()
	service := regserver.New(regserver.Options{})
	web := httptest.NewServer(service)
	defer web.Close()

	id := register.Identity{CC: "1", Phone: "6315550000", RegistrationID: 1234, SignedPreKeyID: 1}
	rand.Read(id.InstallID[:])
	rand.Read(id.NoisePub[:]) // in real use: the public half of the Noise static key pair
	rand.Read(id.IdentityPub[:])
	rand.Read(id.SignedPreKeyPub[:])
	rand.Read(id.SignedPreKeySig[:])

	c := &register.Client{BaseURL: web.URL}
	res, err := c.RequestCode(ctx, id, "sms")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Status, res.Method, res.Length)

	code, _ := service.IssuedCode("1", "6315550000") // what the SMS said
	if err := c.Register(ctx, id, code); err != nil {
		fmt.Println(err)
		return
	}
	key, ok := service.Registered("16315550000")
	fmt.Println(ok, key == id.NoisePub)

	exists, err := c.Exists(ctx, id)
	fmt.Println(exists, err)
	// Output:
	// sent sms 6
	// true true
	// true <nil>
}
