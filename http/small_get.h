#pragma once
#include <cstddef>
#include <string>

#include "http/http_options.h"

namespace lazyroot::http {

// GETs a small document (a manifest next to the image) whole. Blocking:
// attach time only. Throws std::runtime_error with a one-line reason,
// including for a body larger than `max_bytes`.
std::string small_get(const std::string& url, const HttpOptions& opts, size_t max_bytes = 1 << 20);

}  // namespace lazyroot::http
