// NVMe/TCP values that come from the command line or from the controller:
// an NQN must not add options to the kernel's /dev/nvme-fabrics line, and
// Identify's sizes and shifts are bounded before they are used.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nvmetcp/host_identity.h"
#include "nvmetcp/nvme_source.h"
#include "nvmetcp/target_uri.h"

using namespace lazyroot::nvmetcp;

namespace {

std::string nqn_error(const std::string& nqn) {
    try {
        check_nqn(nqn, "--hostnqn");
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

std::string geometry_error(uint64_t nsze, unsigned lbads, uint64_t cap = 0, uint8_t mdts = 0) {
    try {
        namespace_geometry(1, nsze, lbads, cap, mdts);
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(NvmeHostile, AnNqnCannotCarryFabricsOptions) {
    EXPECT_EQ(nqn_error("nqn.2014-08.org.nvmexpress:uuid:0b6f7c2e-57c4-4e34-9a1a-2f5f0d1c9e77"), "");
    const std::vector<std::string> bads{"nqn.a,hostnqn=nqn.evil",
                                        "nqn.a\ntraddr=10.0.0.9",
                                        "nqn.a=b",
                                        "nqn.a\rb",
                                        std::string("nqn.a\0b", 7),
                                        "nqn.a\x7f"};
    for (const std::string& bad : bads) {
        const std::string why = nqn_error(bad);
        EXPECT_NE(why, "") << bad;
        EXPECT_EQ(why.find('\n'), std::string::npos) << why;
        EXPECT_EQ(why.find('\r'), std::string::npos) << why;
    }
}

TEST(NvmeHostile, ASourceNqnWithACommaIsABadSource) {
    for (const char* bad : {"nvme+tcp://10.0.0.2/nqn.a,hostnqn=nqn.evil", "nvme+tcp://10.0.0.2/nqn.a\nnr_io_queues=99",
                            "nvme+tcp://10.0.0.2/nqn.a=b"}) {
        try {
            parse_target_uri(bad);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const std::invalid_argument& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("NQN"), std::string::npos) << e.what();
        }
    }
}

TEST(NvmeHostile, IdentifySizesAreBounded) {
    // What a good controller says: 2^20 blocks of 4 KiB, MDTS 5 pages of 4 KiB.
    const NamespaceInfo ns = namespace_geometry(1, 1u << 20, 12, 0, 5);
    EXPECT_EQ(ns.lba_bytes, 4096u);
    EXPECT_EQ(ns.size_bytes, uint64_t{1} << 32);
    EXPECT_EQ(ns.max_transfer, 128u * 1024);
    // LBADS outside 9..16 is refused: a shift by 64 or more is undefined.
    for (unsigned lbads : {0u, 8u, 17u, 63u, 64u, 255u}) EXPECT_NE(geometry_error(8, lbads), "") << lbads;
    // nsze << lbads past 2^63 wrapped to a small size; now it is an error.
    EXPECT_NE(geometry_error(uint64_t{1} << 48, 16), "");
    EXPECT_NE(geometry_error(UINT64_MAX, 9), "");
    EXPECT_NE(geometry_error(0, 9), "");
    EXPECT_EQ(geometry_error(uint64_t{INT64_MAX} >> 16, 16), "");
    EXPECT_EQ(namespace_geometry(1, uint64_t{INT64_MAX} >> 9, 9, 0, 0).size_bytes, (uint64_t{INT64_MAX} >> 9) << 9);
}

TEST(NvmeHostile, AnyMdtsIsSafeToUse) {
    // MDTS is a byte: every value gives a transfer size of at least one block
    // and at most 1 MiB, including those past the width of the shift.
    for (unsigned mdts = 0; mdts <= 255; ++mdts)
        for (uint64_t mpsmin : {0ull, 4ull, 15ull}) {
            const NamespaceInfo ns = namespace_geometry(1, 1000, 9, mpsmin << 48, static_cast<uint8_t>(mdts));
            EXPECT_GE(ns.max_transfer, 512u) << mdts;
            EXPECT_LE(ns.max_transfer, 1u << 20) << mdts;
        }
    EXPECT_EQ(namespace_geometry(1, 1000, 9, 0, 1).max_transfer, 8192u);
    EXPECT_EQ(namespace_geometry(1, 1000, 9, 0, 64).max_transfer, 1u << 20);
    EXPECT_EQ(namespace_geometry(1, 1000, 16, 0, 1).max_transfer, 65536u);  // never below one block
}
