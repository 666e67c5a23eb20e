package keysmith

import "time"

// Agents are programs of the customer (CI jobs, AI assistants, daemons)
// that hold an API token Keysmith manages for them. An agent holds at most
// one live token: activating issues one, and deactivating revokes it when
// the agent's kind auto-revokes.

// AgentKind says what sort of program an agent is, and so whether its token
// is revoked when it is deactivated or deleted.
type AgentKind string

// The agent kinds.
const (
	AgentCI          AgentKind = "ci"          // CI/CD pipelines: auto-revoke
	AgentAssistant   AgentKind = "assistant"   // AI assistants acting for a user: auto-revoke
	AgentDaemon      AgentKind = "daemon"      // long-running services (collectors, sidecars): keep the token
	AgentIntegration AgentKind = "integration" // third-party integrations: keep the token
)

// AgentKinds lists the kinds, in the order the docs show them.
var AgentKinds = []AgentKind{AgentCI, AgentAssistant, AgentDaemon, AgentIntegration}

// AutoRevokes reports whether deactivating or deleting an agent of this kind
// revokes its token. Short-lived and delegated programs should lose their
// credential the moment they stop; long-running ones may be paused by
// deactivation while their token stays alive (and shows as suspicious) until
// someone reactivates the agent or revokes the token.
func (k AgentKind) AutoRevokes() bool { return k == AgentCI || k == AgentAssistant }

func (k AgentKind) valid() bool {
	for _, v := range AgentKinds {
		if k == v {
			return true
		}
	}
	return false
}

// AgentStatus says whether an agent holds a token it may use.
type AgentStatus string

// The agent statuses. A new agent is inactive until activated.
const (
	AgentActive   AgentStatus = "active"
	AgentInactive AgentStatus = "inactive"
)

// Agent is a program that holds a Keysmith-managed token.
type Agent struct {
	ID            string
	Name          string
	Kind          AgentKind
	OwnerID       string // the user its tokens belong to: whoever registered it
	Status        AgentStatus
	TokenID       string // the token issued by the last activation; "" if never activated
	CreatedAt     time.Time
	CreatedBy     string
	ActivatedAt   *time.Time
	DeactivatedAt *time.Time
}

// CreateAgentInput is what a caller supplies to register an agent.
type CreateAgentInput struct {
	Name string
	Kind AgentKind
}

// Validate checks the input.
func (in *CreateAgentInput) Validate() error {
	if err := validateName("name", in.Name); err != nil {
		return err
	}
	if !in.Kind.valid() {
		return Errorf(CodeInvalid, "kind must be one of ci, assistant (their tokens are revoked on deactivation), daemon or integration (kept), not %q", in.Kind)
	}
	return nil
}

// AgentFilter selects agents for FindAgents.
type AgentFilter struct {
	Page
	OwnerID string // "" for all owners
}

// AgentRef is how an agent appears in events.
func AgentRef(a *Agent) Ref { return Ref{Type: "agent", ID: a.ID, DisplayName: a.Name} }
