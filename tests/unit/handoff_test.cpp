#include <gtest/gtest.h>

#include <vector>

#include "cli/handoff.h"
#include "cli/options.h"
#include "dm/dm_table.h"

#include <sys/sysmacros.h>
#include "initrd/cmdline.h"

using namespace lazyroot;

namespace {
cli::AttachOptions attach(std::vector<const char*> args) {
    args.insert(args.begin(), "lazyroot");
    return std::get<cli::AttachOptions>(cli::parse_command_line(static_cast<int>(args.size()), args.data()));
}
}  // namespace

TEST(Handoff, OptionAndModeDefaults) {
    EXPECT_FALSE(attach({"attach", "file:///img"}).handoff);
    EXPECT_EQ(attach({"attach", "file:///img", "--mode", "full", "--handoff"}).handoff, true);
    EXPECT_EQ(attach({"attach", "file:///img", "--mode", "full", "--handoff=no"}).handoff, false);
    EXPECT_EQ(attach({"attach", "file:///img", "--mode", "hydrate", "--handoff=yes"}).handoff, true);
    EXPECT_THROW(attach({"attach", "file:///img", "--mode", "full", "--handoff=maybe"}), cli::UsageError);
    // lazy without a cache has nothing to hand off to
    EXPECT_THROW(attach({"attach", "file:///img", "--handoff"}), cli::UsageError);

    cli::AttachOptions o;
    o.mode = cli::Mode::Hydrate;
    EXPECT_TRUE(cli::handoff_wanted(o, true));
    EXPECT_FALSE(cli::handoff_wanted(o, false));  // would change the device path: asked for only
    o.mode = cli::Mode::Lazy;
    EXPECT_FALSE(cli::handoff_wanted(o, true));
    o.handoff = true;
    EXPECT_TRUE(cli::handoff_wanted(o, false));
    o.mode = cli::Mode::Full;
    o.handoff = false;
    EXPECT_FALSE(cli::handoff_wanted(o, true));
}

TEST(Handoff, KernelCmdline) {
    auto a = initrd::parse_root_spec("rd.lazyroot=https://x/r.raw,mode=hydrate,handoff");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->args, (std::vector<std::string>{"--mode=hydrate", "--handoff=yes"}));
    a = initrd::parse_root_spec("rd.lazyroot=https://x/r.raw,handoff=no");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->args, (std::vector<std::string>{"--handoff=no"}));
    EXPECT_THROW(initrd::parse_root_spec("rd.lazyroot=https://x/r.raw,handoff=1"), initrd::CmdlineError);
    EXPECT_THROW(initrd::parse_root_spec("rd.lazyroot=https://x/r.raw,handoff="), initrd::CmdlineError);
}

TEST(Handoff, TableRewriteReplacesWholeDeviceWordsOnly) {
    std::vector<dm::Target> t{
        {0, 8, "verity", "1 259:0 259:0 4096 4096 2 3 sha256 ab cd 1 ignore_zero_blocks"},
        {8, 8, "linear", "259:01 0"},
    };
    EXPECT_EQ(dm::replace_device(t, "259:0", "7:3"), 2u);
    EXPECT_EQ(t[0].params, "1 7:3 7:3 4096 4096 2 3 sha256 ab cd 1 ignore_zero_blocks");
    EXPECT_EQ(t[1].params, "259:01 0");
    EXPECT_EQ(dm::replace_device(t, "259:0", "7:3"), 0u);
    EXPECT_EQ(dm::dev_text(makedev(7, 3)), "7:3");
}
