#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "http/content_range.h"

namespace lazyroot::http {

// The parts of a response's header block a range fetch depends on, fed one
// line at a time (as libcurl's header callback delivers them). A new status
// line starts over, so after redirects it describes the final response.
struct ResponseHead {
    int status = 0;
    bool content_range_present = false;
    std::optional<ContentRange> content_range;  // nullopt if absent or malformed
    std::optional<uint64_t> content_length;
    std::string etag;
    std::string last_modified;
    size_t bytes = 0;  // header bytes of this response so far, status line included
    // A header the answer depends on, given twice with different values
    // (a broken or hostile tier): its name, and the answer is not to be used.
    std::string conflict;

    void feed_line(std::string_view line);

private:
    std::string raw_content_range_;
    std::string raw_content_length_;
};

}  // namespace lazyroot::http
