package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestReportFailure(t *testing.T) {
	for _, tc := range []struct {
		name             string
		requests, errors int
		fail             bool
	}{
		{"NoErrors", 10000, 0, false},
		{"AtTheLimit", 10000, 10, false},
		{"OverTheLimit", 10000, 11, true},
		{"NoRequests", 0, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := &report{Targets: []targetStats{
				{Name: "hello", Requests: 100},
				{Name: "verify", Requests: tc.requests, Errors: tc.errors},
			}}
			if err := rep.failure(); (err != nil) != tc.fail {
				t.Errorf("failure() = %v, want failure %v", err, tc.fail)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	t.Run("DefaultsToVerifyWith32ConnectionsFor5s", func(t *testing.T) {
		cfg, err := parseFlags(nil, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := config{conc: 32, duration: 5 * time.Second, warmup: time.Second, scenario: "verify"}
		if cfg != want {
			t.Errorf("got %+v, want %+v", cfg, want)
		}
	})
	for _, args := range [][]string{
		{"-c", "0"},
		{"-d", "0s"},
		{"-d", "1h"},
		{"-warmup", "-1s"},
		{"-scenario", "nope"},
		{"extra"},
	} {
		t.Run("Rejects"+strings.Join(args, ""), func(t *testing.T) {
			if _, err := parseFlags(args, io.Discard); err == nil {
				t.Errorf("parseFlags(%q) accepted it", args)
			}
		})
	}
}
