/**
 * Shell completion scripts generated from the commander program, so they can never drift from the
 * commands that exist: {@link completionTree} walks `buildProgram`'s commands and options (commander's
 * own `Help.visibleCommands` / `visibleOptions`, so the implicit `help` command and `--help` are in), and
 * one renderer per shell turns that tree into a script. Pure: a program in, text out.
 *
 * Every script finds the command path the same way: walk the words typed so far, skip options (and the
 * value after an option that takes one), and step into a word when it names a subcommand of the path so
 * far. Then: after an option with choices, the choices; after another value option, file names; a word
 * starting with `-`, the path's options; else its subcommands.
 */
import type { Command, Option } from 'commander';

/** One option of a command, as completion needs it. */
export interface CompletionOption {
  /** Every spelling: `--json`, or `-V` and `--version`. */
  flags: string[];
  description: string;
  /** The option takes a value (`--tag <tag>`). */
  takesValue: boolean;
  /** The allowed values, when the option declares them (`.choices([...])`). */
  choices: string[];
}

/** One command: its path from the program (`['agentctl', 'review', 'show']`), subcommands and options. */
export interface CompletionNode {
  path: string[];
  description: string;
  commands: CompletionNode[];
  options: CompletionOption[];
  /** The allowed values of the first positional argument, when it declares them (`completion <shell>`). */
  argumentChoices: string[];
}

/** The shells a script can be generated for. */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

function optionOf(o: Option): CompletionOption {
  return {
    flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
    description: o.description,
    takesValue: o.required || o.optional,
    choices: o.argChoices ?? [],
  };
}

/**
 * The program's command tree (visible commands and options only, help included). Pure.
 * @param program the root command (from `buildProgram`)
 */
export function completionTree(program: Command, parent: string[] = []): CompletionNode {
  const help = program.createHelp();
  const path = [...parent, program.name()];
  return {
    path,
    description: program.description(),
    commands: help.visibleCommands(program).map((c) => completionTree(c, path)),
    options: help.visibleOptions(program).map(optionOf),
    argumentChoices: program.registeredArguments[0]?.argChoices ?? [],
  };
}

/** Every node of the tree, parents first. */
function nodes(tree: CompletionNode): CompletionNode[] {
  return [tree, ...tree.commands.flatMap(nodes)];
}

/** A POSIX shell single-quoted word (bash and zsh). */
function sq(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** A fish single-quoted word (fish escapes `\` and `'` inside single quotes). */
function fishQuote(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const key = (n: CompletionNode) => n.path.join(' ');
const subNames = (n: CompletionNode) => n.commands.map((c) => c.path.at(-1)!);
/** What a word that is not an option may be: a subcommand or a value of the first argument. */
const wordNames = (n: CompletionNode) => [...subNames(n), ...n.argumentChoices];
const valueFlags = (n: CompletionNode) => n.options.filter((o) => o.takesValue).flatMap((o) => o.flags);
const allFlags = (n: CompletionNode) => n.options.flatMap((o) => o.flags);

/** A bash/zsh `case` over command paths, printing each path's words (nothing for paths without any). */
function caseTable(fn: string, all: CompletionNode[], words: (n: CompletionNode) => string[]): string {
  const arms = all.filter((n) => words(n).length).map((n) => `    ${sq(key(n))}) echo ${sq(words(n).join(' '))} ;;`);
  return [`${fn}() {`, '  case "$1" in', ...arms, '  esac', '}'].join('\n');
}

/** The choices of `<path> <flag>` as a bash/zsh `case`. */
function choiceTable(fn: string, all: CompletionNode[]): string {
  const arms = all.flatMap((n) => n.options.filter((o) => o.choices.length).flatMap((o) => o.flags.map((f) => `    ${sq(`${key(n)} ${f}`)}) echo ${sq(o.choices.join(' '))} ;;`)));
  return [`${fn}() {`, '  case "$1 $2" in', ...arms, '  esac', '}'].join('\n');
}

/** The word-walk shared by bash and zsh: sets `cmdpath` from words[first..current-1]. */
function pathWalk(wordsVar: string, first: number, currentVar: string): string {
  return `  local cmdpath=agentctl w i
  for (( i=${first}; i<${currentVar}; i++ )); do
    w=\${${wordsVar}[i]}
    if [[ $w == -* ]]; then
      [[ $w != *=* && " $(__agentctl_valopts "$cmdpath") " == *" $w "* ]] && (( i++ ))
      continue
    fi
    [[ " $(__agentctl_subs "$cmdpath") " == *" $w "* ]] && cmdpath="$cmdpath $w"
  done`;
}

/**
 * The bash script: `source <(agentctl completion bash)` or save it under bash-completion's folder.
 * @param tree from {@link completionTree}
 */
export function bashCompletion(tree: CompletionNode): string {
  const all = nodes(tree);
  return `# bash completion for agentctl (generated by \`agentctl completion bash\` from its command table).
# Load it: source <(agentctl completion bash)   or save it as ~/.local/share/bash-completion/completions/agentctl
${caseTable('__agentctl_subs', all, subNames)}
${caseTable('__agentctl_words', all, wordNames)}
${caseTable('__agentctl_opts', all, allFlags)}
${caseTable('__agentctl_valopts', all, valueFlags)}
${choiceTable('__agentctl_choices', all)}
_agentctl() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=""
  (( COMP_CWORD > 0 )) && prev=\${COMP_WORDS[COMP_CWORD-1]}
${pathWalk('COMP_WORDS', 1, 'COMP_CWORD')}
  if [[ $prev == -* && " $(__agentctl_valopts "$cmdpath") " == *" $prev "* ]]; then
    local choices
    choices=$(__agentctl_choices "$cmdpath" "$prev")
    if [[ -n $choices ]]; then COMPREPLY=( $(compgen -W "$choices" -- "$cur") ); else COMPREPLY=( $(compgen -f -- "$cur") ); fi
    return 0
  fi
  if [[ $cur == -* ]]; then
    COMPREPLY=( $(compgen -W "$(__agentctl_opts "$cmdpath")" -- "$cur") )
  else
    COMPREPLY=( $(compgen -W "$(__agentctl_words "$cmdpath")" -- "$cur") )
  fi
  return 0
}
complete -F _agentctl agentctl
`;
}

/** zsh `_describe` entries (`name:description`, colons in the name escaped) for a path, as a `case`. */
function zshDescribeTable(fn: string, all: CompletionNode[], entries: (n: CompletionNode) => [string, string][]): string {
  const arms = all
    .filter((n) => entries(n).length)
    .map((n) => `    ${sq(key(n))}) reply=(${entries(n).map(([name, d]) => sq(`${name.replace(/:/g, '\\:')}:${d}`)).join(' ')}) ;;`);
  return [`${fn}() {`, '  reply=()', '  case "$1" in', ...arms, '  esac', '}'].join('\n');
}

/**
 * The zsh script: `source <(agentctl completion zsh)` after `compinit`, or save it as `_agentctl` in a
 * folder on `$fpath`.
 */
export function zshCompletion(tree: CompletionNode): string {
  const all = nodes(tree);
  return `#compdef agentctl
# zsh completion for agentctl (generated by \`agentctl completion zsh\` from its command table).
# Load it: source <(agentctl completion zsh)   (after compinit)   or save it as _agentctl on $fpath
${caseTable('__agentctl_subs', all, subNames)}
${caseTable('__agentctl_valopts', all, valueFlags)}
${choiceTable('__agentctl_choices', all)}
${zshDescribeTable('__agentctl_describe_subs', all, (n) => [...n.commands.map((c): [string, string] => [c.path.at(-1)!, c.description]), ...n.argumentChoices.map((a): [string, string] => [a, a])])}
${zshDescribeTable('__agentctl_describe_opts', all, (n) => n.options.flatMap((o) => o.flags.map((f): [string, string] => [f, o.description])))}
_agentctl() {
  local -a reply
${pathWalk('words', 2, 'CURRENT')}
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  if [[ $prev == -* && " $(__agentctl_valopts "$cmdpath") " == *" $prev "* ]]; then
    local choices=$(__agentctl_choices "$cmdpath" "$prev")
    if [[ -n $choices ]]; then compadd -- \${=choices}; else _files; fi
    return
  fi
  if [[ $cur == -* ]]; then
    __agentctl_describe_opts "$cmdpath"
    _describe -t options 'option' reply
  else
    __agentctl_describe_subs "$cmdpath"
    (( \${#reply} )) && _describe -t commands 'command' reply
  fi
}
if [[ "\${funcstack[1]}" == _agentctl ]]; then
  _agentctl "$@"
else
  compdef _agentctl agentctl
fi
`;
}

/** A fish `switch` over command paths printing words one per line. */
function fishTable(fn: string, all: CompletionNode[], words: (n: CompletionNode) => string[]): string {
  const arms = all.filter((n) => words(n).length).map((n) => `        case ${fishQuote(key(n))}\n            printf '%s\\n' ${words(n).map(fishQuote).join(' ')}`);
  return [`function ${fn}`, '    switch "$argv[1]"', ...arms, '    end', 'end'].join('\n');
}

/** The fish script: `agentctl completion fish | source`, or save it as `~/.config/fish/completions/agentctl.fish`. */
export function fishCompletion(tree: CompletionNode): string {
  const all = nodes(tree);
  const lines: string[] = [];
  for (const n of all) {
    const when = fishQuote(`test (__agentctl_path) = ${fishQuote(key(n))}`);
    for (const c of n.commands) lines.push(`complete -c agentctl -f -n ${when} -a ${fishQuote(c.path.at(-1)!)} -d ${fishQuote(c.description)}`);
    if (n.argumentChoices.length) lines.push(`complete -c agentctl -f -n ${when} -a ${fishQuote(n.argumentChoices.join(' '))}`);
    for (const o of n.options) {
      const spell = o.flags.map((f) => (f.startsWith('--') ? `-l ${fishQuote(f.slice(2))}` : `-s ${fishQuote(f.slice(1))}`)).join(' ');
      // A value without choices may be a file name (`--html report.html`); everything else is not.
      const value = o.choices.length ? ` -f -x -a ${fishQuote(o.choices.join(' '))}` : o.takesValue ? ' -r' : ' -f';
      lines.push(`complete -c agentctl -n ${when} ${spell}${value} -d ${fishQuote(o.description)}`);
    }
  }
  return `# fish completion for agentctl (generated by \`agentctl completion fish\` from its command table).
# Load it: agentctl completion fish | source   or save it as ~/.config/fish/completions/agentctl.fish
${fishTable('__agentctl_subs', all, subNames)}
${fishTable('__agentctl_valopts', all, valueFlags)}
function __agentctl_path
    set -l tokens (commandline -opc)
    set -l cmdpath agentctl
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -q -- '-*' $w
            if not string match -q -- '*=*' $w; and contains -- $w (__agentctl_valopts $cmdpath)
                set skip 1
            end
            continue
        end
        if contains -- $w (__agentctl_subs $cmdpath)
            set cmdpath "$cmdpath $w"
        end
    end
    echo $cmdpath
end
complete -c agentctl -e
${lines.join('\n')}
`;
}

/**
 * The completion script for a shell. Pure.
 * @param shell bash, zsh or fish
 * @param program the root command (from `buildProgram`)
 */
export function completionScript(shell: CompletionShell, program: Command): string {
  const tree = completionTree(program);
  return shell === 'bash' ? bashCompletion(tree) : shell === 'zsh' ? zshCompletion(tree) : fishCompletion(tree);
}
