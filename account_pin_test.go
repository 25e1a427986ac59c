package waent_test

import (
	"context"
	"errors"
	"testing"

	"github.com/waent/waent"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/waenttest"
)

// With two-step verification on, registering needs the PIN.
func TestRegisterNeedsTwoStepPIN(t *testing.T) {
	net := waenttest.New(t)
	c, err := waent.New(testConfig(net, memstore.New()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTwoStepPIN(ctx, "123456"); err != nil {
		t.Fatal(err)
	}
	req := waent.RegisterRequest{CC: businessCC, PhoneNumber: businessNumber, Method: "sms"}
	for pin, code := range map[string]int{"": 1008, "654321": 1005} {
		req.Pin = pin
		var we *waent.Error
		if _, err := c.Register(ctx, req); !errors.As(err, &we) || we.Code != code {
			t.Errorf("Register with pin %q: %v, want code %d", pin, err, code)
		}
		if _, issued := net.Registration().IssuedCode(businessCC, businessNumber); issued {
			t.Fatalf("a code was requested with pin %q", pin)
		}
	}
	req.Pin = "123456"
	if _, err := c.Register(ctx, req); err != nil {
		t.Fatalf("Register with the PIN: %v", err)
	}
	if _, issued := net.Registration().IssuedCode(businessCC, businessNumber); !issued {
		t.Fatal("no code requested with the right PIN")
	}
}
