package load

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Time limits of the steps around the measurement.
const (
	BuildTimeout = 5 * time.Minute  // go build of cmd/keysmith, cold cache included
	ReadyTimeout = 30 * time.Second // until GET /healthz answers 200
	stopGrace    = 5 * time.Second  // between SIGTERM and SIGKILL
)

// KeysmithPkg is built by import path, so the tool works from any directory
// inside the module.
const KeysmithPkg = "github.com/keysmith/keysmith/cmd/keysmith"

// Proc is a child process serving HTTP on 127.0.0.1. Its stdout and stderr go
// to a file rather than a pipe, so that its logging costs it a write and costs
// the load generator nothing.
type Proc struct {
	name    string
	URL     string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid once done is closed
	stopped bool
}

// StartProc starts bin with args, logging to logPath.
func StartProc(name, url, logPath, bin string, args ...string) (*Proc, error) {
	return StartProcEnv(name, url, logPath, bin, nil, args...)
}

// StartProcEnv is StartProc with env (KEY=value) added to the child's
// environment, after the KEYSMITH_* variables of this one are removed.
func StartProcEnv(name, url, logPath, bin string, env []string, args ...string) (*Proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log file of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(ChildEnv(), env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{name: name, URL: url, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Stop ends the process: SIGTERM, then SIGKILL if it has not exited within
// stopGrace. It returns an error only if the process had to be killed.
// Stopping twice is harmless.
func (p *Proc) Stop() error {
	if p.stopped {
		return nil
	}
	p.stopped = true
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(stopGrace):
		return fmt.Errorf("%s (pid %d) survived SIGKILL for %v", p.name, p.cmd.Process.Pid, stopGrace)
	}
	return fmt.Errorf("%s did not exit within %v of SIGTERM and was killed", p.name, stopGrace)
}

// Pid is the process id, for reading its memory in /proc.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// ExitedErr returns an error with the process's last output if it has exited
// on its own, and nil while it runs.
func (p *Proc) ExitedErr() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited unexpectedly (%v); its last output:\n%s", p.name, p.waitErr, p.LogTail())
	default:
		return nil
	}
}

// LogTail returns the last few lines the process wrote.
func (p *Proc) LogTail() string {
	const max = 4 << 10
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// WaitReady polls GET p.URL+"/healthz" until it answers 200, the process
// exits, or ReadyTimeout passes.
func WaitReady(ctx context.Context, p *Proc) error {
	return WaitReadyWithin(ctx, p, ReadyTimeout)
}

// WaitReadyWithin is WaitReady with another limit, for a server that
// migrates a large database before it answers.
func WaitReadyWithin(ctx context.Context, p *Proc, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Transport: NewTransport(1, nil), Timeout: time.Second}
	defer client.CloseIdleConnections()
	url := p.URL + "/healthz"
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		last = err
		if err := p.ExitedErr(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 on GET %s within %v (last: %v); its output:\n%s",
				p.name, url, limit, last, p.LogTail())
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago. Another process could take it before the child binds it; the child
// then fails to start and says so.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// ChildEnv is this process's environment without KEYSMITH_* variables, so
// that a child uses only the flags given here and cannot reach, say, a real
// database named in the caller's shell.
func ChildEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYSMITH_") {
			env = append(env, kv)
		}
	}
	return env
}

// StartHello starts the hello process on a free port and waits until it
// answers. The returned proc, if not nil, must be stopped even on error.
func StartHello(ctx context.Context, self, dir string) (*Proc, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := StartProc("hello", "http://"+addr, filepath.Join(dir, "hello.log"), self, HelloCommand, "-addr", addr)
	if err != nil {
		return nil, err
	}
	return p, WaitReady(ctx, p)
}

// BuildKeysmith builds cmd/keysmith into dir and returns the binary's path.
func BuildKeysmith(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, BuildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "keysmith")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, KeysmithPkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s failed (%v); run from inside the keysmith module, or pass -bin:\n%s",
			KeysmithPkg, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// CheckBinary makes the -bin path absolute and checks that it is a file.
func CheckBinary(bin string) (string, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", fmt.Errorf("-bin %s: %w", bin, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("-bin: %w", err)
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("-bin %s is not an executable file", bin)
	}
	return abs, nil
}
