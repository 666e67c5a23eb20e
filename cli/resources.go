package cli

// The resources of the JSON API, as data: each verb is one HTTP call whose
// path placeholders are the command's positional arguments, in order, and
// whose flags become JSON body fields or query parameters.

// Kinds of flag values.
const (
	kString = "string"
	kInt    = "int"
	kBool   = "bool"
	kList   = "list" // comma-separated
	kJSON   = "json" // a JSON value
)

// field is one flag: --Flag VALUE becomes JSON field (or query parameter) Name.
type field struct {
	Flag, Name, Kind, Help string
}

// verb is one command of a resource.
type verb struct {
	Name, Method, Path, Help, Example string
	Body                              []field
	Query                             []field
	List                              bool   // answers {"items": [...], "next_cursor": ...}
	Secret                            string // dotted path of the secret the answer holds, shown once
	// QuietFirst names a field --quiet prints on a line before the secret
	// (a new client's client_id, without which its secret is of no use).
	QuietFirst string
	Columns    []string
}

// resource is a top-level command of the CLI.
type resource struct {
	Name, Help string
	ID         string // the field naming an object (id, app_id, secret_id)
	Columns    []string
	Verbs      []verb
}

func s(flag, help string) field { return field{flag, flagToName(flag), kString, help} }
func i(flag, help string) field { return field{flag, flagToName(flag), kInt, help} }
func b(flag, help string) field { return field{flag, flagToName(flag), kBool, help} }
func l(flag, help string) field { return field{flag, flagToName(flag), kList, help} }
func j(flag, help string) field { return field{flag, flagToName(flag), kJSON, help} }
func flagToName(flag string) string {
	out := []byte(flag)
	for k, c := range out {
		if c == '-' {
			out[k] = '_'
		}
	}
	return string(out)
}

var pageQuery = []field{i("limit", "items per page"), s("cursor", "the next_cursor of a previous page")}

func withPage(f ...field) []field { return append(f, pageQuery...) }

// credentialFields are the fields shared by API tokens and app keys.
var credentialFields = []field{
	s("name", "a name for people"),
	s("expires-at", "RFC 3339 expiry time"),
	i("idle-ttl", "seconds without use after which it expires"),
	l("scopes", "scopes, comma-separated"),
	i("rate-limit-percent", "percentage of the default rate limit"),
	j("meta", "JSON object of metadata"),
	j("network", "JSON object: allowed networks/zones"),
}

var credentialUpdate = []field{
	s("name", "a new name"), b("enabled", "enable (true) or disable (false)"), l("scopes", "scopes, comma-separated"),
	i("rate-limit-percent", "percentage of the default rate limit"), j("meta", "JSON object"), j("network", "JSON object"),
}

var clientFields = []field{
	s("name", "a name"), l("scopes", "scopes, comma-separated"), s("audience", "the aud of its tokens"),
	i("token-ttl-seconds", "access-token lifetime"), l("grant-types", "grant types, comma-separated"),
	l("redirect-uris", "redirect URIs, comma-separated"), l("post-logout-redirect-uris", "URIs, comma-separated"),
	s("token-endpoint-auth-method", "client_secret_basic, client_secret_post, none"),
	b("pkce-required", "require PKCE"), b("pkce-allow-plain", "allow plain PKCE"), b("first-party", "skip consent"),
	i("refresh-token-ttl", "seconds"), i("refresh-token-idle-ttl", "seconds"),
}

var resources = []resource{
	{Name: "tokens", Help: "API tokens", ID: "id", Columns: []string{"id", "name", "type", "status", "expires_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/tokens", List: true, Help: "list API tokens",
				Query: withPage(s("q", "search"), s("type", "user, service or agent"), s("status", "status"), s("owner", "owner id"),
					s("sort", "sort field"), s("order", "asc or desc")), Example: "keysmith tokens list --status active"},
			{Name: "get", Method: "GET", Path: "/v1/tokens/{id}", Help: "show one token", Example: "keysmith tokens get tok_…"},
			{Name: "create", Method: "POST", Path: "/v1/tokens", Help: "create an API token (its secret is shown once)",
				Body: append([]field{s("owner-id", "owner (admins)")}, credentialFields...), Secret: "token",
				Example: `keysmith tokens create --name "deploy bot" --expires-at 2030-01-01T00:00:00Z`},
			{Name: "update", Method: "PATCH", Path: "/v1/tokens/{id}", Help: "change a token", Body: credentialUpdate,
				Example: "keysmith tokens update tok_… --enabled=false"},
			{Name: "rotate", Method: "POST", Path: "/v1/tokens/{id}/rotate", Help: "replace a token's secret (shown once)",
				Body: []field{i("grace-seconds", "how long the old secret keeps working")}, Secret: "token",
				Example: "keysmith tokens rotate tok_… --grace-seconds 3600"},
			{Name: "revoke", Method: "DELETE", Path: "/v1/tokens/{id}", Help: "revoke a token", Example: "keysmith tokens revoke tok_…"},
			{Name: "summary", Method: "GET", Path: "/v1/tokens/summary", Help: "counts by type, status and color", Example: "keysmith tokens summary"},
		}},
	{Name: "users", Help: "users", ID: "id", Columns: []string{"id", "email", "name", "role", "status"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/users", List: true, Help: "list users",
				Query: withPage(s("q", "search"), s("role", "role"), s("status", "status")), Example: "keysmith users list --role developer"},
			{Name: "get", Method: "GET", Path: "/v1/users/{id}", Help: "show a user", Example: "keysmith users get usr_…"},
			{Name: "create", Method: "POST", Path: "/v1/users", Help: "add a user (no password: they get none until one is set)",
				Body:    []field{s("email", "e-mail"), s("name", "name"), s("role", "super_admin, org_admin, developer…"), s("type", "person or service")},
				Example: "keysmith users create --email dev@example.com --name Dev --role developer --type person"},
			{Name: "update", Method: "PATCH", Path: "/v1/users/{id}", Help: "change a user",
				Body: []field{s("email", "e-mail"), s("name", "name"), s("role", "role")}, Example: "keysmith users update usr_… --role org_admin"},
			{Name: "deactivate", Method: "POST", Path: "/v1/users/{id}/deactivate", Help: "deactivate a user", Example: "keysmith users deactivate usr_…"},
			{Name: "activate", Method: "POST", Path: "/v1/users/{id}/activate", Help: "activate a user", Example: "keysmith users activate usr_…"},
		}},
	{Name: "groups", Help: "groups and their members", ID: "id", Columns: []string{"id", "name", "description"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/groups", List: true, Help: "list groups", Query: withPage(s("q", "search")), Example: "keysmith groups list"},
			{Name: "get", Method: "GET", Path: "/v1/groups/{id}", Help: "show a group", Example: "keysmith groups get grp_…"},
			{Name: "create", Method: "POST", Path: "/v1/groups", Help: "create a group", Body: []field{s("name", "name"), s("description", "description")},
				Example: "keysmith groups create --name ops"},
			{Name: "update", Method: "PATCH", Path: "/v1/groups/{id}", Help: "change a group", Body: []field{s("name", "name"), s("description", "description")},
				Example: "keysmith groups update grp_… --description 'On call'"},
			{Name: "delete", Method: "DELETE", Path: "/v1/groups/{id}", Help: "delete a group", Example: "keysmith groups delete grp_…"},
			{Name: "members", Method: "GET", Path: "/v1/groups/{id}/members", List: true, Help: "list a group's members",
				Query: withPage(s("q", "search"), s("role", "role"), s("status", "status")), Columns: []string{"id", "email", "name", "role", "status"},
				Example: "keysmith groups members grp_…"},
			{Name: "add-member", Method: "PUT", Path: "/v1/groups/{id}/members/{user_id}", Help: "add a user to a group", Example: "keysmith groups add-member grp_… usr_…"},
			{Name: "remove-member", Method: "DELETE", Path: "/v1/groups/{id}/members/{user_id}", Help: "remove a user from a group", Example: "keysmith groups remove-member grp_… usr_…"},
		}},
	{Name: "apps", Help: "applications", ID: "app_id", Columns: []string{"app_id", "name", "description", "created_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/apps", List: true, Help: "list applications", Query: pageQuery, Example: "keysmith apps list"},
			{Name: "get", Method: "GET", Path: "/v1/apps/{id}", Help: "show an application", Example: "keysmith apps get app_…"},
			{Name: "create", Method: "POST", Path: "/v1/apps", Help: "create an application", Body: []field{s("name", "name"), s("description", "description")},
				Example: `keysmith apps create --name "Shop backend"`},
			{Name: "update", Method: "PATCH", Path: "/v1/apps/{id}", Help: "change an application", Body: []field{s("name", "name"), s("description", "description")},
				Example: "keysmith apps update app_… --description 'Orders service'"},
			{Name: "delete", Method: "DELETE", Path: "/v1/apps/{id}", Help: "delete an application", Example: "keysmith apps delete app_…"},
			{Name: "transfer", Method: "POST", Path: "/v1/apps/{id}/transfer", Help: "give an application to another owner",
				Body: []field{s("owner-id", "the new owner"), b("keep-credentials", "keep its keys and secrets")}, Example: "keysmith apps transfer app_… --owner-id usr_…"},
		}},
	{Name: "keys", Help: "app API keys (APP_ID first)", ID: "id", Columns: []string{"id", "name", "environment", "status", "expires_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/apps/{app_id}/keys", List: true, Help: "list an application's keys",
				Query: withPage(s("q", "search"), s("status", "status"), s("sort", "sort field"), s("order", "asc or desc")), Example: "keysmith keys list app_…"},
			{Name: "get", Method: "GET", Path: "/v1/apps/{app_id}/keys/{id}", Help: "show a key", Example: "keysmith keys get app_… key_…"},
			{Name: "create", Method: "POST", Path: "/v1/apps/{app_id}/keys", Help: "create a key (shown once)",
				Body: append([]field{s("environment", "sandbox or production")}, credentialFields...), Secret: "key",
				Example: "keysmith keys create app_… --name ci --environment sandbox --scopes orders:read"},
			{Name: "update", Method: "PATCH", Path: "/v1/apps/{app_id}/keys/{id}", Help: "change a key", Body: credentialUpdate,
				Example: "keysmith keys update app_… key_… --enabled=false"},
			{Name: "rotate", Method: "POST", Path: "/v1/apps/{app_id}/keys/{id}/rotate", Help: "replace a key's secret (shown once)",
				Body: []field{i("grace-seconds", "how long the old key keeps working")}, Secret: "key", Example: "keysmith keys rotate app_… key_…"},
			{Name: "revoke", Method: "DELETE", Path: "/v1/apps/{app_id}/keys/{id}", Help: "revoke a key", Example: "keysmith keys revoke app_… key_…"},
		}},
	{Name: "clients", Help: "OAuth clients and their secrets", ID: "id", Columns: []string{"id", "client_id", "name", "environment", "status"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/oauth/clients", List: true, Help: "list OAuth clients",
				Query: withPage(s("app-id", "only this application's")), Example: "keysmith clients list --app-id app_…"},
			{Name: "get", Method: "GET", Path: "/v1/oauth/clients/{id}", Help: "show a client", Example: "keysmith clients get cli_…"},
			{Name: "create", Method: "POST", Path: "/v1/oauth/clients", Help: "create a client (client_secret shown once)",
				Body: append([]field{s("app-id", "its application"), s("environment", "sandbox or production"),
					s("token-format", "jwt or opaque"), s("key-manager", "external key manager id")}, clientFields...), Secret: "client_secret", QuietFirst: "client_id",
				Example: "keysmith clients create --app-id app_… --environment sandbox --name shop --scopes orders:read --audience https://orders.example.com"},
			{Name: "update", Method: "PATCH", Path: "/v1/oauth/clients/{id}", Help: "change a client", Body: clientFields,
				Example: "keysmith clients update cli_… --token-ttl-seconds 600"},
			{Name: "delete", Method: "DELETE", Path: "/v1/oauth/clients/{id}", Help: "delete a client", Example: "keysmith clients delete cli_…"},
			{Name: "secrets", Method: "GET", Path: "/v1/oauth/clients/{id}/secrets", List: true, Help: "list a client's secrets (never the secrets)",
				Columns: []string{"secret_id", "description", "last4", "created_at", "expires_at"}, Example: "keysmith clients secrets cli_…"},
			{Name: "add-secret", Method: "POST", Path: "/v1/oauth/clients/{id}/secrets", Help: "add a secret (shown once)",
				Body: []field{s("description", "description"), s("expires-at", "RFC 3339 expiry")}, Secret: "client_secret",
				Example: "keysmith clients add-secret cli_… --description 'deploy 42'"},
			{Name: "reset-secrets", Method: "POST", Path: "/v1/oauth/clients/{id}/secrets/reset", Help: "replace every secret by a new one (shown once)",
				Body: []field{s("description", "description"), s("expires-at", "RFC 3339 expiry")}, Secret: "client_secret",
				Example: "keysmith clients reset-secrets cli_…"},
			{Name: "delete-secret", Method: "DELETE", Path: "/v1/oauth/clients/{id}/secrets/{secret_id}", Help: "delete one secret",
				Example: "keysmith clients delete-secret cli_… sec_…"},
		}},
	{Name: "apis", Help: "APIs and their scopes", ID: "id", Columns: []string{"id", "name", "identifier"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/apis", List: true, Help: "list APIs", Example: "keysmith apis list"},
			{Name: "get", Method: "GET", Path: "/v1/apis/{id}", Help: "show an API", Example: "keysmith apis get api_…"},
			{Name: "create", Method: "POST", Path: "/v1/apis", Help: "register an API",
				Body:    []field{s("name", "name"), s("identifier", "its URL, the audience of its tokens"), j("scopes", `JSON array: [{"name":"orders:read","self_service":true}]`)},
				Example: `keysmith apis create --name Orders --identifier https://orders.example.com --scopes '[{"name":"orders:read","self_service":true}]'`},
			{Name: "update", Method: "PATCH", Path: "/v1/apis/{id}", Help: "change an API",
				Body: []field{s("name", "name"), s("identifier", "identifier"), j("scopes", "JSON array of scopes")}, Example: "keysmith apis update api_… --name Orders2"},
			{Name: "delete", Method: "DELETE", Path: "/v1/apis/{id}", Help: "delete an API", Example: "keysmith apis delete api_…"},
		}},
	{Name: "zones", Help: "network zones", ID: "id", Columns: []string{"id", "name", "gateways", "proxies"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/zones", List: true, Help: "list network zones", Example: "keysmith zones list"},
			{Name: "get", Method: "GET", Path: "/v1/zones/{id}", Help: "show a zone", Example: "keysmith zones get zone_…"},
			{Name: "create", Method: "POST", Path: "/v1/zones", Help: "create a zone",
				Body: []field{s("name", "name"), l("gateways", "gateway CIDRs"), l("proxies", "proxy CIDRs")}, Example: "keysmith zones create --name office --gateways 10.0.0.0/8"},
			{Name: "update", Method: "PATCH", Path: "/v1/zones/{id}", Help: "change a zone",
				Body: []field{s("name", "name"), l("gateways", "gateway CIDRs"), l("proxies", "proxy CIDRs")}, Example: "keysmith zones update zone_… --proxies 10.1.0.1/32"},
			{Name: "delete", Method: "DELETE", Path: "/v1/zones/{id}", Help: "delete a zone", Example: "keysmith zones delete zone_…"},
		}},
	{Name: "agents", Help: "agents (automated callers with their own token)", ID: "id", Columns: []string{"id", "name", "kind", "status"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/agents", List: true, Help: "list agents", Query: pageQuery, Example: "keysmith agents list"},
			{Name: "get", Method: "GET", Path: "/v1/agents/{id}", Help: "show an agent", Example: "keysmith agents get agt_…"},
			{Name: "create", Method: "POST", Path: "/v1/agents", Help: "create an agent", Body: []field{s("name", "name"), s("kind", "kind, e.g. ci")},
				Example: `keysmith agents create --name "ci runner" --kind ci`},
			{Name: "activate", Method: "POST", Path: "/v1/agents/{id}/activate", Help: "activate an agent: issues its token (shown once)", Secret: "token.token",
				Example: "keysmith agents activate agt_…"},
			{Name: "deactivate", Method: "POST", Path: "/v1/agents/{id}/deactivate", Help: "deactivate an agent", Example: "keysmith agents deactivate agt_…"},
			{Name: "delete", Method: "DELETE", Path: "/v1/agents/{id}", Help: "delete an agent", Example: "keysmith agents delete agt_…"},
		}},
	{Name: "settings", Help: "server settings (rate limits)", ID: "",
		Verbs: []verb{
			{Name: "rate-limits", Method: "GET", Path: "/v1/settings/rate-limits", Help: "show the rate limits", Example: "keysmith settings rate-limits"},
			{Name: "set-rate-limits", Method: "PUT", Path: "/v1/settings/rate-limits", Help: "replace the rate limits (the JSON object of rate-limits, with --data)",
				Example: `keysmith settings rate-limits --json > rl.json; keysmith settings set-rate-limits --data "$(cat rl.json)"`},
		}},
	{Name: "trusted-origins", Help: "origins whose browsers may call the API (CORS)", ID: "id", Columns: []string{"id", "origin", "created_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/trusted-origins", List: true, Help: "list trusted origins", Example: "keysmith trusted-origins list"},
			{Name: "create", Method: "POST", Path: "/v1/trusted-origins", Help: "trust an origin", Body: []field{s("origin", "https://app.example.com")},
				Example: "keysmith trusted-origins create --origin https://app.example.com"},
			{Name: "delete", Method: "DELETE", Path: "/v1/trusted-origins/{id}", Help: "stop trusting an origin", Example: "keysmith trusted-origins delete org_…"},
		}},
	{Name: "key-managers", Help: "external identity providers that issue client credentials and tokens", ID: "id",
		Columns: []string{"id", "name", "type", "issuer", "enabled"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/key-managers", List: true, Help: "list key managers (Keysmith first)",
				Example: "keysmith key-managers list"},
			{Name: "get", Method: "GET", Path: "/v1/key-managers/{id}", Help: "show one key manager", Example: "keysmith key-managers get km_…"},
			{Name: "create", Method: "POST", Path: "/v1/key-managers", Help: "add a key manager (its secrets only through --data -)",
				Body: []field{s("name", "its name"), s("type", "okta, keycloak or oidc"), s("issuer", "its issuer URL"),
					s("audience", "the aud its tokens carry (default: the issuer)"), s("introspection-client-id", "for opaque tokens"),
					s("opaque-token-prefix", "how its opaque tokens start"), b("enabled", "accept its tokens")},
				Example: `printf '{"registration_token":"%s"}' "$IAT" | keysmith key-managers create --name Okta --type okta --issuer https://example.okta.com/oauth2/default --enabled --data -`},
			{Name: "update", Method: "PATCH", Path: "/v1/key-managers/{id}", Help: "change a key manager",
				Body: []field{s("name", "its name"), s("audience", "the aud its tokens carry"), b("enabled", "accept its tokens"),
					s("opaque-token-prefix", "how its opaque tokens start"), b("accept-unregistered-clients", "accept tokens of clients not registered through Keysmith")},
				Example: "keysmith key-managers update km_… --enabled=false"},
			{Name: "delete", Method: "DELETE", Path: "/v1/key-managers/{id}", Help: "delete a key manager (revokes its clients here)",
				Example: "keysmith key-managers delete km_…"},
		}},
	{Name: "registration-tokens", Help: "initial access tokens for dynamic client registration", ID: "id",
		Columns: []string{"id", "app_id", "environment", "status", "uses", "max_uses", "expires_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/oauth/registration-tokens", List: true, Help: "list registration tokens", Query: pageQuery,
				Example: "keysmith registration-tokens list"},
			{Name: "create", Method: "POST", Path: "/v1/oauth/registration-tokens", Help: "make a registration token (shown once)", Secret: "token",
				Body: []field{s("app-id", "its application"), s("environment", "sandbox or production"), s("description", "description"),
					i("expires-in", "seconds"), i("max-uses", "how many clients it may register")},
				Example: "keysmith registration-tokens create --app-id app_… --environment sandbox --max-uses 1"},
			{Name: "revoke", Method: "DELETE", Path: "/v1/oauth/registration-tokens/{id}", Help: "revoke a registration token",
				Example: "keysmith registration-tokens revoke rgt_…"},
		}},
	{Name: "consents", Help: "the OAuth clients you allowed to act for you", ID: "client_id", Columns: []string{"client_id", "client_name", "scopes", "updated_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/consents", List: true, Help: "list your consents", Example: "keysmith consents list"},
			{Name: "revoke", Method: "DELETE", Path: "/v1/consents/{client_id}", Help: "withdraw a consent", Example: "keysmith consents revoke cli_…"},
		}},
	{Name: "sessions", Help: "your browser sessions", ID: "id", Columns: []string{"id", "client_ip", "user_agent", "created_at", "expires_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/sessions", List: true, Help: "list your sessions", Example: "keysmith sessions list"},
			{Name: "end-all", Method: "DELETE", Path: "/v1/sessions", Help: "sign out everywhere (API tokens stay)", Example: "keysmith sessions end-all"},
		}},
	{Name: "signing-keys", Help: "JWT signing keys (over HTTP with --server; on the database with --db)", ID: "kid", Columns: []string{"kid", "algorithm", "status", "created_at", "retired_at"},
		Verbs: []verb{
			{Name: "list", Method: "GET", Path: "/v1/signing-keys", List: true, Help: "list the signing keys", Example: "keysmith signing-keys list --server $KS"},
			{Name: "rotate", Method: "POST", Path: "/v1/signing-keys/rotate", Help: "make a new signing key", Body: []field{s("alg", "ES256, EdDSA or RS256")},
				Example: "keysmith signing-keys rotate --server $KS --alg ES256"},
		}},
}

func findResource(name string) *resource {
	for k := range resources {
		if resources[k].Name == name {
			return &resources[k]
		}
	}
	return nil
}

func (r *resource) verb(name string) *verb {
	for k := range r.Verbs {
		if r.Verbs[k].Name == name {
			return &r.Verbs[k]
		}
	}
	return nil
}
