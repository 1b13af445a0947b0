# bash completion for hostless. Installed to
# <prefix>/share/bash-completion/completions/hostless; to try it from a
# checkout: source src/cli/completion/hostless.bash

# The addresses this node knows (needs a running daemon; silent otherwise).
_hostless_addresses() {
  local home=()
  [ -n "$1" ] && home=(--home "$1")
  hostless "${home[@]}" sites --json 2>/dev/null |
    sed -n 's/^ *"address": "\([a-z0-9]*\)",*$/\1/p'
}

_hostless() {
  local cur prev words cword
  _init_completion || return

  local commands="daemon new publish post resolve get torrent mirror unmirror follow unfollow following network block unblock blocklist timeline dashboard status sites keys name export"
  local home="" cmd="" sub="" i
  for ((i = 1; i < cword; i++)); do
    case "${words[i]}" in
      --home) home="${words[i + 1]}"; ((i++)) ;;
      -*) ;;
      *) if [ -z "$cmd" ]; then cmd="${words[i]}"; elif [ -z "$sub" ]; then sub="${words[i]}"; fi ;;
    esac
  done

  case "$prev" in
    --home|-o|--output|--attach) _filedir; return ;;
    --template|-t)
      COMPREPLY=($(compgen -W "$(hostless new --list 2>/dev/null | awk '{print $1}')" -- "$cur"))
      return ;;
    --key)
      COMPREPLY=($(compgen -W "$(hostless ${home:+--home "$home"} keys list 2>/dev/null | awk '{print $1}')" -- "$cur"))
      return ;;
  esac

  local opts=""
  case "$cmd" in
    "") COMPREPLY=($(compgen -W "$commands --home --help --version" -- "$cur")); return ;;
    daemon) opts="--gateway --listen --bootstrap --lan --no-lsd --gateway-timeout --republish-interval
                  --dht-item-lifetime --refresh-interval --mirror-interval --version-grace --cache-size
                  --site-cache-size --follow-max-mib --upload-limit" ;;
    new) opts="--template --list --json" ;;
    publish) opts="--key --web-seed --no-web-seeds --json" ;;
    export) opts="--json" ;;
    post) opts="--reply-to --attach --delete --key --no-publish --json" ;;
    resolve) opts="--timeout --json" ;;
    get|mirror|unmirror|unfollow|following|network|block|unblock|sites|status) opts="--json" ;;
    follow) opts="--as --media --json" ;;
    timeline) opts="--limit --json" ;;
    torrent) opts="--output --magnet --v1" ;;
    dashboard) opts="--open --json" ;;
    keys)
      if [ -z "$sub" ]; then
        COMPREPLY=($(compgen -W "list new export import" -- "$cur"))
        return
      fi ;;
    blocklist)
      if [ -z "$sub" ]; then
        COMPREPLY=($(compgen -W "subscribe unsubscribe list" -- "$cur"))
        return
      fi
      opts="--json" ;;
    name)
      if [ -z "$sub" ]; then
        COMPREPLY=($(compgen -W "set list rm" -- "$cur"))
        return
      fi
      opts="--json"
      [ "$sub" = set ] && opts="--force --json" ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
    return
  fi
  case "$cmd" in
    new|publish) _filedir -d ;;
    post) [ -z "$sub" ] && _filedir -d ;;
    get|export) if [ -z "$sub" ]; then
           COMPREPLY=($(compgen -W "$(_hostless_addresses "$home")" -- "$cur"))
         else
           _filedir -d
         fi ;;
    resolve|torrent|mirror|unmirror|follow|unfollow|block|unblock)
      COMPREPLY=($(compgen -W "$(_hostless_addresses "$home")" -- "$cur")) ;;
    keys) [ "$sub" = import ] && _filedir ;;
    blocklist) [ "$sub" != list ] && COMPREPLY=($(compgen -W "$(_hostless_addresses "$home")" -- "$cur")) ;;
    name)
      if [ "$sub" = rm ]; then
        COMPREPLY=($(compgen -W "$(hostless ${home:+--home "$home"} name list 2>/dev/null | awk 'NR > 1 {print $1}')" -- "$cur"))
      elif [ "$sub" = set ] && [ "${words[cword - 1]}" != set ]; then
        COMPREPLY=($(compgen -W "$(_hostless_addresses "$home")" -- "$cur"))
      fi ;;
  esac
}
complete -F _hostless hostless
