#pragma once
#include <string>

#include "http/http_options.h"
#include "http/image_identity.h"

namespace lazyroot::http {

struct ProbeResult {
    bool ok = false;
    ImageIdentity identity;
    std::string error;  // one line, when !ok
};

// Asks `url` for its first byte to learn the image size and validators, and
// checks that the server honours range requests. Blocking: attach time only,
// never on a queue thread.
ProbeResult probe(const std::string& url, const HttpOptions& opts);

}  // namespace lazyroot::http
