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
    if (auto v = header_value(line, "Content-Range")) {
        content_range_present = true;
        content_range = parse_content_range(*v);
    } else if (auto v = header_value(line, "Content-Length")) {
        uint64_t n = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (ec == std::errc() && p == v->data() + v->size()) content_length = n;
    } else if (auto v = header_value(line, "ETag")) {
        etag = std::string(*v);
    } else if (auto v = header_value(line, "Last-Modified")) {
        last_modified = std::string(*v);
    }
}

}  // namespace lazyroot::http
