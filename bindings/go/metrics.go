package zlt

// #include "bridge.h"
import "C"

// Metrics returns the server's Prometheus text exposition (format 0.0.4): what
// `zlt server --metrics` serves on GET /metrics.
func (s *Server) Metrics() (string, error) {
	var out *C.char
	err := s.use(func() error {
		return call(func() C.int { return C.zlt_registry_metrics(s.c, &out) })
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Metrics returns the agent's Prometheus text exposition (format 0.0.4).
func (a *Agent) Metrics() (string, error) {
	var out *C.char
	err := a.use(func() error {
		return call(func() C.int { return C.zlt_agent_metrics(a.c, &out) })
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Metrics returns the access manager's Prometheus text exposition (format 0.0.4).
func (a *Access) Metrics() (string, error) {
	var out *C.char
	err := a.use(func() error {
		return call(func() C.int { return C.zlt_access_metrics(a.c, &out) })
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}

// Metrics returns the node's Prometheus text exposition (format 0.0.4).
func (m *NodeManager) Metrics() (string, error) {
	var out *C.char
	err := m.use(func() error {
		return call(func() C.int { return C.zlt_node_manager_metrics(m.c, &out) })
	})
	if err != nil {
		return "", err
	}
	return takeString(out), nil
}
