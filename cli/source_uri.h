#pragma once
#include <memory>
#include <string>

#include "io/source.h"

namespace lazyroot::cli {

// SOURCE as given on the command line, split into what selects a backend.
struct SourceUri {
    enum class Kind { File, Http, NvmeTcp };
    Kind kind = Kind::File;
    std::string text;  // as given
    std::string path;  // File: the absolute path
};

// Throws cli::UsageError with a one-line reason.
SourceUri parse_source_uri(const std::string& text);

struct AttachOptions;

// Checks the options that depend on the kind of SOURCE (mirrors, TLS files,
// --insecure for plain http). Throws cli::UsageError.
void check_source_options(const SourceUri& uri, const AttachOptions& opts);

// Opens the backend for `uri`, for a device with `queues` queues. Throws
// std::runtime_error with a one-line reason.
std::unique_ptr<io::Source> open_source(const SourceUri& uri, const AttachOptions& opts,
                                        unsigned queues);
std::unique_ptr<io::Source> open_source(const SourceUri& uri);

}  // namespace lazyroot::cli
