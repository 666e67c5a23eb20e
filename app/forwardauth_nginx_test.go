package app_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keysmith/keysmith"
	"github.com/keysmith/keysmith/app"
	"github.com/keysmith/keysmith/apptest"
	"github.com/keysmith/keysmith/storetest"
)

// nginxConf puts nginx (auth_request) in front of an upstream, asking
// Keysmith's forward auth on every request: /orders/ needs orders:read,
// /admin/ orders:write. The identity headers of the answer go upstream; a
// 429 of the subrequest, which auth_request would turn into a 500, is
// passed on with its Retry-After.
const nginxConf = `daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen 127.0.0.1:%[2]d;
    location = /_auth_read {
      internal;
      proxy_pass http://%[3]s/v1/forward-auth?scope=orders:read;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }
    location = /_auth_write {
      internal;
      proxy_pass http://%[3]s/v1/forward-auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Keysmith-Require-Scope "orders:write";
    }
    location /orders/ {
      auth_request /_auth_read;
      auth_request_set $ks_status $upstream_status;
      auth_request_set $ks_retry $upstream_http_retry_after;
      auth_request_set $ks_id $upstream_http_x_keysmith_credential_id;
      auth_request_set $ks_kind $upstream_http_x_keysmith_credential_kind;
      auth_request_set $ks_owner $upstream_http_x_keysmith_owner_id;
      auth_request_set $ks_scopes $upstream_http_x_keysmith_scopes;
      proxy_set_header X-Keysmith-Credential-Id $ks_id;
      proxy_set_header X-Keysmith-Credential-Kind $ks_kind;
      proxy_set_header X-Keysmith-Owner-Id $ks_owner;
      proxy_set_header X-Keysmith-Scopes $ks_scopes;
      error_page 500 = @auth_error;
      proxy_pass http://%[4]s;
    }
    location /admin/ {
      auth_request /_auth_write;
      auth_request_set $ks_status $upstream_status;
      auth_request_set $ks_retry $upstream_http_retry_after;
      error_page 500 = @auth_error;
      proxy_pass http://%[4]s;
    }
    location @auth_error {
      if ($ks_status = 429) {
        add_header Retry-After $ks_retry always;
        return 429;
      }
      return 500;
    }
  }
}
`

// startNginx runs Debian's nginx with the configuration on a free port and
// returns its base URL. Under CI a missing nginx fails the test.
func startNginx(t *testing.T, keysmithAddr, upstreamAddr string) string {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if bin = "/usr/sbin/nginx"; !fileExists(bin) {
			if os.Getenv("CI") != "" {
				t.Fatalf("nginx is not installed (apt-get install nginx); .ci/run installs it")
			}
			t.Skip("nginx is not installed")
		}
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, port, keysmithAddr, upstreamAddr)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %s", addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestForwardAuthBehindNginx: a real nginx admits, refuses and rate-limits
// by Keysmith's answers, and passes the identity headers upstream. SQLite
// only: the storage is proven by the contract suite, the HTTP contract by
// TestForwardAuth on both engines.
func TestForwardAuthBehindNginx(t *testing.T) {
	s := apptest.Start(t, storetest.SQLite(t), app.Config{TrustedProxies: mustPrefixes(t, "127.0.0.0/8")})
	admin := s.AdminToken
	s.AddAPI(keysmith.Scope{Name: "orders:read", SelfService: true}, keysmith.Scope{Name: "orders:write"})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := map[string]string{}
		for k := range r.Header {
			if strings.HasPrefix(k, "X-Keysmith-") {
				seen[k] = r.Header.Get(k)
			}
		}
		json.NewEncoder(w).Encode(seen)
	}))
	defer upstream.Close()
	gw := startNginx(t, strings.TrimPrefix(s.URL, "http://"), strings.TrimPrefix(upstream.URL, "http://"))
	get := func(path, token string) (*http.Response, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("GET", gw+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		seen := map[string]string{}
		if resp.StatusCode == http.StatusOK {
			json.NewDecoder(resp.Body).Decode(&seen)
		}
		return resp, seen
	}
	reader := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "reader", "scopes": []string{"orders:read"}}).
		Want(t, http.StatusCreated)

	t.Run("ValidPassesWithIdentityHeadersUpstream", func(t *testing.T) {
		resp, seen := get("/orders/42", reader.String("token"))
		if resp.StatusCode != http.StatusOK || seen["X-Keysmith-Credential-Id"] != reader.String("id") ||
			seen["X-Keysmith-Credential-Kind"] != "api_token" || seen["X-Keysmith-Owner-Id"] != s.AdminID ||
			seen["X-Keysmith-Scopes"] != "orders:read" {
			t.Errorf("status %d, upstream saw %v", resp.StatusCode, seen)
		}
	})
	t.Run("MissingGarbageRevokedAre401", func(t *testing.T) {
		gone := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "gone", "scopes": []string{"orders:read"}}).Want(t, http.StatusCreated)
		s.Do("DELETE", "/v1/tokens/"+gone.String("id"), admin, nil).Want(t, http.StatusNoContent)
		for _, tok := range []string{"", "garbage", gone.String("token")} {
			if resp, _ := get("/orders/1", tok); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("token %.8q: status %d, want 401", tok, resp.StatusCode)
			}
		}
	})
	t.Run("WrongScopeIs403", func(t *testing.T) {
		if resp, _ := get("/admin/1", reader.String("token")); resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("OutsideTheZoneIs403", func(t *testing.T) {
		zid := newZone(t, s, "office", []string{"203.0.113.0/24"}, nil)
		z := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "zoned", "scopes": []string{"orders:read"},
			"network": map[string]any{"mode": "in_zones", "zones": []string{zid}}}).Want(t, http.StatusCreated)
		if resp, _ := get("/orders/1", z.String("token")); resp.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("ABurstPastTheLimitIs429", func(t *testing.T) {
		s.Do("PUT", "/v1/settings/rate-limits", admin, map[string]any{"verified": 3}).Want(t, http.StatusOK)
		burst := s.Do("POST", "/v1/tokens", admin, map[string]any{"name": "burst", "scopes": []string{"orders:read"},
			"rate_limit_percent": 100}).Want(t, http.StatusCreated)
		var resp *http.Response
		for range 5 {
			resp, _ = get("/orders/1", burst.String("token"))
		}
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("status %d Retry-After %q, want 429 with it", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
}
