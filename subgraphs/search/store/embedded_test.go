package store_test

import (
	"testing"

	"github.com/careslot/careslot/subgraphs/search/indextest"
	"github.com/careslot/careslot/subgraphs/search/store"
)

func TestEmbeddedSuite(t *testing.T) {
	t.Parallel()
	indextest.Run(t, func(*testing.T) store.Index { return store.NewEmbedded() })
}
