package wabin_test

import (
	"fmt"
	"log"

	"github.com/waent/waent/conn/wabin"
)

func Example() {
	ping := wabin.Node{
		Tag: "iq",
		Attrs: wabin.Attrs{
			"id":    "3EB0ABCDEF",
			"type":  "get",
			"xmlns": "w:p",
			"to":    wabin.ServerJID,
		},
		Content: []wabin.Node{{Tag: "ping"}},
	}
	b, err := wabin.Marshal(ping)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("% x\n", b)

	n, err := wabin.Unmarshal(b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n)
	to, _ := n.AttrJID("to")
	_, hasPing := n.Child("ping")
	fmt.Println(to, hasPing)
	// Output:
	// f8 0a 19 08 fb 05 3e b0 ab cd ef 11 fa 00 03 04 29 16 57 f8 01 f8 01 56
	// <iq id="3EB0ABCDEF" to="s.whatsapp.net" type="get" xmlns="w:p"><ping/></iq>
	// s.whatsapp.net true
}
