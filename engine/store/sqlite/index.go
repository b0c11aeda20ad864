package sqlite

import (
	"errors"
	"fmt"
)

// indexOp adds documents to the full-text index and moves its cursor from from to
// through (every message in between is indexed, or has no text).
type indexOp struct {
	from, through int64
	docs          []indexDoc
}

type indexDoc struct {
	id   int64
	body []byte
}

// apply is never called: an index batch runs in a transaction of its own (indexBatch).
func (*indexOp) apply(*writer) (itemErr, fatal error) {
	return errors.New("sqlite: an index batch runs in its own transaction"), nil
}

// indexBatch adds one batch of documents to the full-text index in its own transaction
// (synchronous=NORMAL: a batch lost to a power cut is indexed again, since the cursor is
// committed with it). It checks the cursor first, so a batch is never indexed twice.
func (w *writer) indexBatch(op *indexOp) error {
	if err := w.setSync([]*request{{op: op}}); err != nil {
		return err
	}
	if _, err := w.begin.Exec(); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	err := func() error {
		var at int64
		if err := w.indexedTo.QueryRow().Scan(&at); err != nil {
			return err
		}
		if at != op.from {
			return fmt.Errorf("index cursor is at %d, not %d", at, op.from)
		}
		for _, d := range op.docs {
			if _, err := w.insSearch.Exec(d.id, d.body); err != nil {
				return fmt.Errorf("message %d: %w", d.id, err)
			}
		}
		if _, err := w.setIndexedTo.Exec(op.through); err != nil {
			return err
		}
		_, err := w.commit.Exec()
		return err
	}()
	if err != nil {
		_, _ = w.rollback.Exec()
		return fmt.Errorf("sqlite: index: %w", err)
	}
	w.s.commits.Add(1)
	return nil
}
