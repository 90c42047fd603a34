#pragma once
#include <string>
#include <string_view>

namespace lazyroot::io {

// URLs can carry credentials: userinfo (https://user:password@host/) and,
// in presigned URLs, a query string (X-Amz-Signature=…, sig=…, token=…).
// These show a URL without them, for logs and `status`: userinfo becomes
// "…@" and an http(s) query "?…" (all of it: which parameters are secret
// differs by service). An nvme+tcp:// query (nsid, digest) is kept.
std::string redact_url(std::string_view url);

// Every URL ("scheme://…" up to white space or a quote) in a line of text,
// redacted as above; the rest is unchanged.
std::string redact_urls(std::string_view text);

}  // namespace lazyroot::io
