# shellcheck shell=bash disable=SC2034 # the URLs are used by the scripts that source this
# Helpers for the guest scripts behind tier-host.sh (vm.http_cache_tier,
# vm.http_fleet16): the caching tiers in front of the primary nginx.
varnish=http://10.0.2.100:85
slice=http://10.0.2.100:86
stripped=http://10.0.2.100:87
full200=http://10.0.2.100:88

# tier_ctl CMD [ARG] — tier-ctl.sh on the host: varnish counters and bans,
# the nginx tiers' byte counts.
tier_ctl() {
    local answer
    exec 3<>/dev/tcp/10.0.2.100/91
    echo "$1 ${2:-}" >&3
    read -r answer <&3
    exec 3<&-
    echo "$answer"
}

# tier_client_bytes TIER — body bytes TIER (varnish, slice) sent its clients.
tier_client_bytes() {
    if [[ $1 == varnish ]]; then tier_ctl varnish s_resp_bodybytes; else tier_ctl bytes "$1"; fi
}
