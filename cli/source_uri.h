#pragma once
#include <string>

namespace lazyroot::cli {

// SOURCE as given on the command line, split into what selects a backend.
// Parsing only: opening it is SourceStack's (cli/source_stack.h).
struct SourceUri {
    enum class Kind { File, Http, NvmeTcp };
    Kind kind = Kind::File;
    std::string text;  // as given
    std::string path;  // File: the absolute path
    bool s3 = false;   // Http: an s3://BUCKET/KEY, fetched through http(s) (cli/source_stack.h: http_url)
};

// Throws cli::UsageError with a one-line reason: an unknown scheme, or a URL
// its backend could not use (checked here, before any option is looked at).
SourceUri parse_source_uri(const std::string& text);

struct AttachOptions;

// Checks the options that depend on the kind of SOURCE: those that don't
// apply to it are refused (--mirror, --ca, --connections on file://, …), and
// plain http:// needs verity or --insecure. Throws cli::UsageError.
void check_source_options(const SourceUri& uri, const AttachOptions& opts);

}  // namespace lazyroot::cli
