#!/bin/bash
# format-check.sh SOURCE_DIR — every C++ file of the repository is as
# clang-format (.clang-format) writes it. Lists the files that are not and
# how to fix them; exit 1 then.
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find . \( -name '*.cpp' -o -name '*.h' \) -not -path './build*')
((${#files[@]} > 0)) || { echo "format-check: no C++ files found under $1" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
    printf 'format-check: not clang-formatted: %s\n' "${bad[@]}" >&2
    echo "format-check: fix with: clang-format -i ${bad[*]}" >&2
    exit 1
fi
echo "format-check: ${#files[@]} files clang-formatted"
