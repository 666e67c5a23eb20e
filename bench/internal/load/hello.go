package load

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// HelloCommand is the hidden subcommand that runs the baseline server:
//
//	load hello -addr 127.0.0.1:PORT
const HelloCommand = "hello"

// helloBody is the baseline's whole answer: what a successful verify says,
// and nothing else.
var helloBody = []byte(`{"valid":true}`)

// RunHello serves helloHandler on -addr until SIGTERM or SIGINT, and returns
// the exit status.
func RunHello(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("load hello", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address to listen on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := CheckLoopback(*addr); err != nil {
		fmt.Fprintf(stderr, "load hello: -addr: %v\n", err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "load hello: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: helloHandler(), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "load hello: %v\n", err)
		return 1
	}
	return 0
}

// helloHandler answers every request, whatever its method and path, by
// reading the body and writing helloBody: the least a verify endpoint can do
// with net/http.
func helloHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(helloBody)
	})
}
