package cli

import (
	"fmt"
	"sort"
	"strings"
)

const completionUsage = `Usage: keysmith completion bash|zsh|fish

Prints a shell completion script, made from the CLI's own command table.

Example:
  source <(keysmith completion bash)
  keysmith completion fish > ~/.config/fish/completions/keysmith.fish
`

// completionWords are the verbs of each top-level command, and the flags of
// each "command verb" (for the shells that complete them).
func completionWords() (top []string, verbs map[string][]string, flags map[string][]string) {
	verbs, flags = map[string][]string{}, map[string][]string{}
	global := []string{"--server", "--token", "--profile", "--json", "--quiet", "--help"}
	for _, res := range resources {
		top = append(top, res.Name)
		for _, v := range res.Verbs {
			verbs[res.Name] = append(verbs[res.Name], v.Name)
			fs := append([]string{}, global...)
			for _, f := range verbFlags(&v) {
				fs = append(fs, "--"+f.Flag)
			}
			flags[res.Name+" "+v.Name] = fs
		}
	}
	top = append(top, "logs", "verify", "oauth", "login", "logout", "completion", "help")
	verbs["oauth"] = []string{"token"}
	verbs["completion"] = []string{"bash", "zsh", "fish"}
	flags["login"] = append(append([]string{}, global...), "--with-token", "--email")
	flags["logs"] = append(append([]string{}, global...), "--since", "--until", "--type", "--actor", "--target", "--outcome", "--q", "--limit", "--cursor", "--all")
	flags["verify"] = append(append([]string{}, global...), "--scopes", "--permissions", "--environment", "--ip")
	flags["oauth token"] = append(append([]string{}, global...), "--client-id", "--client-secret-stdin", "--scope")
	return top, verbs, flags
}

func sortedMapKeys(m map[string][]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (r *runner) completion(args []string) error {
	if len(args) != 1 {
		return usageErr("completion takes one argument: bash, zsh or fish\n%s", completionUsage)
	}
	top, verbs, flags := completionWords()
	var b strings.Builder
	switch args[0] {
	case "--help", "-h":
		fmt.Fprint(r.env.Stdout, completionUsage)
		return nil
	case "bash", "zsh":
		if args[0] == "zsh" {
			b.WriteString("#compdef keysmith\nautoload -U +X bashcompinit && bashcompinit\n")
		}
		b.WriteString("# keysmith completion\n_keysmith() {\n  local cur cmd verb words_\n")
		b.WriteString("  cur=\"${COMP_WORDS[COMP_CWORD]}\"\n  cmd=\"${COMP_WORDS[1]}\"\n  verb=\"${COMP_WORDS[2]}\"\n")
		fmt.Fprintf(&b, "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n    COMPREPLY=($(compgen -W %q -- \"$cur\"))\n    return\n  fi\n", strings.Join(top, " "))
		b.WriteString("  if [ \"$COMP_CWORD\" -eq 2 ]; then\n    case \"$cmd\" in\n")
		for _, k := range sortedMapKeys(verbs) {
			fmt.Fprintf(&b, "      %s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;\n", k, strings.Join(verbs[k], " "))
		}
		b.WriteString("    esac\n  fi\n  case \"$cmd $verb\" in\n")
		for _, k := range sortedMapKeys(flags) {
			pat := fmt.Sprintf("%q", k)
			if !strings.Contains(k, " ") {
				pat = fmt.Sprintf("%q*", k+" ")
			}
			fmt.Fprintf(&b, "    %s) words_=%q ;;\n", pat, strings.Join(flags[k], " "))
		}
		b.WriteString("    *) words_=\"--server --token --profile --json --quiet --help\" ;;\n  esac\n")
		b.WriteString("  COMPREPLY=($(compgen -W \"$words_\" -- \"$cur\"))\n}\ncomplete -F _keysmith keysmith\n")
	case "fish":
		b.WriteString("# keysmith completion for fish\ncomplete -c keysmith -f\n")
		fmt.Fprintf(&b, "complete -c keysmith -n '__fish_use_subcommand' -a '%s'\n", strings.Join(top, " "))
		for _, k := range sortedMapKeys(verbs) {
			fmt.Fprintf(&b, "complete -c keysmith -n '__fish_seen_subcommand_from %s' -a '%s'\n", k, strings.Join(verbs[k], " "))
		}
		for _, k := range sortedMapKeys(flags) {
			cond := "__fish_seen_subcommand_from " + strings.Fields(k)[0]
			if f := strings.Fields(k); len(f) == 2 {
				cond += "; and __fish_seen_subcommand_from " + f[1]
			}
			for _, fl := range flags[k] {
				fmt.Fprintf(&b, "complete -c keysmith -n '%s' -l %s\n", cond, strings.TrimPrefix(fl, "--"))
			}
		}
	default:
		return usageErr("completion: unknown shell %q (bash, zsh or fish)", args[0])
	}
	_, err := fmt.Fprint(r.env.Stdout, b.String())
	return err
}
