package zlt_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"time"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

// A whole tunnel in one process: a server, an agent exposing a local echo service, and bytes
// sent to the public port coming back through the tunnel.
func Example() {
	rt, err := zlt.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	// Loopback only; the kernel chooses the control port and every public port.
	srv, err := zlt.NewServer(rt, zlt.ServerConfig{
		Listen:        "127.0.0.1:0",
		PublicBind:    "127.0.0.1",
		DataPortRange: &zlt.PortRange{0, 0},
		Tokens:        []zlt.TokenEntry{{Token: "s3cret"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	controlPort, err := srv.Listen("", -1) // the configured "listen" address
	if err != nil {
		log.Fatal(err)
	}

	// The local service to expose: it sends back what it receives.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()

	agent, err := zlt.NewAgent(rt, zlt.AgentConfig{
		ServerURL: fmt.Sprintf("ws://127.0.0.1:%d/tunnel/v1", controlPort),
		Token:     "s3cret",
		Services:  []zlt.Service{{Name: "echo", LocalPort: ln.Addr().(*net.TCPAddr).Port}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	registered := make(chan int, 1)
	agent.OnEvent(func(e zlt.Event) {
		if port, ok := e.IntField("public_port"); ok && e.Name == "service_registered" {
			select { // never block the loop thread
			case registered <- port:
			default:
			}
		}
	})
	if err := agent.Start(); err != nil {
		log.Fatal(err)
	}
	var publicPort int
	select {
	case publicPort = <-registered:
	case <-time.After(10 * time.Second):
		log.Fatal("the service was not registered")
	}

	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", publicPort))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	msg := "hello through the tunnel"
	if _, err := io.WriteString(c, msg); err != nil {
		log.Fatal(err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(back))
	// Output: hello through the tunnel
}

func ExampleHashToken() {
	hash, err := zlt.HashToken("test")
	if err != nil {
		log.Fatal(err)
	}
	// The value for "sha256" in a server's token list, so the plain token need not be stored.
	fmt.Println(hash)
	// Output: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
}

func ExampleError() {
	rt, err := zlt.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()

	_, err = zlt.NewAgent(rt, `{"server_url": "ws://127.0.0.1:3679/tunnel/v1", "token": "t",
	                            "services": [{"name": "web", "local_port": "8080"}]}`)
	var e *zlt.Error
	if errors.As(err, &e) {
		fmt.Println(errors.Is(err, zlt.ErrConfig), e.Code == zlt.ErrConfig)
		fmt.Println(e.Message)
	}
	// Output:
	// true true
	// services[0].local_port: expected an integer 0..65535
}

// An agent for a server elsewhere, running until the process is interrupted.
func ExampleAgent_Run() {
	rt, err := zlt.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	agent, err := zlt.NewAgent(rt, zlt.AgentConfig{
		ServerURL: "wss://tunnel.example.com/tunnel/v1",
		Token:     os.Getenv("ZLT_TOKEN"),
		Services:  []zlt.Service{{Name: "web", LocalPort: 8080}},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	agent.OnEvent(func(e zlt.Event) { log.Print(e) })

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := agent.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Fatal(err)
	}
}

// Tokens decided by the host, for example looked up in its own user database.
func ExampleServer_SetTokenValidator() {
	rt, err := zlt.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	srv, err := zlt.NewServer(rt, zlt.ServerConfig{Listen: "0.0.0.0:3679"})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	// Token hashes (zlt.HashToken) to team names: the plain tokens need not be stored.
	teams := map[string]string{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08": "team-a"}
	err = srv.SetTokenValidator(func(token, hash string) (bool, string, *zlt.Grant) {
		team, ok := teams[hash]
		if !ok {
			return false, "unknown token", nil
		}
		return true, "", &zlt.Grant{Name: team, AllowedPorts: &zlt.PortRange{30000, 30099}}
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := srv.Listen("", -1); err != nil {
		log.Fatal(err)
	}
	select {} // serve until the process ends
}

// A host that owns its listening socket hands each accepted connection to the server.
func ExampleServer_Accept() {
	rt, err := zlt.NewRuntime()
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	srv, err := zlt.NewServer(rt, zlt.ServerConfig{Tokens: []zlt.TokenEntry{{Token: os.Getenv("ZLT_TOKEN")}}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	ln, err := net.ListenTCP("tcp", &net.TCPAddr{Port: 3679})
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			log.Fatal(err)
		}
		if err := srv.Accept(c); err != nil { // c is the server's now, even on error
			log.Print(err)
		}
	}
}

func ExampleSetLogLevel() {
	if err := zlt.SetLogLevel("loud"); err != nil {
		fmt.Println(err)
	}
	// Output: zlt: invalid argument: zlt_set_log_level: unknown level 'loud' (expected trace, debug, info, warn, error or off)
}
