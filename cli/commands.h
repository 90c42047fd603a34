#pragma once
#include <optional>

#include "cli/options.h"

namespace lazyroot::cli {

// Each returns the process exit status. Setup errors are thrown as
// std::runtime_error (one line) and turned into exit status 1 by main().
int run_attach(const AttachOptions& opts);
int run_detach(const DetachOptions& opts);
int run_list(const ListOptions& opts);
int run_status(const StatusOptions& opts);
int run_update_source(const UpdateSourceOptions& opts);

// The device an earlier `attach-cmdline` made, when it is still there (its
// daemon died): a restarted boot unit recovers it rather than attaching.
std::optional<unsigned> recoverable_cmdline_device();

}  // namespace lazyroot::cli
