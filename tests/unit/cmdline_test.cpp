#include <gtest/gtest.h>

#include <algorithm>

#include "initrd/boot_origin.h"
#include "initrd/cmdline.h"

using namespace lazyroot::initrd;

TEST(Cmdline, SplitsLikeTheKernel) {
    EXPECT_EQ(split_kernel_cmdline("a b  c\n"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(split_kernel_cmdline("x=\"1 2\" y"), (std::vector<std::string>{"x=1 2", "y"}));
    EXPECT_TRUE(split_kernel_cmdline("   ").empty());
}

TEST(Cmdline, NoParameterMeansNoRoot) { EXPECT_FALSE(parse_root_spec("console=ttyS0 root=/dev/sda1 quiet")); }

TEST(Cmdline, LazyFullHydrateVerityNvme) {
    auto a = parse_root_spec("quiet rd.lazyroot=https://img.example/root.raw root=/dev/ublkb0");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->source, "https://img.example/root.raw");
    EXPECT_TRUE(a->args.empty());

    auto b = parse_root_spec("rd.lazyroot=http://10.0.0.1/r.img,mode=full,cache=/dev/vda2,insecure");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->args, (std::vector<std::string>{"--mode=full", "--cache=/dev/vda2", "--insecure"}));

    auto ddi = parse_root_spec(
        "rd.lazyroot=http://10.0.0.1/r.raw,verity=ddi,trust=/etc/ca.pem,verity-sig-keyring,"
        "name=root");
    ASSERT_TRUE(ddi);
    EXPECT_EQ(ddi->args,
              (std::vector<std::string>{"--verity=ddi", "--trust=/etc/ca.pem", "--verity-sig-keyring", "--name=root"}));

    auto c = parse_root_spec(
        "rd.lazyroot=https://h/r.img,mode=hydrate,hydrate-rate=50M,mirror=https://m1/r.img,"
        "mirror=https://m2/r.img,verity=" +
        std::string(64, 'a') + ",name=root,io-timeout=10");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->args.size(), 7u);
    EXPECT_EQ(c->args[2], "--mirror=https://m1/r.img");
    EXPECT_EQ(c->args[3], "--mirror=https://m2/r.img");

    auto d =
        parse_root_spec("rd.lazyroot=nvme+tcp://10.0.0.2:4420/nqn.2014-08.org.example:root?nsid=1,cache=/dev/vda2");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->source, "nvme+tcp://10.0.0.2:4420/nqn.2014-08.org.example:root?nsid=1");

    auto e = parse_root_spec(
        "rd.lazyroot=nvme+tcp://10.0.0.2/nqn.2014-08.org.example:root?digest=header+data,"
        "hostnqn=nqn.2014-08.org.example:host1,nvme-transport=kernel");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->source, "nvme+tcp://10.0.0.2/nqn.2014-08.org.example:root?digest=header+data");
    EXPECT_EQ(e->args,
              (std::vector<std::string>{"--hostnqn=nqn.2014-08.org.example:host1", "--nvme-transport=kernel"}));
}

TEST(Cmdline, TheLastParameterWins) {
    auto s = parse_root_spec("rd.lazyroot=http://a/1,insecure rd.lazyroot=http://b/2,insecure");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->source, "http://b/2");
}

TEST(Cmdline, BootOrigin) {
    auto s = parse_root_spec("rd.lazyroot=images/root.raw,bootorigin,verity=manifest,trust=/etc/lazyroot/ca.pem");
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->bootorigin);
    EXPECT_EQ(s->source, "images/root.raw");
    EXPECT_THROW(parse_root_spec("rd.lazyroot=http://a/b,bootorigin"), CmdlineError);
    EXPECT_THROW(parse_root_spec("rd.lazyroot=root.raw"), CmdlineError);
}

TEST(Cmdline, MalformedOptionsAreOneLineErrors) {
    for (const char* bad :
         {"rd.lazyroot=", "rd.lazyroot=,mode=full", "rd.lazyroot=http://a/b,,insecure",
          "rd.lazyroot=http://a/b,bogus=1", "rd.lazyroot=http://a/b,frob", "rd.lazyroot=http://a/b,mode",
          "rd.lazyroot=http://a/b,mode=", "rd.lazyroot=http://a/b,insecure=yes"}) {
        try {
            parse_root_spec(bad);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const CmdlineError& e) {
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
            EXPECT_EQ(std::string(e.what()).rfind("rd.lazyroot=", 0), 0u) << e.what();
        }
    }
}

TEST(BootOrigin, DecodesTheStubVariable) {
    std::vector<uint8_t> v = {7, 0, 0, 0};
    for (char c : std::string("http://boot.example/uki/linux.efi")) {
        v.push_back(static_cast<uint8_t>(c));
        v.push_back(0);
    }
    v.push_back(0);
    v.push_back(0);
    EXPECT_EQ(decode_stub_device_url(v), "http://boot.example/uki/linux.efi");
    EXPECT_FALSE(decode_stub_device_url(std::vector<uint8_t>{7, 0, 0}));
    EXPECT_FALSE(decode_stub_device_url(std::vector<uint8_t>{7, 0, 0, 0, 0x41}));
    EXPECT_FALSE(decode_stub_device_url(std::vector<uint8_t>{7, 0, 0, 0, 0x00, 0xd8}));
}

TEST(BootOrigin, ReplacesTheLastPathComponent) {
    EXPECT_EQ(resolve_boot_origin("http://h/uki/linux.efi", "root.raw"), "http://h/uki/root.raw");
    EXPECT_EQ(resolve_boot_origin("https://h:8443/a/b/linux.efi?x=1", "img/root.raw"),
              "https://h:8443/a/b/img/root.raw");
    EXPECT_EQ(resolve_boot_origin("http://h/linux.efi", "/images/root.raw"), "http://h/images/root.raw");
    EXPECT_FALSE(resolve_boot_origin("http://h", "root.raw"));
    EXPECT_FALSE(resolve_boot_origin("not a url", "root.raw"));
    EXPECT_FALSE(resolve_boot_origin("http://h/x.efi", "http://other/root.raw"));
}

TEST(Cmdline, ResolveIsPassedOn) {
    auto c = parse_root_spec("rd.lazyroot=http://images.lan/r.img,insecure,resolve=images.lan:80:10.0.2.100");
    ASSERT_TRUE(c);
    EXPECT_NE(std::find(c->args.begin(), c->args.end(), "--resolve=images.lan:80:10.0.2.100"), c->args.end());
}

TEST(Cmdline, HttpVersionIsPassedOn) {
    auto c = parse_root_spec("rd.lazyroot=https://images.lan/r.img,http-version=1.1");
    ASSERT_TRUE(c);
    EXPECT_NE(std::find(c->args.begin(), c->args.end(), "--http-version=1.1"), c->args.end());
}

TEST(Cmdline, ProfileKeysArePassedOn) {
    auto c = parse_root_spec(
        "rd.lazyroot=https://images.lan/r.img,cache=/dev/vda,profile=auto,profile-record=/run/lazyroot/r.profile,"
        "profile-record-secs=60");
    ASSERT_TRUE(c);
    for (const char* want : {"--profile=auto", "--profile-record=/run/lazyroot/r.profile", "--profile-record-secs=60"})
        EXPECT_NE(std::find(c->args.begin(), c->args.end(), want), c->args.end()) << want;
}
