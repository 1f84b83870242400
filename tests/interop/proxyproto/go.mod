// The PROXY protocol headers of the agent, read by an independent parser: go-proxyproto, as
// Debian packages it (golang-github-pires-go-proxyproto-dev, installed by scripts/setup). Run
// by ctest (go_proxyproto_interop) with no network: both modules come from local directories.
module github.com/zlayer/zlayer-tunnel/tests/interop/proxyproto

go 1.22

require (
	github.com/pires/go-proxyproto v0.4.2
	github.com/zlayer/zlayer-tunnel/bindings/go v0.0.0
)

replace github.com/pires/go-proxyproto => /usr/share/gocode/src/github.com/pires/go-proxyproto

replace github.com/zlayer/zlayer-tunnel/bindings/go => ../../../bindings/go
