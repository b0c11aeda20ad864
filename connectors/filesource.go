package connectors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"junction/engine"
	"junction/transforms"
)

// fileSourceFields are the file source's keys: its Build reads them by these specs.
var fileSourceFields = []engine.FieldSpec{
	{Name: "dir", Type: "path", Required: true, Description: "folder to read (its own files, not its sub-folders), relative to the routes.yaml folder; created at start if missing. One channel reads a folder", Example: "in/lab"},
	{Name: "glob", Type: "pattern", Default: "*", Description: "names to read (a pattern on the file name). Temporary names are never read, whatever the glob: starting with . or ~, ending with ~, .tmp, .temp, .part, .partial, .filepart, .crdownload or .swp", Example: "*.hl7"},
	{Name: "poll", Type: "duration", Default: "5s", Description: "how often the folder is looked at"},
	{Name: "settle", Type: "duration", Default: "2s", Description: "a file is read once it has not been modified for this long (its mtime), so a file still being written is not read half; one whose mtime is ahead of the clock counts from when it was first seen unchanged"},
	{Name: "after", Type: "delete or {move: DIR}", DefaultNote: "{move: DIR/processed}", Description: "what becomes of a file once all its messages are stored: moved into DIR (relative to the routes.yaml folder; created at start; a name taken there gets the time before its extension) or deleted", Example: "delete"},
	{Name: "after.move", Type: "path", Required: true, Description: "with after: the folder processed files are moved into", Example: "in/lab/done"},
	{Name: "error_dir", Type: "path", DefaultNote: "DIR/error", Description: "where a file that cannot be read as messages goes (unreadable, larger than max_file_bytes, empty, not HL7v2), with NAME.reason saying why; relative to the routes.yaml folder, created at start"},
	{Name: "data_type", Type: "text", Default: "Hl7v2", Description: "Hl7v2 (each message read in the character set its MSH-18 names), FHIR or CSV (one message a file, UTF-8)"},
	{Name: "max_file_bytes", Type: "size", Default: "10MB", Description: "larger files go to error_dir"},
}

func init() {
	engine.RegisterSource(engine.SourceSpec{
		Type:    "file",
		Summary: "Reads the files dropped in a folder, oldest first, once each has settled: an HL7v2 file's messages (one, several, or a batch) are each processed as the mllp source processes them, in order; a FHIR or CSV file is one message. Once every message of a file is stored the file is moved to the processed folder (or deleted); a file that cannot be read as messages goes to error_dir with NAME.reason beside it. Restarting after a crash between storing a file's messages and moving it does not log them twice.",
		Fields:  fileSourceFields,
		Build:   buildFileSource,
	})
}

// fileSource reads one folder for one channel: an engine.Service whose poll loop runs
// from Start to Stop.
type fileSource struct {
	channel      *engine.Channel
	eng          *engine.Engine
	dir, glob    string
	poll, settle time.Duration
	moveTo       string // "" with after: delete
	errorDir     string
	dataType     string
	maxBytes     int64
	line         int // of dir

	// current is the channel the running poll loop hands messages to: channel, until the
	// source of a reloaded configuration takes the loop over (TakeOver).
	current  atomic.Pointer[engine.Channel]
	takenBy  *fileSource // set on the source that took another's loop over: Stop stops that
	log      *slog.Logger
	ctx      context.Context // ended by a Stop that runs out of time
	cancel   context.CancelFunc
	stopping chan struct{} // closed by Stop: no file is started after it
	done     chan struct{} // closed when the poll loop has ended
	seen     map[string]*fileSeen
	dirErr   string // the last failure to read the folder logged
}

// fileSeen is what the source knows of a file in its folder, kept while the file is in
// the same state (size and mtime).
type fileSeen struct {
	size      int64
	mtime     time.Time
	since     time.Time // when this state was first seen
	committed bool      // every message of the file is stored: only the move is left
	rejected  string    // why it goes to error_dir: only the move is left
	lastErr   string    // the last failure logged, so it is logged once
}

// dropFile is a file in the folder as listed.
type dropFile struct {
	name, path string
	size       int64
	mtime      time.Time
}

func buildFileSource(n *engine.Node, ch *engine.Channel, e *engine.Engine) {
	rel := func(p string) string {
		if p != "" && !filepath.IsAbs(p) {
			p = filepath.Join(e.Dir, p)
		}
		return filepath.Clean(p)
	}
	s := &fileSource{channel: ch, eng: e, line: lineOf(n, "dir")}
	n = n.WithSpec(fileSourceFields)
	dir := n.Str("dir")
	s.glob = n.Str("glob")
	if _, err := filepath.Match(s.glob, ""); err != nil || strings.TrimSpace(s.glob) == "" || strings.ContainsAny(s.glob, `/\`) {
		n.ErrorAt(n.Raw("glob"), n.Path+".glob", "expected a pattern on file names such as *.hl7 (no folders), got %q", s.glob)
	}
	s.poll = n.Dur("poll")
	if s.poll <= 0 {
		n.ErrorAt(n.Raw("poll"), n.Path+".poll", "must be more than 0 (e.g. 5s)")
	}
	s.settle = n.Dur("settle")
	s.maxBytes = n.Bytes("max_file_bytes")
	s.dataType = n.Str("data_type")
	if !validDataType(s.dataType) {
		n.ErrorAt(n.Raw("data_type"), n.Path+".data_type", "unknown data type %q (expected Hl7v2, FHIR or CSV, spelt exactly so)", s.dataType)
		s.dataType = transforms.HL7v2
	}
	ch.DataTypes = []string{s.dataType}
	if dir == "" {
		return
	}
	s.dir = rel(dir)
	s.moveTo = readAfter(n, rel, filepath.Join(s.dir, "processed"))
	s.errorDir = filepath.Join(s.dir, "error")
	if ed := n.Str("error_dir"); ed != "" {
		s.errorDir = rel(ed)
	} else if n.Has("error_dir") {
		n.ErrorAt(n.Raw("error_dir"), n.Path+".error_dir", "must not be empty (leave it out for %s)", filepath.Join(dir, "error"))
	}
	if s.moveTo == s.dir {
		n.ErrorAt(n.Raw("after"), n.Path+".after", "moves processed files into dir itself, where they would be read again: name another folder")
	}
	if s.errorDir == s.dir {
		n.ErrorAt(n.Raw("error_dir"), n.Path+".error_dir", "is dir itself, where files would be read again: name another folder")
	}
	ch.SourceInfo = "file " + filepath.Join(dir, s.glob)
	if !ch.Enabled {
		return
	}
	if other, ok := e.Service("file", s.dir).(*fileSource); ok {
		n.ErrorAt(n.Raw("dir"), n.Path+".dir", "channel %s (line %d) already reads %s: one channel reads a folder (give each channel its own, or one channel with filters)", other.channel.Name, other.line, dir)
		return
	}
	e.AddService("file", s.dir, s.line, n.Path+".dir", s)
}

// readAfter reads after: delete (""), or {move: DIR}; def when absent.
func readAfter(n *engine.Node, rel func(string) string, def string) string {
	y := n.Raw("after")
	switch {
	case y == nil:
		return def
	case y.Kind == yaml.ScalarNode && y.Value == "delete":
		return ""
	case y.Kind == yaml.MappingNode:
		a := n.Block("after")
		to := a.Str("move")
		a.CheckUnknown()
		if to == "" {
			return def
		}
		return rel(to)
	}
	got := "a list"
	if y.Kind == yaml.ScalarNode {
		got = fmt.Sprintf("%q", y.Value)
	}
	n.ErrorAt(y, n.Path+".after", "expected delete or {move: DIR}, got %s", got)
	return def
}

// Prepare creates the folders (dir, the processed folder, error_dir) when missing and
// checks that they can be written and read (a reload checks its new sources so before it
// changes anything); Start starts polling.
func (s *fileSource) Prepare(context.Context) error {
	for _, d := range []string{s.dir, s.moveTo, s.errorDir} {
		if d == "" {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("cannot create folder: %w", err)
		}
		f, err := os.CreateTemp(d, ".junction-probe-*") // a name the source never reads
		if err != nil {
			return fmt.Errorf("cannot write in folder %s: %w", d, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	if _, err := os.ReadDir(s.dir); err != nil {
		return fmt.Errorf("cannot read folder: %w", err)
	}
	return nil
}

// Start checks the folders (Prepare) and starts polling.
func (s *fileSource) Start(ctx context.Context) error {
	if err := s.Prepare(ctx); err != nil {
		return err
	}
	s.current.Store(s.channel)
	s.log = s.eng.Log.With("channel", s.channel.Name, "dir", s.dir)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.stopping, s.done = make(chan struct{}), make(chan struct{})
	s.seen = map[string]*fileSeen{}
	go s.run()
	s.log.Info("reading files", "glob", s.glob, "poll", s.poll.String())
	return nil
}

// TakeOver makes the running poll loop of old, the source of the same folder in the
// configuration a reload replaces, hand the next files' messages to s's channel: the
// loop, and what it knows of the folder's files, go on. It cannot when the source's
// settings changed (then the engine stops old, which finishes its file, and starts s).
func (s *fileSource) TakeOver(old engine.Service) bool {
	o, ok := old.(*fileSource)
	if ok && o.takenBy != nil { // o took an older one's loop over: that loop runs
		o = o.takenBy
	}
	if !ok || o.done == nil || o.glob != s.glob || o.poll != s.poll || o.settle != s.settle ||
		o.moveTo != s.moveTo || o.errorDir != s.errorDir || o.dataType != s.dataType || o.maxBytes != s.maxBytes ||
		o.channel.Name != s.channel.Name {
		return false
	}
	o.current.Store(s.channel)
	s.takenBy = o
	return true
}

// Stop stops polling and waits for the file in progress to be finished; when ctx ends
// first it stops after the message in progress (the file stays, and what is stored of
// it is not stored again at the next start).
func (s *fileSource) Stop(ctx context.Context) error {
	if s.takenBy != nil {
		return s.takenBy.Stop(ctx)
	}
	if s.done == nil {
		return nil
	}
	close(s.stopping)
	var err error
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancel()
		<-s.done
		err = ctx.Err()
	}
	s.cancel()
	s.done = nil
	return err
}

func (s *fileSource) stopped() bool {
	select {
	case <-s.stopping:
		return true
	default:
		return false
	}
}

// run polls the folder until Stop: at once, then every poll after each pass.
func (s *fileSource) run() {
	defer close(s.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
		if s.eng.SourceRefusal(s.current.Load()) != nil {
			t.Reset(s.poll) // stopped or paused by an operator: the files wait in place
			continue
		}
		files, err := s.list(time.Now())
		if err != nil {
			s.failure(nil, "cannot read the folder; trying again at the next poll", err)
		} else {
			s.dirErr = ""
		}
		for _, f := range files {
			if s.stopped() {
				return
			}
			if s.eng.SourceRefusal(s.current.Load()) != nil {
				break
			}
			s.processFile(f)
		}
		t.Reset(s.poll)
	}
}

// list returns the files of the folder to read now, oldest first (mtime, then name):
// regular files, not temporary names, matching the glob, settled.
func (s *fileSource) list(now time.Time) ([]dropFile, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var out []dropFile
	seen := make(map[string]*fileSeen, len(s.seen))
	for _, de := range entries {
		name := de.Name()
		if !de.Type().IsRegular() || tempName(name) {
			continue
		}
		if ok, _ := filepath.Match(s.glob, name); !ok {
			continue
		}
		info, err := de.Info()
		if err != nil {
			continue // gone since it was listed
		}
		f := dropFile{name: name, path: filepath.Join(s.dir, name), size: info.Size(), mtime: info.ModTime()}
		st := s.seen[name]
		if st == nil || st.size != f.size || !st.mtime.Equal(f.mtime) {
			st = &fileSeen{size: f.size, mtime: f.mtime, since: now}
		}
		seen[name] = st
		age := now.Sub(f.mtime)
		if age < 0 { // mtime ahead of our clock: count from when it was first seen so
			age = now.Sub(st.since)
		}
		if age >= s.settle {
			out = append(out, f)
		}
	}
	s.seen = seen
	sort.Slice(out, func(i, j int) bool {
		if !out[i].mtime.Equal(out[j].mtime) {
			return out[i].mtime.Before(out[j].mtime)
		}
		return out[i].name < out[j].name
	})
	return out, nil
}

// tempName reports whether a file name is one writers use while writing (or editors
// beside the file): such files are never read.
func tempName(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "~") || strings.HasSuffix(name, "~") {
		return true
	}
	switch strings.ToLower(filepath.Ext(name)) {
	case ".tmp", ".temp", ".part", ".partial", ".filepart", ".crdownload", ".swp":
		return true
	}
	return false
}

// errChanged: the file changed while it was read (it is still being written).
var errChanged = errors.New("the file changed while it was read")

// processFile reads one file, stores its messages in order and moves it on; a file that
// cannot be read as messages goes to error_dir. What fails on our side (the store) leaves
// the file where it is, for the next poll.
func (s *fileSource) processFile(f dropFile) {
	st := s.seen[f.name]
	switch {
	case st != nil && st.committed:
		s.finish(f, -1)
		return
	case st != nil && st.rejected != "":
		s.reject(f, st.rejected)
		return
	case f.size > s.maxBytes:
		s.reject(f, fmt.Sprintf("the file is %d bytes, larger than max_file_bytes (%s)", f.size, humanSize(s.maxBytes)))
		return
	}
	received := time.Now()
	content, err := s.read(f)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errChanged):
		return // taken away, or still being written: the next poll sees
	case err != nil:
		s.reject(f, "the file cannot be read: "+err.Error())
		return
	}
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])
	ins, reason := s.messages(f, content, digest, received)
	if reason != "" {
		s.reject(f, reason)
		return
	}
	if !s.commit(f, digest, ins) {
		return
	}
	if st != nil {
		st.committed = true
	}
	s.finish(f, len(ins))
}

// read reads a file whole, checking that it is the size and age it was listed with.
func (s *fileSource) read(f dropFile) ([]byte, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, s.maxBytes+1))
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(f.path)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != f.size || info.Size() != f.size || !info.ModTime().Equal(f.mtime) {
		return nil, errChanged
	}
	return b, nil
}

var utf8BOM = []byte("\xef\xbb\xbf")

// messages splits a file's content into the messages its channel gets, with their
// metadata (filename, file-sha256, file-index; charset for HL7v2); reason says why the
// file holds none.
func (s *fileSource) messages(f dropFile, content []byte, digest string, received time.Time) ([]*engine.Inbound, string) {
	if len(bytes.TrimSpace(bytes.TrimPrefix(content, utf8BOM))) == 0 {
		return nil, "the file is empty"
	}
	meta := map[string]string{"filename": f.name, "file-sha256": digest, "file-index": "1"}
	if s.dataType != transforms.HL7v2 {
		return []*engine.Inbound{{DataType: s.dataType, Body: bytes.TrimPrefix(content, utf8BOM), Meta: meta, ReceivedAt: received}}, ""
	}
	batch, msgs, err := splitHL7(content)
	if err != nil {
		return nil, "the file holds no HL7v2 message: " + err.Error()
	}
	for _, w := range batch.Warnings {
		s.log.Warn("file: batch", "file", f.name, "warning", w)
	}
	ins := make([]*engine.Inbound, len(msgs))
	for i := range msgs {
		for _, w := range msgs[i].warnings {
			s.log.Warn("file: character set", "file", f.name, "message", i+1, "warning", w)
		}
		meta["file-index"] = strconv.Itoa(i + 1)
		ins[i] = msgs[i].inbound(meta, received)
	}
	return ins, ""
}

// fileKey is the DedupKey of the i-th message (0-based) of a file: the channel, the
// file's name and content, and the message's place in it.
func (s *fileSource) fileKey(name, digest string, i int) string {
	return fmt.Sprintf("file:%s:%s:%s:%d", s.current.Load().Name, name, digest, i+1)
}

// commit hands the file's messages to the channel in order, each under its key, after
// skipping those the store has already (a restart after a crash between storing them and
// moving the file). It reports whether every message is stored (accepted, FILTERED or
// ERROR: all logged).
func (s *fileSource) commit(f dropFile, digest string, ins []*engine.Inbound) bool {
	log := s.log.With("file", f.name)
	store := s.eng.Store()
	i := 0
	for ; i < len(ins); i++ {
		_, err := store.MessageByKey(s.ctx, s.fileKey(f.name, digest, i))
		if errors.Is(err, engine.ErrNotFound) {
			break
		}
		if err != nil {
			if s.ctx.Err() == nil {
				s.failure(&f, "cannot look the file's messages up in the store; it is read again at the next poll", err)
			}
			return false
		}
	}
	if i > 0 {
		log.Info("file: messages already stored (a restart after a crash, or the same file dropped again): not stored again", "stored", i, "messages", len(ins))
	}
	for ; i < len(ins); i++ {
		if s.ctx.Err() != nil {
			return false
		}
		in := ins[i]
		in.DedupKey, in.KeepKeyOnError = s.fileKey(f.name, digest, i), true
		res := s.current.Load().Process(s.ctx, in)
		switch {
		case errors.Is(res.StoreErr, engine.ErrDuplicate):
		case res.StoreErr != nil:
			if s.ctx.Err() == nil {
				s.failure(&f, fmt.Sprintf("message %d of %d not stored; the file stays and is read again at the next poll", i+1, len(ins)), res.StoreErr)
			}
			return false
		case res.Status == engine.StatusError:
			log.Warn("file: message stored as ERROR", "message", i+1, "id", res.MessageID, "err", res.Err)
		case res.Status == engine.StatusFiltered:
			log.Info("file: message filtered", "message", i+1, "id", res.MessageID)
		}
	}
	return true
}

// finish moves (or deletes) a file whose messages (n; -1: stored before) are all stored.
func (s *fileSource) finish(f dropFile, n int) {
	to := "(deleted)"
	if s.moveTo == "" {
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.failure(&f, "cannot delete the processed file; trying again at the next poll", err)
			return
		}
	} else {
		var err error
		if to, err = moveAside(f.path, s.moveTo); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.failure(&f, "cannot move the processed file; trying again at the next poll", err)
			}
			return
		}
	}
	if n >= 0 {
		s.log.Info("file processed", "file", f.name, "messages", n, "to", to)
	} else {
		s.log.Info("file processed", "file", f.name, "to", to)
	}
}

// reject moves a file that cannot be read as messages to error_dir, with NAME.reason.
func (s *fileSource) reject(f dropFile, reason string) {
	if st := s.seen[f.name]; st != nil {
		st.rejected = reason
	}
	to, err := moveAside(f.path, s.errorDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.failure(&f, "cannot move the file to error_dir ("+reason+"); trying again at the next poll", err)
		}
		return
	}
	s.log.Warn("file moved to error_dir: "+reason, "file", f.name, "to", to)
	note := time.Now().UTC().Format(time.RFC3339) + " channel " + s.current.Load().Name + ": " + f.name + ": " + reason + "\n"
	tmp := filepath.Join(s.errorDir, "."+filepath.Base(to)+".reason")
	err = os.WriteFile(tmp, []byte(note), 0o644)
	if err == nil {
		err = os.Rename(tmp, to+".reason") // whole when it appears
	}
	if err != nil {
		os.Remove(tmp)
		s.log.Error("file: cannot write the reason beside the file in error_dir", "file", to, "err", err)
	}
}

// failure logs a failure with a file (nil: with the folder), once while it repeats.
func (s *fileSource) failure(f *dropFile, what string, err error) {
	text := what + ": " + err.Error()
	if f == nil {
		if s.dirErr != text {
			s.log.Error("file: "+what, "err", err)
		}
		s.dirErr = text
		return
	}
	st := s.seen[f.name]
	if st != nil && st.lastErr == text {
		s.log.Debug("file: "+what, "file", f.name, "err", err)
		return
	}
	if st != nil {
		st.lastErr = text
	}
	s.log.Error("file: "+what, "file", f.name, "err", err)
}

// moveAside moves the file at path into dir under its name, or, when the name is taken,
// with the time (and a count) before its extension; across file systems it copies.
func moveAside(path, dir string) (string, error) {
	name := filepath.Base(path)
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	to := filepath.Join(dir, name)
	stamp := time.Now().UTC().Format("20060102T150405.000000000")
	for n := 0; ; n++ {
		if _, err := os.Lstat(to); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if n == 100 {
			return "", fmt.Errorf("no free name for %s in %s", name, dir)
		}
		to = filepath.Join(dir, stem+"."+stamp+ext)
		if n > 0 {
			to = filepath.Join(dir, stem+"."+stamp+"-"+strconv.Itoa(n)+ext)
		}
	}
	err := os.Rename(path, to)
	if errors.Is(err, syscall.EXDEV) {
		err = copyAndRemove(path, to)
	}
	return to, err
}

// copyAndRemove moves a file across file systems: copy, flush, then remove the original.
func copyAndRemove(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(to)
		return err
	}
	return os.Remove(from)
}
