// A tunnel built with the Go binding, whose agent sends PROXY protocol headers to local
// services that read them with go-proxyproto: the addresses it reports must be the public
// client's socket address as the client sees it, and the bytes after the header intact.
package proxyproto_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

const patience = 10 * time.Second

// tunnel starts a server and an agent exposing one service; it returns the public port.
func tunnel(t *testing.T, service zlt.Service) int {
	t.Helper()
	rt, err := zlt.NewRuntime()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	srv, err := zlt.NewServer(rt, zlt.ServerConfig{
		Listen:        "127.0.0.1:0",
		PublicBind:    "127.0.0.1",
		DataPortRange: &zlt.PortRange{0, 0},
		Tokens:        []zlt.TokenEntry{{Name: "test", Token: "s3cret"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	control, err := srv.Listen("127.0.0.1", 0)
	if err != nil {
		t.Fatal(err)
	}
	agent, err := zlt.NewAgent(rt, zlt.AgentConfig{
		ServerURL:            "ws://127.0.0.1:" + strconv.Itoa(control) + "/tunnel/v1",
		Token:                "s3cret",
		ReconnectInterval:    100 * time.Millisecond,
		MaxReconnectInterval: time.Second,
		Services:             []zlt.Service{service},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Close() })
	registered := make(chan int, 1)
	agent.OnEvent(func(e zlt.Event) {
		if e.Name != "service_registered" {
			return
		}
		if port, ok := e.IntField("public_port"); ok {
			select {
			case registered <- port:
			default:
			}
		}
	})
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case port := <-registered:
		return port
	case <-time.After(patience):
		t.Fatal("the service was not registered")
	}
	return 0
}

type seen struct {
	header  *proxyproto.Header
	payload []byte
	err     error
}

func TestTcpHeadersReadByGoProxyproto(t *testing.T) {
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			result := make(chan seen, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					result <- seen{err: err}
					return
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(patience))
				r := bufio.NewReader(c)
				h, err := proxyproto.Read(r)
				if err != nil {
					result <- seen{err: err}
					return
				}
				rest, err := io.ReadAll(r)
				_, _ = c.Write(rest)
				result <- seen{header: h, payload: rest, err: err}
			}()
			servicePort := ln.Addr().(*net.TCPAddr).Port
			port := tunnel(t, zlt.Service{Name: "web", LocalPort: servicePort, ProxyProtocol: version})

			conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(patience))
			payload := bytes.Repeat([]byte("0123456789abcdef"), 8192)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _ = conn.Write(payload)
				_ = conn.(*net.TCPConn).CloseWrite()
			}()
			echoed, _ := io.ReadAll(conn)
			wg.Wait()

			var s seen
			select {
			case s = <-result:
			case <-time.After(patience):
				t.Fatal("the local service saw nothing")
			}
			if s.err != nil {
				t.Fatalf("go-proxyproto: %v", s.err)
			}
			wantVersion := byte(1)
			if version == "v2" {
				wantVersion = 2
			}
			if s.header.Version != wantVersion || s.header.Command != proxyproto.PROXY ||
				s.header.TransportProtocol != proxyproto.TCPv4 {
				t.Fatalf("header %+v", s.header)
			}
			src, dst, ok := s.header.TCPAddrs()
			if !ok {
				t.Fatalf("no TCP addresses in %+v", s.header)
			}
			client := conn.LocalAddr().(*net.TCPAddr)
			if !src.IP.Equal(client.IP) || src.Port != client.Port {
				t.Errorf("source %v, the client is %v", src, client)
			}
			if !dst.IP.Equal(net.IPv4(127, 0, 0, 1)) || dst.Port != servicePort {
				t.Errorf("destination %v, the service is 127.0.0.1:%d", dst, servicePort)
			}
			if !bytes.Equal(s.payload, payload) || !bytes.Equal(echoed, payload) {
				t.Errorf("payload: %d bytes seen, %d echoed, %d sent", len(s.payload), len(echoed), len(payload))
			}
		})
	}
}

func TestUdpV2HeadersReadByGoProxyproto(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 70000)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			// The reply says what go-proxyproto read: {"src": ..., "dst": ..., "payload": ...}.
			r := bufio.NewReader(bytes.NewReader(buf[:n]))
			reply := map[string]string{}
			if h, err := proxyproto.Read(r); err != nil {
				reply["error"] = err.Error()
			} else if src, dst, ok := h.UDPAddrs(); !ok {
				reply["error"] = "not UDP over IPv4 or IPv6"
			} else {
				rest, _ := io.ReadAll(r)
				reply["src"], reply["dst"], reply["payload"] = src.String(), dst.String(), string(rest)
			}
			out, _ := json.Marshal(reply)
			_, _ = pc.WriteTo(out, from)
		}
	}()
	servicePort := pc.LocalAddr().(*net.UDPAddr).Port
	port := tunnel(t, zlt.Service{Name: "dns", Protocol: zlt.UDP, LocalPort: servicePort, ProxyProtocol: "v2"})

	conn, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(patience))
	for _, d := range []string{"first datagram", "second"} {
		if _, err := conn.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 70000)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var reply map[string]string
		if err := json.Unmarshal(buf[:n], &reply); err != nil {
			t.Fatalf("%q: %v", buf[:n], err)
		}
		want := map[string]string{
			"src":     conn.LocalAddr().String(),
			"dst":     "127.0.0.1:" + strconv.Itoa(servicePort),
			"payload": d,
		}
		for k, v := range want {
			if reply[k] != v {
				t.Errorf("%s: got %q, want %q (reply %v)", k, reply[k], v, reply)
			}
		}
	}
}
