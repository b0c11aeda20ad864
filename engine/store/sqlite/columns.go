package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"junction/engine"
)

// Custom metadata columns (engine/columns.go) live in message_columns (schema.go): one
// row per message and non-empty value, written in Accept's transaction, removed with
// the message's content by a trigger.

const insColumnSQL = `INSERT INTO message_columns (message_id, name, value) VALUES (?, ?, ?)`

// pageColumnsSQL reads the columns of a page of messages (a JSON array of ids).
const pageColumnsSQL = `
	SELECT c.message_id, c.name, c.value
	FROM json_each(?) j CROSS JOIN message_columns c ON c.message_id = j.value`

// insertColumns stores the accepted message's column values. On failure it undoes the
// message (the trigger takes the columns inserted so far with its content).
func (w *writer) insertColumns(a *acceptOp, id int64) (itemErr, fatal error) {
	for name, value := range a.columns {
		if value == "" {
			continue
		}
		if _, err := w.insColumn.Exec(id, name, value); err != nil {
			err = fmt.Errorf("sqlite: insert column %s: %w", name, err)
			if _, e := w.delContent.Exec(id); e != nil {
				return nil, errors.Join(err, e)
			}
			if _, e := w.delMsg.Exec(id); e != nil {
				return nil, errors.Join(err, e)
			}
			return err, nil
		}
	}
	return nil, nil
}

// columnConds adds f.Columns' conditions to a ListMessages query: each is answered from
// message_columns_value (an exact value, or a prefix as a range of it).
func columnConds(f engine.MessageFilter, where []string, args []any) ([]string, []any, error) {
	if len(f.Columns) == 0 {
		return where, args, nil
	}
	if len(f.Columns) > engine.MaxColumns {
		return nil, nil, &FilterError{"columns", fmt.Sprintf("at most %d column filters, got %d", engine.MaxColumns, len(f.Columns))}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Columns)) {
		if !engine.ValidColumnName(name) {
			return nil, nil, &FilterError{"col." + name, "not a column name (letters, digits and _, starting with a letter)"}
		}
		value := f.Columns[name]
		switch prefix, ok := strings.CutSuffix(value, "*"); {
		case !ok:
			where = append(where, "id IN (SELECT message_id FROM message_columns WHERE name = ? AND value = ?)")
			args = append(args, name, value)
		case prefix == "":
			where = append(where, "id IN (SELECT message_id FROM message_columns WHERE name = ?)")
			args = append(args, name)
		default:
			// Every text starting with prefix sorts between it and prefix followed by a byte
			// no UTF-8 text holds.
			where = append(where, "id IN (SELECT message_id FROM message_columns WHERE name = ? AND value >= ? AND value < ?)")
			args = append(args, name, prefix, prefix+"\xff")
		}
	}
	return where, args, nil
}

// pageColumns fills in the columns of a page of messages (ids: a JSON array of their ids).
func pageColumns(ctx context.Context, tx *sql.Tx, ids string, out []engine.MessageSummary, byID map[int64]int) error {
	rows, err := tx.QueryContext(ctx, pageColumnsSQL, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name, value string
		if err := rows.Scan(&id, &name, &value); err != nil {
			return err
		}
		if i, ok := byID[id]; ok {
			if out[i].Columns == nil {
				out[i].Columns = map[string]string{}
			}
			out[i].Columns[name] = value
		}
	}
	return rows.Err()
}

// messageColumns reads one message's columns (nil when none).
func messageColumns(ctx context.Context, tx *sql.Tx, id int64) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, value FROM message_columns WHERE message_id = ?`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[string]string
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = value
	}
	return out, rows.Err()
}
