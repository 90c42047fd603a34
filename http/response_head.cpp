#include "http/response_head.h"

#include <charconv>

namespace lazyroot::http {

void ResponseHead::feed_line(std::string_view line) {
    if (auto code = parse_status_line(line)) {
        *this = ResponseHead{};
        status = *code;
        bytes = line.size();
        return;
    }
    bytes += line.size();
    // Which of two differing copies a server meant can't be known: neither is used.
    auto once = [this](std::string& seen, std::string_view v, const char* name) {
        if (!seen.empty() && seen != v && conflict.empty()) conflict = name;
        seen = std::string(v);
    };
    if (auto v = header_value(line, "Content-Range")) {
        once(raw_content_range_, *v, "Content-Range");
        content_range_present = true;
        content_range = conflict.empty() ? parse_content_range(*v) : std::nullopt;
    } else if (auto v = header_value(line, "Content-Length")) {
        once(raw_content_length_, *v, "Content-Length");
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec == std::errc() && p == v->data() + v->size()) content_length = n;
    } else if (auto v = header_value(line, "ETag")) {
        once(etag, *v, "ETag");
    } else if (auto v = header_value(line, "Last-Modified")) {
        once(last_modified, *v, "Last-Modified");
    }
}

}  // namespace lazyroot::http
