#include "http/url_check.h"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <string_view>

namespace lazyroot::http {

std::optional<std::string> url_error(const std::string& url) {
    std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), curl_url_cleanup);
    if (!u) return "out of memory";
    // The same parser the transfers use: what passes here, libcurl accepts later.
    if (CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK)
        return std::string(curl_url_strerror(rc));
    char* scheme = nullptr;
    std::optional<std::string> why;
    if (curl_url_get(u.get(), CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (std::string(scheme) != "http" && std::string(scheme) != "https"))
        why = "not an http(s):// URL";
    curl_free(scheme);
    char* host = nullptr;
    if (!why && (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)) why = "no host";
    curl_free(host);
    return why;
}

bool is_presigned(const std::string& url) {
    const size_t q = url.find('?');
    if (q == std::string::npos) return false;
    const size_t end = url.find('#', q);
    const std::string query = url.substr(q + 1, end == std::string::npos ? end : end - q - 1);
    // Parameter names as AWS (and radosgw, minio, GCS's XML API) spell them.
    for (const char* p : {"X-Amz-Signature=", "X-Amz-Credential="}) {
        for (size_t at = query.find(p); at != std::string::npos; at = query.find(p, at + 1))
            if (at == 0 || query[at - 1] == '&') return true;
    }
    return false;
}

namespace {

// The value of query parameter `name` (not decoded), or nullopt.
std::optional<std::string> query_value(const std::string& url, const std::string& name) {
    const size_t q = url.find('?');
    if (q == std::string::npos) return std::nullopt;
    const size_t end = std::min(url.find('#', q), url.size());
    for (size_t at = q + 1; at < end;) {
        size_t amp = url.find('&', at);
        if (amp == std::string::npos || amp > end) amp = end;
        const std::string_view param(url.data() + at, amp - at);
        if (param.size() > name.size() && param.compare(0, name.size(), name) == 0 && param[name.size()] == '=')
            return std::string(param.substr(name.size() + 1));
        at = amp + 1;
    }
    return std::nullopt;
}

bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string utc_text(int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    if (!::gmtime_r(&tt, &tm)) return std::to_string(t);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

}  // namespace

std::optional<int64_t> presigned_expiry(const std::string& url) {
    const auto date = query_value(url, "X-Amz-Date");
    const auto expires = query_value(url, "X-Amz-Expires");
    // 20261130T211500Z; expires: at most 7 days by AWS's rules, any digits here.
    if (!date || !expires || date->size() != 16 || (*date)[8] != 'T' || (*date)[15] != 'Z') return std::nullopt;
    const std::string_view d(*date);
    if (!all_digits(d.substr(0, 8)) || !all_digits(d.substr(9, 6)) || !all_digits(*expires) || expires->size() > 9)
        return std::nullopt;
    std::tm tm{};
    tm.tm_year = std::stoi(date->substr(0, 4)) - 1900;
    tm.tm_mon = std::stoi(date->substr(4, 2)) - 1;
    tm.tm_mday = std::stoi(date->substr(6, 2));
    tm.tm_hour = std::stoi(date->substr(9, 2));
    tm.tm_min = std::stoi(date->substr(11, 2));
    tm.tm_sec = std::stoi(date->substr(13, 2));
    if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    return static_cast<int64_t>(::timegm(&tm)) + std::stoll(*expires);
}

std::string forbidden_hint(const std::string& url, int64_t now) {
    if (!is_presigned(url)) return {};
    const auto expiry = presigned_expiry(url);
    if (!expiry) return "presigned URL expired or refused";
    // The store judges by its own clock: one a little ahead of ours (an
    // initrd's clock set from a 1 s RTC, no NTP yet) already refuses a URL
    // that has seconds left here. Within kClockSlack of the expiry, the
    // expiry is by far the likeliest reason.
    constexpr int64_t kClockSlack = 300;
    if (now + kClockSlack >= *expiry) return "presigned URL expired at " + utc_text(*expiry);
    // Long before its expiry: a revoked key, a clock far behind the store's,
    // or a URL signed for another method or object.
    return "presigned URL refused (valid until " + utc_text(*expiry) + " by this machine's clock)";
}

std::string forbidden_hint(const std::string& url) {
    return forbidden_hint(url, static_cast<int64_t>(std::time(nullptr)));
}

}  // namespace lazyroot::http
