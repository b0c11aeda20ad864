package engine

import "context"

// SafeSendForTest exposes safeSend to the external test package.
func SafeSendForTest(d Destination, dl *Delivery) Outcome {
	return safeSend(context.Background(), d, dl)
}
