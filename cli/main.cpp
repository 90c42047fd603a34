#include <cstdio>
#include <exception>
#include <type_traits>
#include <variant>

#include "cli/commands.h"
#include "cli/options.h"
#include "io/log.h"
#include "verity/prepare.h"

int main(int argc, char** argv) {
    using namespace lazyroot;
    try {
        cli::Command cmd = cli::parse_command_line(argc, argv);
        return std::visit(
            [](auto& c) -> int {
                using T = std::decay_t<decltype(c)>;
                if constexpr (std::is_same_v<T, cli::AttachOptions>) return cli::run_attach(c);
                if constexpr (std::is_same_v<T, cli::DetachOptions>) return cli::run_detach(c);
                if constexpr (std::is_same_v<T, cli::ListOptions>) return cli::run_list(c);
                if constexpr (std::is_same_v<T, cli::StatusOptions>) return cli::run_status(c);
                if constexpr (std::is_same_v<T, cli::PrepareOptions>) return verity::run_prepare(c);
                if constexpr (std::is_same_v<T, cli::HelpRequest>) {
                    std::fputs(c.text.c_str(), stdout);
                    return 0;
                }
            },
            cmd);
    } catch (const cli::UsageError& e) {
        log::error("%s", e.what());
        return 2;
    } catch (const std::exception& e) {
        log::error("%s", e.what());
        return 1;
    }
}
