package connectors

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"junction/engine"
	"junction/transforms"
)

// fileFields are the file destination's keys: its Build reads them by these specs.
var fileFields = []engine.FieldSpec{
	{Name: "dir", Type: "path", Required: true, Description: "folder to write to, created if missing; relative to the routes.yaml folder", Example: "out/ed-adt"},
	{Name: "filename", Type: "template", Default: "{channel}-{id}.{ext}", Description: "file name; placeholders {id} (message id), {channel}, {destination}, {control_id}, {date} (YYYYMMDD), {ext} (hl7, json or csv)", Example: "{channel}-{date}.{ext}"},
	{Name: "append", Type: "bool", Default: "false", Description: "append messages to the named file (e.g. a daily {channel}-{date}.{ext}) instead of one file per message; a message resent after a crash may appear twice"},
	{Name: "separator", Type: "text", Default: "\n", Description: "with append: written after each message"},
	{Name: "fsync", Type: "bool", Default: "false", Description: "flush each file to disk before it counts as sent (slower; survives power loss)"},
}

func init() {
	engine.RegisterDestination(engine.DestinationSpec{
		Type:    "file",
		Summary: "Writes each message to its own file in a folder. The file appears whole (written to a temporary name, then renamed), and a resent message overwrites its earlier file.",
		Fields:  fileFields,
		Build:   buildFile,
	})
}

type fileDestination struct {
	dir      string
	name     []string // template split into literal text and {placeholders}
	fsync    bool
	append   bool
	sep      []byte
	madeDirs bool

	open     *os.File // with append: the file being appended to, kept open
	openName string
	openInfo os.FileInfo // its identity, to notice it being moved away
	buf      []byte      // the record being appended
}

var filePlaceholders = map[string]bool{"{id}": true, "{channel}": true, "{destination}": true, "{control_id}": true, "{date}": true, "{ext}": true}

func buildFile(n *engine.Node, _ *engine.Engine) engine.Destination {
	n = n.WithSpec(fileFields)
	d := &fileDestination{}
	d.dir = n.Str("dir")
	if d.dir != "" && !filepath.IsAbs(d.dir) {
		d.dir = filepath.Join(filepath.Dir(n.File), d.dir)
	}
	tmpl := n.Str("filename")
	d.fsync = n.Flag("fsync")
	d.append = n.Flag("append")
	d.sep = []byte(n.Str("separator"))
	parts, err := splitTemplate(tmpl)
	if err != nil {
		n.ErrorAt(n.Raw("filename"), n.Path+".filename", "%v", err)
		return nil
	}
	if !d.append && !strings.Contains(tmpl, "{id}") && !strings.Contains(tmpl, "{control_id}") {
		n.ErrorAt(n.Raw("filename"), n.Path+".filename", "must contain {id} or {control_id}, or every message overwrites the last")
	}
	if strings.ContainsAny(strings.NewReplacer("{", "", "}", "").Replace(tmpl), `/\`) {
		n.ErrorAt(n.Raw("filename"), n.Path+".filename", "must be a file name, not a path: put folders in dir")
	}
	d.name = parts
	if d.dir == "" {
		return nil
	}
	return d
}

func splitTemplate(t string) ([]string, error) {
	var parts []string
	for t != "" {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			parts = append(parts, t)
			break
		}
		if i > 0 {
			parts = append(parts, t[:i])
		}
		j := strings.IndexByte(t[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unclosed { in %q", t)
		}
		ph := t[i : i+j+1]
		if !filePlaceholders[ph] {
			return nil, fmt.Errorf("unknown placeholder %s (expected {id}, {channel}, {destination}, {control_id}, {date} or {ext})", ph)
		}
		parts = append(parts, ph)
		t = t[i+j+1:]
	}
	return parts, nil
}

func (d *fileDestination) fileName(dl *engine.Delivery) string {
	var b strings.Builder
	for _, p := range d.name {
		switch p {
		case "{id}":
			b.WriteString(strconv.FormatInt(dl.MessageID, 10))
		case "{channel}":
			b.WriteString(safeName(dl.Channel))
		case "{destination}":
			b.WriteString(safeName(dl.Destination))
		case "{control_id}":
			b.WriteString(safeName(dl.ControlID))
		case "{date}":
			b.WriteString(time.Now().Format("20060102"))
		case "{ext}":
			b.WriteString(extension(dl.DataType))
		default:
			b.WriteString(p)
		}
	}
	return b.String()
}

// safeName keeps message-supplied text from making paths: only letters, digits, '-', '_', '.'.
func safeName(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	if b[0] == '.' {
		b[0] = '_'
	}
	return string(b)
}

func extension(dataType string) string {
	switch dataType {
	case transforms.FHIR:
		return "json"
	case transforms.CSV:
		return "csv"
	}
	return "hl7"
}

func (d *fileDestination) Send(ctx context.Context, dl *engine.Delivery) engine.Outcome {
	if !d.madeDirs {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return engine.Outcome{Err: fmt.Errorf("cannot create folder: %w", err)}
		}
		d.madeDirs = true
	}
	final := filepath.Join(d.dir, d.fileName(dl))
	if d.append {
		return d.appendTo(final, dl.Content)
	}
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		d.madeDirs = false // the folder may have been removed
		return engine.Outcome{Err: err}
	}
	_, err = f.Write(dl.Content)
	if err == nil && d.fsync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return engine.Outcome{Err: err}
	}
	return engine.Outcome{Response: []byte("written to " + final)}
}

// appendTo adds a message to a file kept open between messages: one write per message.
func (d *fileDestination) appendTo(name string, content []byte) engine.Outcome {
	if d.open != nil && (d.openName != name || !stillAt(d.openInfo, name)) {
		d.open.Close() // the day changed, or the file was moved away (picked up, rotated)
		d.open = nil
	}
	if d.open == nil {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			d.madeDirs = false
			return engine.Outcome{Err: err}
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return engine.Outcome{Err: err}
		}
		d.open, d.openName, d.openInfo = f, name, info
	}
	// One write per message, so a reader of the file never sees a message without its
	// separator; the buffer is reused (a destination's queue has one worker).
	d.buf = append(append(d.buf[:0], content...), d.sep...)
	_, err := d.open.Write(d.buf)
	if cap(d.buf) > 1<<20 {
		d.buf = nil // do not keep a large message's buffer
	}
	if err == nil && d.fsync {
		err = d.open.Sync()
	}
	if err != nil {
		d.open.Close()
		d.open = nil
		return engine.Outcome{Err: err}
	}
	return engine.Outcome{Response: []byte("appended to " + name)}
}

// Close closes the file kept open for appending.
func (d *fileDestination) Close() error {
	if d.open == nil {
		return nil
	}
	err := d.open.Close()
	d.open = nil
	return err
}

// stillAt reports whether name still is the file opened as info.
func stillAt(info os.FileInfo, name string) bool {
	now, err := os.Stat(name)
	return err == nil && os.SameFile(info, now)
}
