package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	buildTimeout = 5 * time.Minute  // go build of cmd/keysmith, cold cache included
	initTimeout  = 30 * time.Second // keysmith init
	readyTimeout = 30 * time.Second // until GET /healthz answers 200
	stopGrace    = 5 * time.Second  // between SIGTERM and SIGKILL
)

// keysmithPkg is built by import path, so the tool works from any directory
// inside the module.
const keysmithPkg = "github.com/keysmith/keysmith/cmd/keysmith"

// proc is a child process serving HTTP on 127.0.0.1. Its stdout and stderr go
// to a file rather than a pipe, so that its logging costs it a write and costs
// the load generator nothing.
type proc struct {
	name    string
	url     string // http://127.0.0.1:PORT
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid once done is closed
	stopped bool
}

// startProc starts bin with args, logging to logPath.
func startProc(name, url, logPath, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the log file of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = childEnv()
	cmd.Stdout = logf
	cmd.Stderr = logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, url: url, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process: SIGTERM, then SIGKILL if it has not exited within
// stopGrace. It returns an error only if the process had to be killed.
// Stopping twice is harmless.
func (p *proc) stop() error {
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

// exitedErr returns an error with the process's last output if it has exited
// on its own, and nil while it runs.
func (p *proc) exitedErr() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited unexpectedly (%v); its last output:\n%s", p.name, p.waitErr, p.logTail())
	default:
		return nil
	}
}

// logTail returns the last few lines the process wrote.
func (p *proc) logTail() string {
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

// waitReady polls GET p.url+"/healthz" until it answers 200, the process
// exits, or readyTimeout passes.
func waitReady(ctx context.Context, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Transport: newTransport(1, nil), Timeout: time.Second}
	defer client.CloseIdleConnections()
	url := p.url + "/healthz"
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
		if err := p.exitedErr(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer 200 on GET %s within %v (last: %v); its output:\n%s",
				p.name, url, readyTimeout, last, p.logTail())
		case <-p.done:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// freeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago. Another process could take it before the child binds it; the child
// then fails to start and says so.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// childEnv is this process's environment without KEYSMITH_* variables, so
// that a child uses only the flags given here and cannot reach, say, a real
// database named in the caller's shell.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYSMITH_") {
			env = append(env, kv)
		}
	}
	return env
}

// startHello starts the hello process on a free port and waits until it
// answers. The returned proc, if not nil, must be stopped even on error.
func startHello(ctx context.Context, self, dir string) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc("hello", "http://"+addr, filepath.Join(dir, "hello.log"), self, helloCommand, "-addr", addr)
	if err != nil {
		return nil, err
	}
	return p, waitReady(ctx, p)
}

// buildKeysmith builds cmd/keysmith into dir and returns the binary's path.
func buildKeysmith(ctx context.Context, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "keysmith")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, keysmithPkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s failed (%v); run from inside the keysmith module, or pass -bin:\n%s",
			keysmithPkg, err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// checkBinary makes the -bin path absolute and checks that it is a file.
func checkBinary(bin string) (string, error) {
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

// initOutput is the one JSON line keysmith init --json prints.
type initOutput struct {
	UserID string `json:"user_id"`
	Token  string `json:"token"`
}

// startKeysmith makes a fresh Keysmith in dir (init), serves it on a free
// port, waits until it is ready and runs the scenario's setup. The returned
// proc, if not nil, must be stopped even on error.
func startKeysmith(ctx context.Context, bin, dir string, sc *Scenario) (*proc, *Fixture, error) {
	db := filepath.Join(dir, "keysmith.db")
	admin, err := initKeysmith(ctx, bin, db)
	if err != nil {
		return nil, nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, nil, err
	}
	p, err := startProc("keysmith serve", "http://"+addr, filepath.Join(dir, "keysmith.log"), bin,
		"serve", "--addr", addr, "--db", db, "--log-format", "json")
	if err != nil {
		return nil, nil, err
	}
	if err := waitReady(ctx, p); err != nil {
		return p, nil, err
	}
	fx := &Fixture{BaseURL: p.url, UserID: admin.UserID, AdminToken: admin.Token}
	if sc.Setup != nil {
		client := &http.Client{Transport: newTransport(1, nil), Timeout: requestTimeout}
		defer client.CloseIdleConnections()
		if err := sc.Setup(ctx, client, fx); err != nil {
			return p, nil, fmt.Errorf("setting up scenario %s: %w", sc.Name, err)
		}
	}
	return p, fx, nil
}

// initKeysmith runs keysmith init on a new database and returns the admin
// user and token it printed.
func initKeysmith(ctx context.Context, bin, db string) (*initOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, initTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "init", "--db", db, "--email", "admin@localhost", "--json")
	cmd.Env = childEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("keysmith init failed (%v):\n%s", err, strings.TrimSpace(stderr.String()))
	}
	var out initOutput
	// init --json prints one line; take the last non-empty one in case
	// something else was printed before it.
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		return nil, fmt.Errorf("keysmith init --json did not print a JSON line with user_id and token: %w", err)
	}
	if out.Token == "" {
		return nil, errors.New("keysmith init --json printed no token (want {\"user_id\": ..., \"token\": ...})")
	}
	return &out, nil
}
