package engine

import "context"

// DeliveryStateReader is implemented by stores that read the deliveries of given
// messages without their content (SQLite): a bulk job follows what became of the
// deliveries it queued with it.
type DeliveryStateReader interface {
	// DeliveryStates returns the deliveries of each of the messages (in the order of their
	// destinations); a message without deliveries, or that does not exist (any more), is
	// absent from the map.
	DeliveryStates(ctx context.Context, ids []int64) (map[int64][]DestinationStatus, error)
}
