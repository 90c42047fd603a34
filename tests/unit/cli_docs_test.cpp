// The command line's own documentation: --version, the help's list of
// subcommands, and that lazyroot(8) and the bash completion name every
// subcommand and option the parser knows (so neither drifts from the code).
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/options.h"

using namespace lazyroot::cli;

namespace {

std::string help_for(std::vector<const char*> args) {
    args.insert(args.begin(), "lazyroot");
    auto cmd = parse_command_line(static_cast<int>(args.size()), args.data());
    return std::get<HelpRequest>(cmd).text;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The subcommands in the "Subcommands:" section of `lazyroot --help`.
std::vector<std::string> subcommands() {
    const std::string help = help_for({"--help"});
    const auto at = help.find("Subcommands:");
    EXPECT_NE(at, std::string::npos) << help;
    std::vector<std::string> names;
    std::istringstream lines(help.substr(at));
    std::string line;
    std::getline(lines, line);
    static const std::regex entry(R"(^\s+([a-z][a-z-]*)\s)");
    while (std::getline(lines, line)) {
        std::smatch m;
        if (std::regex_search(line, m, entry)) names.push_back(m[1]);
    }
    return names;
}

// Every --option that `lazyroot --help-all` shows.
std::set<std::string> options() {
    const std::string help = help_for({"--help-all"});
    static const std::regex opt(R"(--[a-z][a-z-]*[a-z])");
    std::set<std::string> all;
    for (auto it = std::sregex_iterator(help.begin(), help.end(), opt); it != std::sregex_iterator(); ++it)
        all.insert(it->str());
    return all;
}

// Runs a bare bash with the completion loaded and COMP_WORDS = words (bash
// syntax); returns COMPREPLY joined by spaces.
std::string complete(const std::string& words) {
    char path[] = "/tmp/lazyroot-completion-XXXXXX";
    const int fd = ::mkstemp(path);
    EXPECT_GE(fd, 0);
    const std::string script = std::string("source '") + LAZYROOT_SOURCE_DIR + "/cli/lazyroot-completion.bash'\n" +
                               "COMP_WORDS=(" + words + ")\nCOMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
                               "_lazyroot\necho \"${COMPREPLY[*]}\"\n";
    EXPECT_EQ(::write(fd, script.data(), script.size()), static_cast<ssize_t>(script.size()));
    ::close(fd);
    FILE* p = ::popen((std::string("bash --norc --noprofile ") + path).c_str(), "r");
    EXPECT_NE(p, nullptr);
    std::string out;
    char buf[256];
    while (p && std::fgets(buf, sizeof buf, p)) out += buf;
    if (p) {
        EXPECT_EQ(::pclose(p), 0);
    }
    ::unlink(path);
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace

TEST(CliDocs, VersionIsTheProjectVersion) {
    const std::string v = help_for({"--version"});
    EXPECT_EQ(v.rfind(std::string("lazyroot ") + LAZYROOT_VERSION, 0), 0u) << v;
    EXPECT_EQ(v.back(), '\n');
    EXPECT_EQ(v.find('\n'), v.size() - 1) << "one line: " << v;
}

TEST(CliDocs, HelpListsEverySubcommand) {
    const auto names = subcommands();
    for (const char* want :
         {"attach", "detach", "recover", "list", "status", "update-source", "prepare", "cmdline", "attach-cmdline"})
        EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want << " not in lazyroot --help";
}

TEST(CliDocs, CmdlineTakesNoArguments) {
    for (const char* sub : {"cmdline", "attach-cmdline"}) {
        std::vector<const char*> args{"lazyroot", sub, "extra"};
        EXPECT_THROW(parse_command_line(3, args.data()), UsageError) << sub;
    }
}

TEST(CliDocs, ManPageNamesEverySubcommandAndOption) {
    const std::string man = read_file(std::string(LAZYROOT_SOURCE_DIR) + "/docs/lazyroot.8.scd");
    ASSERT_FALSE(man.empty());
    for (const auto& sub : subcommands()) EXPECT_NE(man.find("*" + sub + "*"), std::string::npos) << sub;
    for (const auto& opt : options()) EXPECT_NE(man.find("*" + opt), std::string::npos) << opt;
    EXPECT_NE(man.find("# EXIT STATUS"), std::string::npos);
}

TEST(CliDocs, CompletionNamesEverySubcommandAndOption) {
    const std::string comp = read_file(std::string(LAZYROOT_SOURCE_DIR) + "/cli/lazyroot-completion.bash");
    ASSERT_FALSE(comp.empty());
    auto words_of = [](const std::string& s) {
        std::set<std::string> w;
        static const std::regex tok(R"(--?[a-z][a-z-]*|[a-z][a-z-]*)");
        for (auto it = std::sregex_iterator(s.begin(), s.end(), tok); it != std::sregex_iterator(); ++it)
            w.insert(it->str());
        return w;
    };
    const auto words = words_of(comp);
    for (const auto& sub : subcommands()) EXPECT_TRUE(words.count(sub)) << sub;
    for (const auto& opt : options()) EXPECT_TRUE(words.count(opt)) << opt;
}

TEST(CliDocs, CompletionCompletes) {
    EXPECT_EQ(complete("lazyroot att"), "attach attach-cmdline");
    EXPECT_EQ(complete("lazyroot attach --mo"), "--mode");
    EXPECT_EQ(complete("lazyroot attach --mode ''"), "lazy full hydrate");
    EXPECT_EQ(complete("lazyroot attach --nvme-transport=k"), "kernel");
    EXPECT_EQ(complete("lazyroot status --"), "--json --help");
    EXPECT_EQ(complete("lazyroot --ver"), "--version");
    EXPECT_EQ(complete("lazyroot prepare img --salt k"), "keep");
}
