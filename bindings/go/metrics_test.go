package zlt_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// metricValue finds the sample written exactly as series ("name{a=\"b\"}") in a Prometheus
// text exposition.
func metricValue(text, series string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			return v, err == nil
		}
	}
	return 0, false
}

func TestMetricsCountTheBytesMoved(t *testing.T) {
	echo := startEcho(t)
	f := newFixture(t)
	agent, events := f.agent(t, testToken, echo.port)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	port := publicPort(t, events)
	payload := pattern(100_000, 7)
	if err := roundTrip(port, payload); err != nil {
		t.Fatal(err)
	}
	want := float64(len(payload))
	check := func(name string, metrics func() (string, error), series ...string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			text, err := metrics()
			if err != nil {
				t.Fatal(err)
			}
			ok := true
			for _, s := range series {
				if v, found := metricValue(text, s); !found || v != want {
					ok = false
				}
			}
			if ok {
				if !strings.Contains(text, "# TYPE zlt_build_info gauge") {
					t.Errorf("%s: no zlt_build_info", name)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: want %v bytes in %v; got:\n%s", name, want, series, text)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	check("server", f.srv.Metrics,
		`zlt_server_bytes_total{service="echo",direction="in"}`,
		`zlt_server_bytes_total{service="echo",direction="out"}`)
	check("agent", agent.Metrics,
		`zlt_agent_bytes_total{service="echo",direction="in"}`,
		`zlt_agent_bytes_total{service="echo",direction="out"}`)
	text, err := agent.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := metricValue(text, "zlt_agent_connected"); v != 1 {
		t.Errorf("zlt_agent_connected = %v, want 1", v)
	}
	_ = agent.Close()
	if _, err := agent.Metrics(); err == nil {
		t.Error("Metrics on a closed agent: no error")
	}
}
