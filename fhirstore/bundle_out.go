package fhirstore

import (
	"junction/internal/jsontext"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Response Bundles are written as bytes around the stored JSON of each resource, which is
// copied as is: a page of results is never parsed again.

// searchset renders a search result page.
func searchset(base string, links []link, page *Page) []byte {
	b := bundleStart(make([]byte, 0, 512+pageSize(page)), "searchset", page.Total, links)
	if len(page.Resources) == 0 {
		return append(b, '}') // FHIR JSON has no empty lists
	}
	b = append(b, `,"entry":[`...)
	for i, r := range page.Resources {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"fullUrl":`...)
		b = jsontext.AppendString(b, base+"/"+r.Type+"/"+r.ID)
		b = append(b, `,"resource":`...)
		b = append(b, r.JSON...)
		b = append(b, `,"search":{"mode":"match"}}`...)
	}
	return append(b, "]}"...)
}

// history renders the versions of one resource, newest first. A deletion has a request
// and a response but no resource.
func history(base string, links []link, page *Page) []byte {
	b := bundleStart(make([]byte, 0, 512+pageSize(page)), "history", page.Total, links)
	if len(page.Resources) == 0 {
		return append(b, '}')
	}
	b = append(b, `,"entry":[`...)
	for i, r := range page.Resources {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"fullUrl":`...)
		b = jsontext.AppendString(b, base+"/"+r.Type+"/"+r.ID)
		if !r.Deleted() {
			b = append(b, `,"resource":`...)
			b = append(b, r.JSON...)
		}
		url, status := r.Type+"/"+r.ID, "200 OK"
		switch {
		case r.Method == "POST":
			url, status = r.Type, "201 Created"
		case r.Method == "DELETE":
			status = "204 No Content"
		case r.Version == 1:
			status = "201 Created"
		}
		b = append(b, `,"request":{"method":`...)
		b = jsontext.AppendString(b, r.Method)
		b = append(b, `,"url":`...)
		b = jsontext.AppendString(b, url)
		b = append(b, `},"response":{"status":`...)
		b = jsontext.AppendString(b, status)
		b = append(b, `,"etag":`...)
		b = jsontext.AppendString(b, etag(r.Version))
		b = append(b, `,"lastModified":`...)
		b = jsontext.AppendString(b, r.LastUpdated.Format(instantLayout))
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

const instantLayout = "2006-01-02T15:04:05.000Z07:00"

type link struct{ relation, url string }

// bundleStart writes a Bundle up to its entries.
func bundleStart(b []byte, typ string, total int, links []link) []byte {
	b = append(b, `{"resourceType":"Bundle","id":"`...)
	b = append(b, uuid.NewString()...)
	b = append(b, `","meta":{"lastUpdated":"`...)
	b = append(b, time.Now().UTC().Format(instantLayout)...)
	b = append(b, `"},"type":`...)
	b = jsontext.AppendString(b, typ)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(total), 10)
	b = append(b, `,"link":[`...)
	for i, l := range links {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"relation":`...)
		b = jsontext.AppendString(b, l.relation)
		b = append(b, `,"url":`...)
		b = jsontext.AppendString(b, l.url)
		b = append(b, '}')
	}
	return append(b, ']')
}

func pageSize(p *Page) int {
	n := 0
	for _, r := range p.Resources {
		n += len(r.JSON) + 128
	}
	return n
}
