package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/keysmith/keysmith/bench/internal/load"
)

// initTimeout bounds keysmith init.
const initTimeout = 30 * time.Second

// initOutput is the one JSON line keysmith init --json prints.
type initOutput struct {
	UserID string `json:"user_id"`
	Token  string `json:"token"`
}

// startKeysmith makes a fresh Keysmith in dir (init), serves it on a free
// port, waits until it is ready and runs the scenario's setup. The returned
// proc, if not nil, must be stopped even on error.
func startKeysmith(ctx context.Context, bin, dir string, sc *Scenario) (*load.Proc, *Fixture, error) {
	db := filepath.Join(dir, "keysmith.db")
	admin, err := initKeysmith(ctx, bin, db)
	if err != nil {
		return nil, nil, err
	}
	addr, err := load.FreeAddr()
	if err != nil {
		return nil, nil, err
	}
	p, err := load.StartProc("keysmith serve", "http://"+addr, filepath.Join(dir, "keysmith.log"), bin,
		"serve", "--addr", addr, "--db", db, "--log-format", "json")
	if err != nil {
		return nil, nil, err
	}
	if err := load.WaitReady(ctx, p); err != nil {
		return p, nil, err
	}
	fx := &Fixture{BaseURL: p.URL, UserID: admin.UserID, AdminToken: admin.Token}
	if sc.Setup != nil {
		client := &http.Client{Transport: load.NewTransport(1, nil), Timeout: load.RequestTimeout}
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
	cmd.Env = load.ChildEnv()
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
