package filemedia_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/waent/waent/store/filemedia"
)

func Example() {
	dir, err := os.MkdirTemp("", "media")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	media, err := filemedia.New(dir)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	n, err := media.Put(ctx, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68", strings.NewReader("%PDF-1.7 ..."))
	fmt.Println(n, err)
	f, err := media.Open(ctx, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68")
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	fmt.Printf("%s\n", b)
	_, err = media.Put(ctx, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68", strings.NewReader("again"))
	fmt.Println(err)
	// Output:
	// 12 <nil>
	// %PDF-1.7 ...
	// store: conflict: media f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68 exists
}
