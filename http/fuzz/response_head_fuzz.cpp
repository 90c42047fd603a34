// libFuzzer: the response head as libcurl hands it over, one header line at a
// time, and the Content-Range parser on its own. Whatever the server sends,
// nothing crashes, and what is parsed is what the bytes say: a range is
// first <= last < size, a status is three digits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/content_range.h"
#include "http/response_head.h"

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_range(const lazyroot::http::ContentRange& cr) {
    if (cr.unsatisfied) {
        check(cr.size.has_value());
        return;
    }
    check(cr.first <= cr.last);
    if (cr.size) check(cr.last < *cr.size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace lazyroot::http;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // The whole input as one Content-Range value.
    if (auto cr = parse_content_range(text)) {
        check_range(*cr);
        // Formatting it again parses to the same thing.
        std::string again = "bytes ";
        again += cr->unsatisfied ? "*" : std::to_string(cr->first) + "-" + std::to_string(cr->last);
        again += "/" + (cr->size ? std::to_string(*cr->size) : std::string("*"));
        auto back = parse_content_range(again);
        check(back && back->unsatisfied == cr->unsatisfied && back->size == cr->size &&
              (cr->unsatisfied || (back->first == cr->first && back->last == cr->last)));
    }

    // The input as header lines, split where libcurl would (after "\n").
    ResponseHead head;
    size_t pos = 0;
    while (pos < text.size()) {
        const size_t nl = text.find('\n', pos);
        const size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
        const std::string_view line = text.substr(pos, end - pos);
        head.feed_line(line);
        if (auto code = parse_status_line(line)) check(*code >= 100 && *code <= 999);
        pos = end;
    }
    if (head.content_range) {
        check(head.content_range_present);
        check_range(*head.content_range);
    }
    check(head.status == 0 || (head.status >= 100 && head.status <= 999));
    return 0;
}
