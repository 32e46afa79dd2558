package availability_test

import (
	"testing"

	"github.com/careslot/careslot/internal/testenv"
)

// TestOnRedisCluster runs every test that touches Redis again on a Redis
// Cluster (three masters, three replicas): the hash-tagged keys, the
// scripts, the transactions, the SCANs and pub/sub must all work there.
func TestOnRedisCluster(t *testing.T) {
	testenv.RunOnRedisCluster(t,
		"TestEntitiesThroughTheHandler", "TestConsumersEndToEnd",
		"TestSlotsChangedAcrossInstances", "TestSlotsChangedLeavesNothingBehind",
		"TestScheduleEventBuildsWindowAndListsLikeSlotsOpen", "TestBookingEventsTakeAndFreeSlots",
		"TestBookingBeforeScheduleAndInvalidInput", "TestMaintenanceRollsTheWindow",
		"TestRebuildReproducesTheIncrementalModel", "TestRebuildInPlaceDropsWhatTheExportsLack",
		"TestExportNextSlotsSeesEveryPractitioner")
}
