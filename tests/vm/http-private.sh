#!/bin/bash
# vm.http_private — issue 19: a private server and presigned URLs, against
# real nginx (nginx-host.sh's /private/, /signed/ and /expired/ locations).
#   --header-file: without it attach fails with a one-line 401; with it every
#   file's sha256 matches; the token appears in no log, state or status file
#   (the state file records the file's path).
#   A presigned URL (HEAD refused, only the exact signed query accepted) is
#   read with GETs alone and its query intact; an expired one (403) fails
#   attach with a one-line reason that says so and does not print the
#   signature.
set -euo pipefail
. "$LAZYROOT_GUEST_LIB"
. "$LAZYROOT_SOURCE_DIR/tests/vm/http-lib.sh"
guest_up

token=lzr-s3cr3t-7f3a9c
query='X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=0123456789abcdef'

# expect_one_line_failure PATTERN -- ARGS...
expect_one_line_failure() {
    local pattern=$1
    shift 2
    local rc=0
    "$@" >/tmp/out 2>/tmp/err || rc=$?
    [[ $rc -ne 0 ]] || vm_die "'$*' succeeded"
    [[ $(wc -l </tmp/err) -eq 1 ]] || vm_die "'$*' stderr is not one line: $(cat /tmp/err)"
    grep -qE "$pattern" /tmp/err || vm_die "'$*' stderr lacks /$pattern/: $(cat /tmp/err)"
    compgen -G '/dev/ublk[bc]*' >/dev/null && vm_die "'$*' left ublk nodes behind"
    echo "ok: refused: $(cat /tmp/err)"
}

mkdir -p /etc/lazyroot /mnt/p
printf '# the image server wants a bearer token\n\nAuthorization: Bearer %s\n' "$token" >/etc/lazyroot/headers
chmod 600 /etc/lazyroot/headers

# 1. --header-file.
expect_one_line_failure "HTTP 401" -- "$lazyroot" attach "$primary/private/ext4.img" --insecure --daemon
printf 'Authorization Bearer %s\n' "$token" >/tmp/bad-headers
expect_one_line_failure "/tmp/bad-headers line 1: not a 'Name: value' header" -- \
    "$lazyroot" attach "$primary/private/ext4.img" --insecure --header-file=/tmp/bad-headers --daemon
grep -q "$token" /tmp/err && vm_die "the malformed line's token was printed"

dev=$("$lazyroot" attach "$primary/private/ext4.img" --insecure --header-file=/etc/lazyroot/headers \
    --queues 2 --daemon 2>/tmp/attach.log)
echo "attached: $dev"
mount -o ro "$dev" /mnt/p
check_files /mnt/p "$images/files.sha256"
echo "all $(wc -l <"$images/files.sha256") files match through the bearer token"
"$lazyroot" status --json >/tmp/status.json
"$lazyroot" list --json >/tmp/list.json
grep -q -- "--header-file=/etc/lazyroot/headers" /run/lazyroot/*.json ||
    vm_die "the state file does not record the header file's path"
umount /mnt/p
"$lazyroot" detach "$dev" 2>>/tmp/attach.log
if grep -rl -- "$token" /run/lazyroot /tmp/attach.log /tmp/status.json /tmp/list.json /tmp/err; then
    vm_die "the token was written out"
fi
echo "the token is in no log, state or status file"

# 2. Presigned URLs.
dev=$("$lazyroot" attach "$primary/signed/ext4.img?$query" --insecure --daemon 2>/tmp/signed.log)
mount -o ro "$dev" /mnt/p
check_files /mnt/p "$images/files.sha256"
echo "all files match through the presigned URL (GETs only, query intact)"
umount /mnt/p
"$lazyroot" detach "$dev"
# The same object without its signature is refused by the "store".
expect_one_line_failure "HTTP 403" -- "$lazyroot" attach "$primary/signed/ext4.img" --insecure --daemon
grep -q presigned /tmp/err && vm_die "a plain URL's 403 was called a presigned expiry"
expect_one_line_failure "^lazyroot: error: .*403.*presigned URL expired or refused" -- \
    "$lazyroot" attach "$primary/expired/ext4.img?$query" --insecure --daemon
grep -q 0123456789abcdef /tmp/err /tmp/signed.log && vm_die "the signature was printed"
echo "http_private: OK"
