/**
 * `spike completion bash|zsh|fish`: a shell completion script, generated
 * from the command tree itself, so it always knows exactly the commands and
 * flags this `spike` has. Commands and subcommands complete by name, flags
 * by their long and short forms, the output formats by value; anything else
 * falls back to file names.
 *
 * @module
 */

import { type Command, type CommandGroup, usageError } from "../cli.ts";
import { writeOut } from "../output.ts";

/** One place in the tree: a group (with children) or a command (with flags). */
interface Node {
  path: string;
  children: { name: string; summary: string }[];
  /** Flags, long and short forms, each with the values it completes to (none: free text). */
  flags: { long: string; short?: string; takesValue: boolean; values: string[] }[];
  leaf: boolean;
}

/** The values a format flag completes to, by its default (the formats its command reads). */
const FORMAT_VALUES: Record<string, string[]> = {
  human: ["human", "json", "yaml"],
  env: ["env", "json", "yaml"],
};

function isGroup(c: Command | CommandGroup): c is CommandGroup {
  return "commands" in c;
}

function walk(group: CommandGroup, path: string, out: Node[]): Node[] {
  out.push({
    path,
    children: group.commands.map((c) => ({ name: c.name, summary: c.summary })),
    flags: [
      { long: "help", short: "h", takesValue: false, values: [] },
      ...(group.version !== undefined
        ? [{ long: "version", takesValue: false, values: [] as string[] }]
        : []),
    ],
    leaf: false,
  });
  for (const c of group.commands) {
    const at = path === "" ? c.name : `${path} ${c.name}`;
    if (isGroup(c)) {
      walk(c, at, out);
      continue;
    }
    const flags = Object.entries(c.options ?? {}).map(([long, o]) => ({
      long,
      short: o.short,
      takesValue: o.type === "string",
      values: long === "format" && typeof o.default === "string"
        ? FORMAT_VALUES[o.default] ?? []
        : [],
    }));
    flags.push({ long: "help", short: "h", takesValue: false, values: [] });
    out.push({ path: at, children: [], flags, leaf: true });
  }
  return out;
}

function sh(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function flagWords(node: Node): string[] {
  return node.flags.flatMap((f) => [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])]);
}

/**
 * Helper functions shared by the bash and zsh scripts (both read this
 * subset of sh): the children of a path, its flags, and the values a flag
 * takes (status 0 when the flag takes a value, its values on stdout).
 */
function shHelpers(nodes: Node[]): string {
  const children = nodes.map((n) =>
    `    ${sh(n.path)}) echo ${sh(n.children.map((c) => c.name).join(" "))} ;;`
  );
  const flags = nodes.map((n) => `    ${sh(n.path)}) echo ${sh(flagWords(n).join(" "))} ;;`);
  const values = nodes.flatMap((n) =>
    n.flags.filter((f) => f.takesValue).map((f) => {
      const forms = [`--${f.long}`, ...(f.short ? [`-${f.short}`] : [])];
      const pattern = forms.map((w) => sh(`${n.path}|${w}`)).join("|");
      return `    ${pattern}) echo ${sh(f.values.join(" "))}; return 0 ;;`;
    })
  );
  const leaves = nodes.filter((n) => n.leaf).map((n) => sh(n.path));
  return [
    "_spike_children() {",
    '  case "$1" in',
    ...children,
    "  esac",
    "}",
    "_spike_flags() {",
    '  case "$1" in',
    ...flags,
    "  esac",
    "}",
    "_spike_values() {",
    '  case "$1|$2" in',
    ...values,
    "  esac",
    "  return 1",
    "}",
    "_spike_is_leaf() {",
    '  case "$1" in',
    `    ${leaves.join("|")}) return 0 ;;`,
    "  esac",
    "  return 1",
    "}",
    "# The command path in words (e.g. 'secret get'): known names only, flags skipped.",
    "_spike_path() {",
    '  local cmdpath="" w kids',
    '  for w in "$@"; do',
    '    _spike_is_leaf "$cmdpath" && break',
    '    kids=" $(_spike_children "$cmdpath") "',
    '    case "$w" in',
    "      -*) ;;",
    '      *) case "$kids" in *" $w "*) cmdpath="${cmdpath:+$cmdpath }$w" ;; esac ;;',
    "    esac",
    "  done",
    '  echo "$cmdpath"',
    "}",
  ].join("\n");
}

/** The bash script. */
export function bashCompletion(root: CommandGroup): string {
  const nodes = walk(root, "", []);
  return `# bash completion for spike: source it, e.g. in ~/.bashrc:
#   source <(spike completion bash)
${shHelpers(nodes)}
_spike() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath values
  cmdpath="$(_spike_path "\${COMP_WORDS[@]:1:COMP_CWORD-1}")"
  COMPREPLY=()
  if [[ $COMP_CWORD -gt 1 ]] && values="$(_spike_values "$cmdpath" "$prev")"; then
    [[ -n "$values" ]] && COMPREPLY=($(compgen -W "$values" -- "$cur"))
    return 0 # a free value: bash offers file names (-o default)
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_spike_flags "$cmdpath")" -- "$cur"))
  elif ! _spike_is_leaf "$cmdpath"; then
    COMPREPLY=($(compgen -W "$(_spike_children "$cmdpath")" -- "$cur"))
  fi
  return 0
}
complete -o default -F _spike spike
`;
}

/** The zsh script. */
export function zshCompletion(root: CommandGroup): string {
  const nodes = walk(root, "", []);
  return `#compdef spike
# zsh completion for spike: put it on $fpath as _spike, or source it after compinit:
#   source <(spike completion zsh)
${shHelpers(nodes)}
_spike() {
  local cmdpath values prev
  cmdpath="$(_spike_path "\${(@)words[2,CURRENT-1]}")"
  prev="\${words[CURRENT-1]}"
  if (( CURRENT > 2 )) && values="$(_spike_values "$cmdpath" "$prev")"; then
    if [[ -n "$values" ]]; then compadd -- \${=values}; else _files; fi
    return
  fi
  if [[ "$PREFIX" == -* ]]; then
    compadd -- \${=$(_spike_flags "$cmdpath")}
  elif _spike_is_leaf "$cmdpath"; then
    _files
  else
    compadd -- \${=$(_spike_children "$cmdpath")}
  fi
}
if [[ "\${funcstack[1]}" == "_spike" ]]; then
  _spike "$@"
else
  compdef _spike spike
fi
`;
}

function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** The fish script. */
export function fishCompletion(root: CommandGroup): string {
  const nodes = walk(root, "", []);
  const lines = [
    "# fish completion for spike: spike completion fish > ~/.config/fish/completions/spike.fish",
    "function __spike_children",
    '    switch "$argv[1]"',
    ...nodes.flatMap((n) => [
      `        case ${fishQuote(n.path)}`,
      `            printf '%s\\n' ${n.children.map((c) => fishQuote(c.name)).join(" ")}`,
    ]),
    "    end",
    "end",
    "function __spike_path",
    "    set -l path ''",
    "    set -l leaves " + nodes.filter((n) => n.leaf).map((n) => fishQuote(n.path)).join(" "),
    "    for w in (commandline -opc)[2..-1]",
    '        contains -- "$path" $leaves; and break',
    "        string match -q -- '-*' $w; and continue",
    '        if contains -- $w (__spike_children "$path")',
    '            if test -z "$path"; set path $w; else; set path "$path $w"; end',
    "        end",
    "    end",
    "    echo $path",
    "end",
    "function __spike_at",
    '    test "$(__spike_path)" = "$argv[1]"',
    "end",
    "complete -c spike -f",
  ];
  for (const n of nodes) {
    const at = `-n ${fishQuote(`__spike_at ${fishQuote(n.path)}`)}`;
    for (const c of n.children) {
      lines.push(`complete -c spike ${at} -a ${fishQuote(c.name)} -d ${fishQuote(c.summary)}`);
    }
    for (const f of n.flags) {
      const short = f.short ? ` -s ${f.short}` : "";
      const value = !f.takesValue
        ? ""
        : f.values.length > 0
        ? ` -x -a ${fishQuote(f.values.join(" "))}`
        : " -r -F";
      lines.push(`complete -c spike ${at} -l ${f.long}${short}${value}`);
    }
    if (n.leaf) lines.push(`complete -c spike ${at} -F`);
  }
  return lines.join("\n") + "\n";
}

const SHELLS = { bash: bashCompletion, zsh: zshCompletion, fish: fishCompletion };

/** `spike completion`, for the tree `root()` returns (the whole CLI, this command included). */
export function completionCommand(root: () => CommandGroup): Command {
  return {
    name: "completion",
    summary: "Print a shell completion script (bash, zsh or fish)",
    usage: "bash|zsh|fish",
    help: "  bash:  source <(spike completion bash)          (e.g. in ~/.bashrc)\n" +
      "  zsh:   source <(spike completion zsh)           (after compinit, e.g. in ~/.zshrc)\n" +
      "  fish:  spike completion fish > ~/.config/fish/completions/spike.fish\n\n" +
      "Completes commands, subcommands, flags and output formats; other arguments complete\n" +
      "as file names. Needs no identity and talks to no Nexus.",
    run({ positionals }) {
      if (positionals.length !== 1) throw usageError("name one shell: bash, zsh or fish");
      const shell = positionals[0];
      if (!Object.hasOwn(SHELLS, shell)) {
        throw usageError(`unknown shell '${shell}': use bash, zsh or fish`);
      }
      writeOut(SHELLS[shell as keyof typeof SHELLS](root()));
      return Promise.resolve(0);
    },
  };
}
