package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"junction/engine"
)

// DeliveryStates implements engine.MessageLog: one read transaction, one rowid
// range of deliveries per message id (pageDeliveriesSQL), no content.
func (s *Store) DeliveryStates(ctx context.Context, ids []int64) (map[int64][]engine.DestinationStatus, error) {
	out := make(map[int64][]engine.DestinationStatus, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var js strings.Builder
	js.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			js.WriteByte(',')
		}
		js.WriteString(strconv.FormatInt(id, 10))
	}
	js.WriteByte(']')
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, pageDeliveriesSQL, js.String())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var did, next, upd int64
			var ds engine.DestinationStatus
			if err := rows.Scan(&did, &ds.Name, &ds.Status, &ds.Attempts, &next, &ds.LastError, &upd); err != nil {
				return err
			}
			fillTimes(&ds, next, upd)
			out[did>>8] = append(out[did>>8], ds)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: DeliveryStates: %w", err)
	}
	return out, nil
}
