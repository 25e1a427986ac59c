package memstore_test

import (
	"testing"

	"github.com/waent/waent/store"
	"github.com/waent/waent/store/memstore"
	"github.com/waent/waent/store/storetest"
)

func TestMediaBlobsConformance(t *testing.T) {
	storetest.RunMediaStore(t, func(t *testing.T) store.MediaStore { return memstore.NewMedia() })
}
