package zlt_test

import (
	"fmt"
	"os"
	"testing"

	zlt "github.com/zlayer/zlayer-tunnel/bindings/go"
)

func TestMain(m *testing.M) {
	// The library logs every connection at "info"; the tests only want to hear of trouble.
	if err := zlt.SetLogLevel("warn"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
