#include <gtest/gtest.h>

#include "ublk/features.h"
#include "ublk/params.h"

using namespace lazyroot::ublk;

TEST(Params, RootImageIsReadOnlyWith512LogicalAnd4kPhysical) {
    ublk_params p = make_params(256ull << 20, 512 * 1024);
    EXPECT_EQ(p.len, sizeof(p));
    EXPECT_EQ(p.types, UBLK_PARAM_TYPE_BASIC);
    EXPECT_EQ(p.basic.attrs & UBLK_ATTR_READ_ONLY, UBLK_ATTR_READ_ONLY);
    EXPECT_EQ(p.basic.logical_bs_shift, 9);
    EXPECT_EQ(p.basic.physical_bs_shift, 12);
    EXPECT_EQ(p.basic.dev_sectors, (256ull << 20) / 512);
}

TEST(Params, MaxSectorsMatchBufferSize) {
    EXPECT_EQ(make_params(1 << 20, 512 * 1024).basic.max_sectors, 1024u);
    EXPECT_EQ(make_params(1 << 20, 128 * 1024).basic.max_sectors, 256u);
}

TEST(Params, PartialTrailingSectorIsRoundedUp) {
    EXPECT_EQ(make_params(1000, 4096).basic.dev_sectors, 2u);
    EXPECT_EQ(make_params(1024, 4096).basic.dev_sectors, 2u);
    EXPECT_EQ(make_params(1, 4096).basic.dev_sectors, 1u);
}

TEST(Params, DefaultQueueCountFollowsCpusButIsCapped) {
    EXPECT_EQ(default_queue_count(0), 1u);
    EXPECT_EQ(default_queue_count(1), 1u);
    EXPECT_EQ(default_queue_count(2), 2u);
    EXPECT_EQ(default_queue_count(64), 4u);
}

TEST(Params, ValidateRejectsOutOfRange) {
    DeviceConfig ok{2, 128, 512 * 1024};
    EXPECT_EQ(validate(ok), "");
    DeviceConfig c = ok;
    c.queues = 0;
    EXPECT_NE(validate(c), "");
    c = ok;
    c.queues = kMaxQueues + 1;
    EXPECT_NE(validate(c), "");
    c = ok;
    c.depth = 0;
    EXPECT_NE(validate(c), "");
    c = ok;
    c.depth = kMaxDepth + 1;
    EXPECT_NE(validate(c), "");
    c = ok;
    c.max_io_bytes = 4095;
    EXPECT_NE(validate(c), "");
    c = ok;
    c.max_io_bytes = kMaxIoBytes + 4096;
    EXPECT_NE(validate(c), "");
}

TEST(Params, DevInfoCarriesConfigAndAsksForAnyId) {
    ublksrv_ctrl_dev_info info = make_dev_info({3, 64, 256 * 1024}, UBLK_F_CMD_IOCTL_ENCODE);
    EXPECT_EQ(info.nr_hw_queues, 3);
    EXPECT_EQ(info.queue_depth, 64);
    EXPECT_EQ(info.max_io_buf_bytes, 256u * 1024);
    EXPECT_EQ(info.dev_id, static_cast<__u32>(-1));
    EXPECT_EQ(info.flags, UBLK_F_CMD_IOCTL_ENCODE);
}

TEST(Params, FlagsOnlyRequestWhatTheKernelHasAndWeImplement) {
    EXPECT_EQ(choose_flags(0), 0u);
    EXPECT_EQ(choose_flags(UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_USER_COPY), UBLK_F_CMD_IOCTL_ENCODE);
    EXPECT_EQ(choose_flags(UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_UNPRIVILEGED_DEV),
              UBLK_F_USER_RECOVERY | UBLK_F_USER_RECOVERY_REISSUE);
}

// Zero copy needs both AUTO_BUF_REG (reads into the request's pages) and
// USER_COPY (the rest written in), and the user's consent.
TEST(Params, ZeroCopyIsRequestedOnlyWhenWantedAndBothHalvesAreOffered) {
    const uint64_t k616 = UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_USER_COPY | UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_AUTO_BUF_REG;
    EXPECT_EQ(choose_flags(k616, true), UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_USER_COPY | UBLK_F_AUTO_BUF_REG);
    EXPECT_EQ(choose_flags(k616, false), UBLK_F_CMD_IOCTL_ENCODE);
    EXPECT_EQ(choose_flags(k616 & ~UBLK_F_USER_COPY, true), UBLK_F_CMD_IOCTL_ENCODE);
    // 6.15: SUPPORT_ZERO_COPY without AUTO_BUF_REG is not used.
    EXPECT_EQ(choose_flags(k616 & ~UBLK_F_AUTO_BUF_REG, true), UBLK_F_CMD_IOCTL_ENCODE);
}

TEST(Params, DescriptorArraysArePageAlignedPerQueue) {
    const size_t page = 4096;
    EXPECT_EQ(descriptor_offset(0, page), 0);
    // 4096 descriptors of 24 bytes, rounded to pages, per queue.
    EXPECT_EQ(descriptor_offset(1, page), 24 * 4096);
    EXPECT_EQ(descriptor_offset(2, page), 2 * 24 * 4096);
    EXPECT_EQ(descriptor_length(128, page), 4096u);
    EXPECT_EQ(descriptor_length(171, page), 8192u);
}

// GET_FEATURES as 6.12 answers it (zero copy masked out) and as 6.16+ does.
TEST(Features, ZeroCopyOfferFromTheKernelsBits) {
    const uint64_t k612 = UBLK_F_URING_CMD_COMP_IN_TASK | UBLK_F_NEED_GET_DATA | UBLK_F_USER_RECOVERY |
                          UBLK_F_USER_RECOVERY_REISSUE | UBLK_F_UNPRIVILEGED_DEV | UBLK_F_CMD_IOCTL_ENCODE |
                          UBLK_F_USER_COPY | UBLK_F_ZONED;
    EXPECT_TRUE(zero_copy_offered(k612).empty());
    EXPECT_EQ(zero_copy_offered(k612 | UBLK_F_SUPPORT_ZERO_COPY), std::vector<std::string>{"SUPPORT_ZERO_COPY"});
    EXPECT_EQ(zero_copy_offered(k612 | UBLK_F_SUPPORT_ZERO_COPY | UBLK_F_AUTO_BUF_REG),
              (std::vector<std::string>{"SUPPORT_ZERO_COPY", "AUTO_BUF_REG"}));
}

TEST(Features, NamesLowestBitFirstAndUnknownBitsByNumber) {
    EXPECT_TRUE(feature_names(0).empty());
    EXPECT_EQ(feature_names(UBLK_F_CMD_IOCTL_ENCODE | UBLK_F_SUPPORT_ZERO_COPY | (1ULL << 40)),
              (std::vector<std::string>{"SUPPORT_ZERO_COPY", "CMD_IOCTL_ENCODE", "bit40"}));
    EXPECT_EQ(feature_names(UBLK_F_AUTO_BUF_REG), std::vector<std::string>{"AUTO_BUF_REG"});
}
