module github.com/zlayer/zlayer-tunnel/bindings/go

go 1.22
