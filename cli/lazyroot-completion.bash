# bash completion for lazyroot(8). Installed by `cmake --install` into
# share/bash-completion/completions/lazyroot. Plain compgen only, so it needs
# nothing from the bash-completion package (and unit_tests can load it in a
# bare bash). tests/unit/cli_docs_test.cpp checks that it names every
# subcommand and option `lazyroot --help-all` lists.

_lazyroot_devices() {
    local d
    for d in /dev/ublkb* /dev/mapper/*; do
        [[ -b $d ]] && printf '%s\n' "$d"
    done
}

_lazyroot() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="attach recover detach list status update-source profile prepare cmdline attach-cmdline"
    local cmd='' i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -*) ;;
        *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    COMPREPLY=()
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands --help --help-all --version" -- "$cur"))
        return
    fi
    # `--opt=value` is one word with COMP_WORDBREAKS' '=' removed, two otherwise.
    if [[ $cur == --*=* ]]; then
        prev=${cur%%=*}
        cur=${cur#*=}
    elif [[ $cur == = ]]; then
        cur=''
    elif [[ $prev == = && $COMP_CWORD -ge 2 ]]; then
        prev=${COMP_WORDS[COMP_CWORD-2]}
    fi
    case $prev in
    --mode) COMPREPLY=($(compgen -W "lazy full hydrate" -- "$cur")); return ;;
    --verity) COMPREPLY=($(compgen -W "manifest ddi" -- "$cur")); return ;;
    --nvme-transport) COMPREPLY=($(compgen -W "user kernel" -- "$cur")); return ;;
    --io-timeout) COMPREPLY=($(compgen -W "30 infinity" -- "$cur")); return ;;
    --salt) COMPREPLY=($(compgen -W "none keep" -- "$cur")); return ;;
    --cache | --trust | --ca | --cert | --key | --header-file | --profile-record | --s3-credentials | --sign-key | --sign-cert | --hash-out)
        COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --http-version) COMPREPLY=($(compgen -W "2 1.1" -- "$cur")); return ;;
    --zero-copy) COMPREPLY=($(compgen -W "auto off" -- "$cur")); return ;;
    --recover) COMPREPLY=($(compgen -W "$(_lazyroot_devices)" -- "$cur")); return ;;
    --queues | --depth | --name | --chunk-size | --hydrate-rate | --mirror | --resolve | --connections | --max-connections | --profile | --profile-record-secs | \
        --s3-endpoint | --s3-region | \
        --readahead | --memory-budget | --coalesce | --hash-offset | --hash-source | --hostnqn | --timeout)
        return ;;
    esac
    local opts=''
    case $cmd in
    attach)
        opts="--mode --cache --chunk-size --hydrate-rate --mirror --resolve --connections --max-connections --http-version --profile --profile-record --profile-record-secs --io-timeout
              --readahead --zero-copy --memory-budget --coalesce --verity --hash-offset --hash-source --trust --verity-sig-keyring
              --handoff --insecure --ca --cert --key --header-file --s3-endpoint --s3-region --s3-credentials
              --nvme-transport --hostnqn --queues --depth --name --daemon
              --recover --help" ;;
    recover) opts="--daemon --help" ;;
    detach) opts="--timeout --force --help" ;;
    update-source | profile) opts="--timeout --help" ;;
    list | status) opts="--json --help" ;;
    prepare) opts="--salt --sign-key --sign-cert --hash-out --profile --compress --frame-size --help" ;;
    cmdline | attach-cmdline) opts="--help" ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    case $cmd in
    attach) COMPREPLY=($(compgen -W "file:/// http:// https:// s3:// nvme+tcp://" -- "$cur")) ;;
    recover | detach | update-source) COMPREPLY=($(compgen -W "$(_lazyroot_devices)" -- "$cur")) ;;
    prepare) COMPREPLY=($(compgen -f -- "$cur")) ;;
    profile) COMPREPLY=($(compgen -W "stop $(_lazyroot_devices)" -- "$cur")) ;;
    esac
}
complete -F _lazyroot lazyroot
