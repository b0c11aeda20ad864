package ui

import (
	"context"
	"net/url"
	"strconv"

	"junction/engine"
)

// The Errors view: the messages that failed (ERROR) and those whose destinations are
// still retrying them (QUEUED after a failed attempt: a downstream refusing connections
// leaves them there for hours), as two tabs of the message list.

// statusRetrying is the destination_status of the API and the message list that selects
// retrying deliveries (engine.MessageFilter.Retrying).
const statusRetrying = "RETRYING"

// tabCountCap bounds a tab's count: the tabs show "100+" beyond it.
const tabCountCap = 100

// errorTab is one tab of the Errors view.
type errorTab struct {
	Label   string
	Title   string
	URL     string
	Count   string // "0" to "100+"
	Current bool
	Alarm   bool // it holds messages
}

// errorTabs are the Errors view's tabs when the filter q asks for failed or retrying
// messages (status=ERROR, or destination_status ERROR or RETRYING, and no other status),
// each keeping q's other keys; nil otherwise.
func (s *Server) errorTabs(ctx context.Context, q url.Values) []errorTab {
	fq := filterQuery(q)
	st, ds := fq.Get("status"), fq.Get("destination_status")
	failedCur := st == "ERROR" && (ds == "" || ds == "ERROR") || st == "" && ds == "ERROR"
	retryCur := st == "" && ds == statusRetrying
	if !failedCur && !retryCur {
		return nil
	}
	failed, retrying := url.Values{}, url.Values{}
	for k, v := range fq {
		if k != "status" && k != "destination_status" {
			failed[k], retrying[k] = v, v
		}
	}
	if failed.Get("destination") != "" {
		failed.Set("destination_status", "ERROR")
	} else {
		failed.Set("status", "ERROR")
	}
	retrying.Set("destination_status", statusRetrying)
	tabs := []errorTab{
		{Label: "Failed (ERROR)", Title: "messages that failed for good: at their source, or a destination gave up", Current: failedCur},
		{Label: "Retrying", Title: "messages queued whose destination failed and is trying again", Current: retryCur},
	}
	for i, v := range []url.Values{failed, retrying} {
		tabs[i].URL, tabs[i].Count = "/messages?"+v.Encode(), "?"
		f, err := s.parseFilter(v)
		if err != nil {
			continue
		}
		f.Limit = tabCountCap + 1
		page, err := s.eng.Store().ListMessages(ctx, f)
		if err != nil {
			continue
		}
		tabs[i].Count, tabs[i].Alarm = strconv.Itoa(len(page)), len(page) > 0
		if len(page) > tabCountCap {
			tabs[i].Count = strconv.Itoa(tabCountCap) + "+"
		}
	}
	return tabs
}

// resendStatus is the delivery status a bulk resend on filter f keeps to: the filter's
// destination status, QUEUED for retrying deliveries, and ERROR for messages in ERROR
// (the Errors view's Failed tab), so that resending what failed sends nothing again to
// the destinations that got the messages.
func resendStatus(f engine.MessageFilter) engine.Status {
	switch {
	case f.Retrying:
		return engine.StatusQueued
	case f.DestinationStatus == "" && f.Status == engine.StatusError:
		return engine.StatusError
	}
	return f.DestinationStatus
}
