package zlt

import (
	"encoding/json"
	"time"
)

// Event is something a server or an agent reports. The fields present depend on Name; see
// [Server.OnEvent] and [Agent.OnEvent] for the kinds.
type Event struct {
	// Name is the kind of event (its "event" field), e.g. "service_registered".
	Name string
	// JSON is the whole event as a JSON object, e.g.
	// {"event":"service_registered","name":"web","service_id":"...","public_port":30001}.
	JSON json.RawMessage
}

// String returns the event's JSON text.
func (e Event) String() string { return string(e.JSON) }

// Decode unmarshals the event's JSON into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.JSON, v) }

// StringField returns the string field key of the event, or "" if it has none.
func (e Event) StringField(key string) string {
	var s string
	_ = json.Unmarshal(e.field(key), &s)
	return s
}

// IntField returns the integer field key of the event; ok is false if it has none (or it is
// null, as "public_port" is for an internal service).
func (e Event) IntField(key string) (n int, ok bool) {
	err := json.Unmarshal(e.field(key), &n)
	return n, err == nil
}

func (e Event) field(key string) json.RawMessage {
	var fields map[string]json.RawMessage
	if json.Unmarshal(e.JSON, &fields) != nil {
		return nil
	}
	if v, ok := fields[key]; ok && string(v) != "null" {
		return v
	}
	return nil
}

// Traffic counts what went through a tunnel, a service or a whole server.
type Traffic struct {
	BytesIn       uint64 `json:"bytes_in"`
	BytesOut      uint64 `json:"bytes_out"`
	DatagramsIn   uint64 `json:"datagrams_in"`
	DatagramsOut  uint64 `json:"datagrams_out"`
	Drops         uint64 `json:"drops"`
	StreamsActive uint64 `json:"streams_active"`
	StreamsTotal  uint64 `json:"streams_total"`
}

// AgentStatus is a snapshot of an agent. Fields the library adds later are in JSON.
type AgentStatus struct {
	// State is "disconnected", "connecting", "connected" or "reconnecting".
	State       string    `json:"state"`
	ServerURL   string    `json:"server_url"`
	ClientID    string    `json:"client_id"`
	TunnelID    string    `json:"tunnel_id"`    // "" while not connected
	ConnectedAt time.Time `json:"connected_at"` // zero while not connected
	LastError   string    `json:"last_error"`
	Attempt     int       `json:"attempt"`    // reconnection attempts since the last success
	Reconnects  int       `json:"reconnects"` // successful reconnections
	// Version is the protocol version of the session (1 or 2), 0 while not connected.
	Version   int                  `json:"version"`
	Features  uint32               `json:"features"`
	Streams   int                  `json:"streams"`
	RTTMillis *float64             `json:"rtt_ms"` // round-trip time in ms; nil until measured
	Traffic   Traffic              `json:"traffic"`
	Services  []AgentServiceStatus `json:"services"`

	JSON json.RawMessage `json:"-"` // the whole snapshot
}

// AgentServiceStatus is one of an agent's services.
type AgentServiceStatus struct {
	Name       string   `json:"name"`
	Protocol   Protocol `json:"protocol"`
	LocalPort  int      `json:"local_port"`
	RemotePort int      `json:"remote_port"`
	Internal   bool     `json:"internal"`
	// Status is "pending", "registered" or "failed" (then Reason says why).
	Status     string  `json:"status"`
	Reason     string  `json:"reason"`
	ServiceID  string  `json:"service_id"`
	PublicPort int     `json:"public_port"` // 0 until registered, and for internal services
	Traffic    Traffic `json:"traffic"`
}

// ServerStatus is a snapshot of a server. Fields the library adds later are in JSON.
type ServerStatus struct {
	Listen       []string       `json:"listen"` // the control endpoint's bound addresses
	TLS          bool           `json:"tls"`
	TunnelCount  int            `json:"tunnel_count"`
	ServiceCount int            `json:"service_count"`
	Sessions     int            `json:"sessions"`
	Tunnels      []TunnelStatus `json:"tunnels"`
	Traffic      Traffic        `json:"traffic"` // totals, including tunnels that have gone

	JSON json.RawMessage `json:"-"` // the whole snapshot
}

// TunnelStatus is one agent's tunnel as a server sees it.
type TunnelStatus struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"` // the token's or grant's name
	ClientAddr  string                `json:"client_addr"`
	Peer        string                `json:"peer"`
	ConnectedAt time.Time             `json:"connected_at"`
	Version     int                   `json:"version"`
	Features    uint32                `json:"features"`
	Streams     int                   `json:"streams"`
	RTTMillis   *float64              `json:"rtt_ms"` // round-trip time in ms; nil until measured
	Traffic     Traffic               `json:"traffic"`
	Services    []ServerServiceStatus `json:"services"`
}

// ServerServiceStatus is a service registered on a server.
type ServerServiceStatus struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Protocol     Protocol `json:"protocol"`
	LocalPort    int      `json:"local_port"`
	RemotePort   int      `json:"remote_port"`
	Internal     bool     `json:"internal"`
	AssignedPort int      `json:"assigned_port"` // the public port; 0 for internal services
	Connections  uint64   `json:"connections"`   // connections open now
	Traffic      Traffic  `json:"traffic"`
}
