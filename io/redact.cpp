#include "io/redact.h"

#include "io/ascii.h"

#include <cctype>

namespace lazyroot::io {
namespace {

bool scheme_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.'; }

bool ends_url(char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`';
}

}  // namespace

std::string redact_url(std::string_view url) {
    const size_t sep = url.find("://");
    if (sep == std::string_view::npos) return std::string(url);
    const std::string_view scheme = url.substr(0, sep);
    const size_t auth_begin = sep + 3;
    size_t auth_end = url.find_first_of("/?#", auth_begin);
    if (auth_end == std::string_view::npos) auth_end = url.size();
    std::string out(url.substr(0, auth_begin));
    const std::string_view authority = url.substr(auth_begin, auth_end - auth_begin);
    // The last '@' ends the userinfo: a password may contain an unescaped one.
    const size_t at = authority.rfind('@');
    if (at != std::string_view::npos) out += "…@";
    out += authority.substr(at == std::string_view::npos ? 0 : at + 1);
    std::string_view rest = url.substr(auth_end);
    const size_t q = rest.find('?');
    const bool http = iequals(scheme, "http") || iequals(scheme, "https");
    if (http && q != std::string_view::npos) {
        const size_t hash = rest.find('#', q);
        out += rest.substr(0, q);
        out += "?…";
        if (hash != std::string_view::npos) out += rest.substr(hash);
    } else {
        out += rest;
    }
    return out;
}

std::string redact_urls(std::string_view text) {
    std::string out;
    size_t done = 0;  // text before this is in out
    size_t from = 0;
    for (;;) {
        const size_t sep = text.find("://", from);
        if (sep == std::string_view::npos) break;
        size_t begin = sep;
        while (begin > done && scheme_char(text[begin - 1])) --begin;
        size_t end = sep + 3;
        while (end < text.size() && !ends_url(text[end])) ++end;
        // "URL: reason", "(URL)", "URL, …": the punctuation is the message's.
        while (end > sep + 3 && std::string_view(":;,.)").find(text[end - 1]) != std::string_view::npos) --end;
        if (begin == sep) {  // "://" without a scheme: not a URL
            from = sep + 3;
            continue;
        }
        out += text.substr(done, begin - done);
        out += redact_url(text.substr(begin, end - begin));
        done = from = end;
    }
    out += text.substr(done);
    return out;
}

}  // namespace lazyroot::io
