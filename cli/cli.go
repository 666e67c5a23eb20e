// Package cli is keysmith's command line over the JSON API: one command per
// resource (tokens, users, groups, apps, keys, clients, apis, zones, agents,
// settings, signing-keys), logs, verify, oauth token, login and logout.
// It speaks HTTP only and imports nothing of the server.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Exit codes.
const (
	ExitOK         = 0
	ExitNotValid   = 1 // verify: the credential is not valid
	ExitUsage      = 2 // a command-line mistake, or a 400/409/429 from the server
	ExitNotFound   = 3
	ExitNoAccess   = 4 // 401 or 403
	ExitServerFail = 5 // a 5xx, or no answer at all
)

// Env is what a run sees of the world.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// ConfigDir holds config.json; empty means os.UserConfigDir()/keysmith.
	ConfigDir string
	// ReadPassword reads a secret without echo after printing prompt on
	// Stderr; nil reads the first line of Stdin.
	ReadPassword func(prompt string) (string, error)
	// Hostname names the CLI's token at login; nil uses os.Hostname.
	Hostname func() (string, error)
}

// Commands lists the top-level commands Run handles.
var Commands = []string{"tokens", "users", "groups", "apps", "keys", "clients", "apis", "zones", "agents", "settings",
	"trusted-origins", "registration-tokens", "consents", "sessions", "signing-keys", "logs", "verify", "oauth", "login",
	"logout", "completion"}

// IsCommand reports whether Run handles the top-level command name.
func IsCommand(name string) bool {
	for _, c := range Commands {
		if c == name {
			return true
		}
	}
	return false
}

// exitError carries an exit status and the message printed for it.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageErr(format string, a ...any) error {
	return &exitError{ExitUsage, fmt.Sprintf(format, a...)}
}

// Run runs one command line (without the program name) and returns its exit status.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	r := &runner{ctx: ctx, env: env, stdin: bufio.NewReader(env.Stdin)}
	err := r.run(args)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintf(env.Stderr, "keysmith: %s\n", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintf(env.Stderr, "keysmith: %v\n", err)
	return ExitServerFail
}

type runner struct {
	ctx   context.Context
	env   Env
	stdin *bufio.Reader
	opts  options
}

// options are the flags every command takes.
type options struct {
	server, token, profile string
	json, quiet, help, all bool
}

var globalFlags = []field{
	{"server", "", kString, "the server's URL (KEYSMITH_URL)"},
	{"token", "", kString, "the API token (KEYSMITH_TOKEN); prefer login or the environment"},
	{"profile", "", kString, "the config profile (KEYSMITH_PROFILE; default \"default\")"},
	{"json", "", kBool, "print the API's JSON"},
	{"quiet", "", kBool, "print only ids (or the secret of a create)"},
}

// parsed is a command line split into flags and positional arguments.
type parsed struct {
	flags map[string]string
	set   map[string]bool
	args  []string
}

// parseFlags splits args by the allowed flags (plus the global ones). A bool
// flag takes no value unless written --flag=value.
func (r *runner) parseFlags(args []string, allowed []field) (*parsed, error) {
	kinds := map[string]string{"help": kBool, "h": kBool}
	for _, f := range append(append([]field{}, globalFlags...), allowed...) {
		kinds[f.Flag] = f.Kind
	}
	p := &parsed{flags: map[string]string{}, set: map[string]bool{}}
	for k := 0; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			p.args = append(p.args, args[k+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.args = append(p.args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		kind, ok := kinds[name]
		if !ok {
			return nil, usageErr("unknown flag %s", a)
		}
		if !hasVal {
			if kind == kBool {
				val = "true"
			} else {
				if k+1 >= len(args) {
					return nil, usageErr("flag %s needs a value", a)
				}
				k++
				val = args[k]
			}
		}
		if name == "h" {
			name = "help"
		}
		p.flags[name], p.set[name] = val, true
	}
	r.opts.server = firstOf(p.flags["server"], r.env.Getenv("KEYSMITH_URL"))
	r.opts.token = firstOf(p.flags["token"], r.env.Getenv("KEYSMITH_TOKEN"))
	r.opts.profile = firstOf(p.flags["profile"], r.env.Getenv("KEYSMITH_PROFILE"))
	r.opts.json = p.flags["json"] == "true"
	r.opts.quiet = p.flags["quiet"] == "true"
	r.opts.help = p.flags["help"] == "true"
	r.opts.all = p.flags["all"] == "true"
	return p, nil
}

func firstOf(v ...string) string {
	for _, x := range v {
		if x != "" {
			return x
		}
	}
	return ""
}

const topUsage = `keysmith — the command line of a Keysmith server's JSON API.

Usage:
  keysmith RESOURCE VERB [ARGS] [FLAGS]
  keysmith login [--server URL] [--profile P] [--with-token]
  keysmith logout [--profile P]
  keysmith verify TOKEN|- [--scopes S] [--permissions Q] [--environment E] [--ip IP]
  keysmith oauth token --client-id ID [--client-secret-stdin] [--scope S]
  keysmith logs [--since T] [--until T] [--type TYPE] [--actor ID] [--target ID] [--outcome O] [--json]
  keysmith completion bash|zsh|fish

Resources:
%s
Every command takes --server URL (KEYSMITH_URL), --token T (KEYSMITH_TOKEN),
--profile NAME (KEYSMITH_PROFILE), --json (the API's JSON), --quiet (ids only;
the secret alone on its line for a command that makes one: a new client's
client_id, then its secret) and --help.

Exit status: 0 success (a valid credential for verify), 1 verify: not valid,
2 usage or a request the server refused as invalid (400, 409, 429), 3 not found,
4 unauthorized or forbidden, 5 server or network error.

Example:
  keysmith login --server http://127.0.0.1:8080
  keysmith tokens create --name "deploy bot" --expires-at 2030-01-01T00:00:00Z
`

func (r *runner) topUsage() string {
	var b strings.Builder
	width := 0
	for _, res := range resources {
		width = max(width, len(res.Name))
	}
	for _, res := range resources {
		var vs []string
		for _, v := range res.Verbs {
			vs = append(vs, v.Name)
		}
		fmt.Fprintf(&b, "  %-*s  %s: %s\n", width, res.Name, res.Help, strings.Join(vs, "|"))
	}
	return fmt.Sprintf(topUsage, b.String())
}

func (r *runner) run(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(r.env.Stdout, r.topUsage())
		if len(args) == 0 {
			return &exitError{code: ExitUsage}
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "login":
		return r.login(rest)
	case "logout":
		return r.logout(rest)
	case "verify":
		return r.verify(rest)
	case "oauth":
		return r.oauth(rest)
	case "logs":
		return r.logs(rest)
	case "completion":
		return r.completion(rest)
	}
	res := findResource(cmd)
	if res == nil {
		return usageErr("unknown command %q (keysmith --help lists them)", cmd)
	}
	if len(rest) == 0 || rest[0] == "--help" || rest[0] == "-h" || rest[0] == "help" {
		fmt.Fprint(r.env.Stdout, resourceUsage(res))
		if len(rest) == 0 {
			return &exitError{code: ExitUsage}
		}
		return nil
	}
	v := res.verb(rest[0])
	if v == nil {
		return usageErr("unknown command %q %q\n%s", cmd, rest[0], resourceUsage(res))
	}
	return r.resourceVerb(res, v, rest[1:])
}

func resourceUsage(res *resource) string {
	var b strings.Builder
	fmt.Fprintf(&b, "keysmith %s — %s\n\nCommands:\n", res.Name, res.Help)
	for _, v := range res.Verbs {
		fmt.Fprintf(&b, "  %-16s %s\n", v.Name, v.Help)
	}
	fmt.Fprintf(&b, "\nkeysmith %s VERB --help shows a verb's flags.\n", res.Name)
	return b.String()
}

// placeholders are the {names} of a path, in order.
func placeholders(path string) []string {
	var out []string
	for {
		a := strings.Index(path, "{")
		if a < 0 {
			return out
		}
		e := strings.Index(path[a:], "}")
		out = append(out, path[a+1:a+e])
		path = path[a+e+1:]
	}
}

func verbFlags(v *verb) []field {
	fs := append(append([]field{}, v.Body...), v.Query...)
	if v.List {
		fs = append(fs, field{"all", "", kBool, "follow next_cursor to the last page"})
	}
	if len(v.Body) > 0 || v.Method == "PUT" {
		fs = append(fs, field{"data", "", kJSON, "a JSON object merged into the request body (fields without a flag); - reads it from stdin, for secrets"})
	}
	return fs
}

func verbUsage(res *resource, v *verb) string {
	var b strings.Builder
	ph := placeholders(v.Path)
	var args []string
	for _, p := range ph {
		args = append(args, strings.ToUpper(p))
	}
	fmt.Fprintf(&b, "Usage: keysmith %s %s %s[FLAGS]\n\n%s (%s %s).\n\nFlags:\n", res.Name, v.Name,
		strings.Join(append(args, ""), " "), v.Help, v.Method, v.Path)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range verbFlags(v) {
		val := " " + strings.ToUpper(f.Kind)
		if f.Kind == kBool {
			val = ""
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Flag, val, f.Help)
	}
	tw.Flush()
	fmt.Fprintf(&b, "  --json, --quiet, --server URL, --token T, --profile P\n\nExample:\n  %s\n", v.Example)
	return b.String()
}

// value converts a flag's text to its JSON value.
func value(f field, text string) (any, error) {
	switch f.Kind {
	case kInt:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, usageErr("--%s: %q is not a whole number", f.Flag, text)
		}
		return n, nil
	case kBool:
		v, err := strconv.ParseBool(text)
		if err != nil {
			return nil, usageErr("--%s: %q is not true or false", f.Flag, text)
		}
		return v, nil
	case kList:
		out := []string{}
		for _, x := range strings.Split(text, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out, nil
	case kJSON:
		var v any
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, usageErr("--%s: not JSON: %v", f.Flag, err)
		}
		return v, nil
	}
	return text, nil
}

func (r *runner) resourceVerb(res *resource, v *verb, args []string) error {
	p, err := r.parseFlags(args, verbFlags(v))
	if err != nil {
		return err
	}
	if r.opts.help {
		fmt.Fprint(r.env.Stdout, verbUsage(res, v))
		return nil
	}
	ph := placeholders(v.Path)
	if len(p.args) != len(ph) {
		return usageErr("%s %s takes %d argument(s), got %d\n%s", res.Name, v.Name, len(ph), len(p.args), verbUsage(res, v))
	}
	path := v.Path
	for k, name := range ph {
		path = strings.Replace(path, "{"+name+"}", escapePath(p.args[k]), 1)
	}
	var body map[string]any
	if v.Method != "GET" && v.Method != "DELETE" && (len(v.Body) > 0 || p.set["data"]) {
		body = map[string]any{}
		if d, ok := p.flags["data"]; ok {
			if d == "-" { // from stdin: secrets stay out of argv and shell history
				b, err := io.ReadAll(io.LimitReader(r.stdin, 1<<20))
				if err != nil {
					return err
				}
				d = string(b)
			}
			if err := json.Unmarshal([]byte(d), &body); err != nil {
				return usageErr("--data: not a JSON object: %v", err)
			}
		}
		for _, f := range v.Body {
			if t, ok := p.flags[f.Flag]; ok {
				if body[f.Name], err = value(f, t); err != nil {
					return err
				}
			}
		}
	}
	q := map[string]string{}
	for _, f := range v.Query {
		if t, ok := p.flags[f.Flag]; ok {
			q[f.Name] = t
		}
	}
	c, err := r.client()
	if err != nil {
		return err
	}
	if v.List {
		return r.list(c, res, v, path, q)
	}
	var out map[string]any
	raw, err := c.do(r.ctx, v.Method, path, q, body, &out)
	if err != nil {
		return err
	}
	return r.printObject(res, v, raw, out)
}

func escapePath(s string) string {
	return strings.NewReplacer("/", "%2F", "?", "%3F", "#", "%23", "%", "%25").Replace(s)
}

// list prints a collection, following next_cursor with --all.
func (r *runner) list(c *client, res *resource, v *verb, path string, q map[string]string) error {
	var items []json.RawMessage
	for {
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor string            `json:"next_cursor"`
		}
		if _, err := c.do(r.ctx, "GET", path, q, nil, &page); err != nil {
			return err
		}
		items = append(items, page.Items...)
		if !r.opts.all || page.NextCursor == "" {
			break
		}
		q["cursor"] = page.NextCursor
	}
	if items == nil {
		items = []json.RawMessage{}
	}
	if r.opts.json {
		return writeJSON(r.env.Stdout, items)
	}
	objs := make([]map[string]any, 0, len(items))
	for _, it := range items {
		var m map[string]any
		_ = json.Unmarshal(it, &m)
		objs = append(objs, m)
	}
	idField := res.ID
	if len(v.Columns) > 0 {
		idField = v.Columns[0]
	}
	if r.opts.quiet {
		for _, o := range objs {
			fmt.Fprintln(r.env.Stdout, text(o[idField]))
		}
		return nil
	}
	cols := v.Columns
	if cols == nil {
		cols = res.Columns
	}
	printTable(r.env.Stdout, cols, objs)
	return nil
}

func (r *runner) printObject(res *resource, v *verb, raw []byte, out map[string]any) error {
	secret := ""
	if v.Secret != "" {
		secret = text(dig(out, v.Secret))
	}
	switch {
	case r.opts.json:
		if len(raw) == 0 {
			return nil
		}
		_, err := r.env.Stdout.Write(append(trimNL(raw), '\n'))
		return err
	case r.opts.quiet:
		if secret != "" {
			if v.QuietFirst != "" {
				fmt.Fprintln(r.env.Stdout, text(out[v.QuietFirst]))
			}
			fmt.Fprintln(r.env.Stdout, secret)
		} else if id := text(out[res.ID]); res.ID != "" && id != "" {
			fmt.Fprintln(r.env.Stdout, id)
		}
		return nil
	}
	if out == nil {
		fmt.Fprintf(r.env.Stdout, "Done: %s %s.\n", res.Name, v.Name)
		return nil
	}
	printDetail(r.env.Stdout, out)
	if secret != "" {
		fmt.Fprintf(r.env.Stdout, "\nThe secret, shown this once (store it now):\n%s\n", secret)
	}
	return nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// dig follows a dotted path through nested objects.
func dig(m map[string]any, path string) any {
	var cur any = m
	for _, k := range strings.Split(path, ".") {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = o[k]
	}
	return cur
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
