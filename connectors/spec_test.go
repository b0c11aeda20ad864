package connectors

import (
	"strconv"
	"testing"
	"time"

	"junction/engine"
)

func TestEveryConnectorsFieldSpecsAreWellFormed(t *testing.T) {
	for _, s := range engine.SourceTypes() {
		if err := engine.CheckFields(s.Fields); err != nil {
			t.Errorf("source %s: %v", s.Type, err)
		}
	}
	for _, d := range engine.DestinationTypes() {
		if err := engine.CheckFields(d.Fields); err != nil {
			t.Errorf("destination %s: %v", d.Type, err)
		}
	}
	for name, fields := range map[string][]engine.FieldSpec{"top": engine.TopFields, "channel": engine.ChannelFields, "source": engine.SourceFields, "destination": engine.DestinationFields} {
		if err := engine.CheckFields(fields); err != nil {
			t.Errorf("the engine's %s keys: %v", name, err)
		}
	}
}

func TestTheHTTPListenersDefaultLimitsAreItsSpecsDefaults(t *testing.T) {
	def := map[string]string{}
	for _, f := range limitsFields {
		def[f.Name] = f.Default
	}
	d := defaultHTTPLimits
	for key, want := range map[string]time.Duration{"limits.read_header_timeout": d.readHeaderTimeout, "limits.read_timeout": d.readTimeout, "limits.write_timeout": d.writeTimeout} {
		if got, err := time.ParseDuration(def[key]); err != nil || got != want {
			t.Errorf("%s: the spec says %q, the listener starts with %s", key, def[key], want)
		}
	}
	if got, err := strconv.Atoi(def["limits.max_concurrent"]); err != nil || got != d.maxConcurrent || d.maxMemory != 0 {
		t.Errorf("limits.max_concurrent: the spec says %q, the listener starts with %d", def["limits.max_concurrent"], d.maxConcurrent)
	}
}
