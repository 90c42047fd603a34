#include "cli/options.h"

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

#include "cli/profile_stop.h"
#include "cli/source_uri.h"
#include "cli/version.h"
#include "verity/encoding.h"

namespace lazyroot::cli {

namespace {

void check_verity_options(const AttachOptions& o, const std::string& verity_word) {
    const bool signed_hash = o.verity == VerityKind::Manifest || o.verity == VerityKind::Ddi;
    if (signed_hash && o.trust_file.empty()) throw UsageError("--verity=" + verity_word + " needs --trust=CERT.pem");
    if (!o.trust_file.empty() && !signed_hash) throw UsageError("--trust needs --verity=manifest or --verity=ddi");
    if (o.verity_sig_keyring && !signed_hash)
        throw UsageError("--verity-sig-keyring needs a signed root hash: --verity=manifest or --verity=ddi");
    if (o.verity == VerityKind::None && (!o.hash_source.empty() || o.hash_offset))
        throw UsageError(std::string(o.hash_source.empty() ? "--hash-offset" : "--hash-source") + " needs --verity");
    if (o.verity == VerityKind::Ddi && (!o.hash_source.empty() || o.hash_offset))
        throw UsageError(
            "--verity=ddi takes the tree from the image's root-verity partition: no --hash-source/--hash-offset");
    if (!o.hash_source.empty() && o.hash_offset)
        throw UsageError("--hash-offset is for a tree inside SOURCE; a --hash-source tree starts with its superblock");
}

// --verity=WORD: "manifest", "ddi" or a sha256 root hash.
VerityKind parse_verity(const std::string& word, std::string& root_hash) {
    if (word.empty()) return VerityKind::None;
    if (word == "manifest") return VerityKind::Manifest;
    if (word == "ddi") return VerityKind::Ddi;
    if (word.size() != 64 || word.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
        throw UsageError("--verity: not a sha256 root hash (64 hex digits), 'manifest' or 'ddi': " + word);
    root_hash = word;
    return VerityKind::RootHash;
}

// A whole number for an option, with a reason that says what is wrong.
CLI::Validator whole_number() {
    return CLI::Validator(
        [](const std::string& v) {
            unsigned long long n = 0;
            auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return "not a whole number: " + v;
            return std::string();
        },
        "NUMBER");
}

}  // namespace

Command parse_command_line(int argc, const char* const* argv) {
    CLI::App app{"lazyroot: boot Linux from a network disk image, fetched on demand", "lazyroot"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every subcommand");
    app.set_version_flag("--version", std::string("lazyroot ") + version(), "Print the version and exit");

    AttachOptions attach;
    auto* a = app.add_subcommand("attach", "Create a block device serving SOURCE; prints its path");
    a->add_option("SOURCE", attach.source,
                  "file:///path, http(s)://… or nvme+tcp://HOST[:PORT]/SUBSYSNQN[?nsid=N&digest=header,data]");
    std::string attach_recover;
    a->add_option("--recover", attach_recover,
                  "Take over DEV (/dev/ublkbN) whose daemon died, rebuilding its source from /run/lazyroot; no SOURCE");
    a->add_option("--queues", attach.queues, "Queue threads (default: one per CPU, at most 4)")
        ->check(whole_number())
        ->check(CLI::Range(1u, 16u));
    a->add_option("--depth", attach.depth, "Requests in flight per queue")
        ->check(whole_number())
        ->check(CLI::Range(1u, 4096u))
        ->capture_default_str();
    a->add_option("--zero-copy", attach.zero_copy,
                  "auto: cache hits and file reads go straight into the kernel's request pages when the kernel "
                  "offers it (ublk AUTO_BUF_REG, 6.16+); off: always through the daemon's buffers")
        ->check(CLI::IsMember({"auto", "off"}))
        ->capture_default_str();
    a->add_option("--name", attach.name, "Name of the device (used for the dm mapping)")
        ->capture_default_str()
        ->check([](const std::string& v) {
            if (v.empty() || v.size() > 64 || v.find('/') != std::string::npos)
                return std::string("must be 1-64 characters without '/'");
            return std::string();
        });
    a->add_flag("--daemon", attach.daemon, "Return once the device is ready; serve in the background");
    // The words, turned into enums once parsing is over.
    std::string mode_word = "lazy";
    a->add_option("--mode", mode_word,
                  "lazy: fetch on demand; full: download everything first; hydrate: lazy, plus a background fill")
        ->check(CLI::IsMember({"lazy", "full", "hydrate"}))
        ->capture_default_str();
    a->add_option("--cache", attach.cache,
                  "Persistent cache: a file (created sparse) or a block device; default none (RAM for full/hydrate)");
    a->add_option("--chunk-size", attach.chunk_kib, "Cache chunk size in KiB (power of two)")
        ->check(whole_number())
        ->check(CLI::Range(4u, 16384u))
        ->check([](const std::string& v) {
            unsigned n = static_cast<unsigned>(std::stoul(v));
            return (n & (n - 1)) == 0 ? std::string() : std::string("must be a power of two");
        })
        ->capture_default_str();
    std::string verity_word;
    a->add_option("--verity", verity_word,
                  "Stack dm-verity: the root hash (hex), 'manifest' to take it from the signed SOURCE.manifest.json, "
                  "or 'ddi' for a GPT image with root, root-verity and root-verity-sig partitions");
    a->add_option("--hash-offset", attach.hash_offset,
                  "Byte offset of the verity superblock in SOURCE (default: from SOURCE.manifest.json)")
        ->check(whole_number());
    a->add_option("--hash-source", attach.hash_source,
                  "The hash tree in a separate SOURCE (file:///path or http(s)://), superblock first");
    a->add_option("--trust", attach.trust_file,
                  "Certificate that must have signed the root hash (with --verity=manifest or ddi)")
        ->check(CLI::ExistingFile);
    a->add_flag("--verity-sig-keyring", attach.verity_sig_keyring,
                "Also have the kernel check the root-hash signature against its trusted keyrings");
    std::string handoff;
    a->add_flag("--handoff{yes}", handoff,
                "yes|no: once the cache holds the whole image, hand the root to the kernel (a loop device or the "
                "cache partition under the dm table) and exit (default: yes for full/hydrate with --verity)");
    std::string hydrate_rate;
    a->add_option("--hydrate-rate", hydrate_rate, "Cap on the background fill, bytes/s (K/M/G suffixes)");
    a->add_option("--mirror", attach.mirrors, "Another URL of the same image, for failover (repeatable)")
        ->take_all()
        ->allow_extra_args(false);
    a->add_option("--resolve", attach.resolve,
                  "HOST:PORT:ADDR[,ADDR...] to use instead of asking the resolver (repeatable; as curl --resolve)")
        ->take_all()
        ->allow_extra_args(false)
        ->check([](const std::string& v) {
            const auto first = v.find(':');
            const auto second = first == std::string::npos ? first : v.find(':', first + 1);
            if (first == 0 || second == std::string::npos || second == first + 1 || second + 1 >= v.size())
                return std::string("must be HOST:PORT:ADDR[,ADDR...]");
            return std::string();
        });
    a->add_option("--connections", attach.connections, "HTTP connections in total, over all queues, to start with")
        ->check(whole_number())
        ->check(CLI::Range(1u, 256u))
        ->capture_default_str();
    a->add_option("--max-connections", attach.max_connections,
                  "HTTP/1.1 connections in total the queues may grow to while reads wait for a busy one and a new "
                  "connection costs less than the wait (at most --connections: a fixed count)")
        ->check(whole_number())
        ->check(CLI::Range(1u, 1024u))
        ->capture_default_str();
    a->add_option("--profile", attach.profile,
                  "Prefetch profile to replay: FILE, an http(s) URL, or auto (SOURCE's name + .profile); its chunks "
                  "are fetched in first-read order behind demand reads (needs --cache or --mode=hydrate); or record: "
                  "the same as --profile-record=/run/lazyroot/NAME.profile (NAME: SOURCE's file name)");
    a->add_option("--profile-record", attach.profile_record,
                  "Record the chunks this device reads first, in order, and write them to FILE as a profile");
    a->add_option("--profile-record-secs", attach.profile_record_secs,
                  "Seconds of recording (from attach; in the initrd, from switch_root), then FILE is written")
        ->check(whole_number())
        ->check(CLI::Range(1u, 86400u))
        ->capture_default_str();
    std::string http_version_word = "2";
    a->add_option("--http-version", http_version_word,
                  "2: HTTP/2 over TLS when the server offers it (ALPN), else HTTP/1.1; 1.1: HTTP/1.1 only")
        ->check(CLI::IsMember({"2", "1.1"}))
        ->capture_default_str();
    a->add_option("--readahead", attach.readahead_mib, "MiB fetched ahead of a sequential reader, per queue (0: off)")
        ->check(whole_number())
        ->check(CLI::Range(0u, 1024u))
        ->capture_default_str();
    a->add_option("--memory-budget", attach.memory_budget_mib,
                  "MiB of IO and readahead buffers, over all queues (half each)")
        ->check(whole_number())
        ->check(CLI::Range(2u, 65536u))
        ->capture_default_str();
    a->add_option("--coalesce", attach.coalesce_kib, "KiB up to which adjacent reads are merged into one request")
        ->check(whole_number())
        ->check(CLI::Range(4u, 65536u))
        ->capture_default_str();
    std::string io_timeout;
    auto* io_timeout_opt = a->add_option("--io-timeout", io_timeout,
                                         "Seconds one block read may take, retries included, before it fails with EIO; "
                                         "'infinity' waits out any outage (default 30)");
    a->add_flag("--insecure", attach.insecure, "Allow plain http:// without verity");
    a->add_option("--ca", attach.ca_file, "CA bundle to verify HTTPS servers with (default: system store)")
        ->check(CLI::ExistingFile);
    a->add_option("--cert", attach.cert_file, "Client certificate for HTTPS (PEM)")->check(CLI::ExistingFile);
    a->add_option("--key", attach.key_file, "Private key of --cert (PEM)")->check(CLI::ExistingFile);
    a->add_option("--header-file", attach.header_file,
                  "Extra HTTP request headers, one 'Name: value' a line (e.g. Authorization: Bearer …); sent with "
                  "every request, never logged or recorded")
        ->check(CLI::ExistingFile);
    a->add_option("--s3-endpoint", attach.s3_endpoint,
                  "s3:// SOURCE: the object store, http(s)://HOST[:PORT], addressed path style (ENDPOINT/BUCKET/KEY; "
                  "default https://s3.REGION.amazonaws.com)");
    a->add_option("--s3-region", attach.s3_region, "s3:// SOURCE: the region requests are signed for")
        ->capture_default_str();
    a->add_option("--s3-credentials", attach.s3_credentials,
                  "s3:// SOURCE: an AWS shared-credentials file ([default] aws_access_key_id, aws_secret_access_key, "
                  "aws_session_token); default: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN")
        ->check(CLI::ExistingFile);
    a->add_option("--hostnqn", attach.hostnqn,
                  "NVMe/TCP host NQN (default: /etc/nvme/hostnqn, else one made from the host ID)");
    std::string transport_word = "user";
    a->add_option("--nvme-transport", transport_word,
                  "nvme+tcp: user (lazyroot's own initiator) or kernel (the kernel's nvme-tcp module, connected "
                  "through /dev/nvme-fabrics; libnvme is not needed at run time)")
        ->check(CLI::IsMember({"user", "kernel"}))
        ->capture_default_str();

    DetachOptions detach;
    auto* d = app.add_subcommand("detach", "Stop a device and remove it");
    d->add_option("DEV", detach.device, "/dev/ublkbN, N, or the /dev/mapper/NAME it printed")->required();
    d->add_option("--timeout", detach.timeout_s, "Seconds to wait for the daemon to finish")
        ->check(whole_number())
        ->check(CLI::Range(1u, 3600u))
        ->capture_default_str();

    d->add_flag("--force", detach.force, "Tear the device down even when it is mounted or held open");

    AttachOptions recover;
    std::string recover_dev;
    auto* rc = app.add_subcommand("recover", "Take over a device whose daemon died (same as attach --recover DEV)");
    rc->add_option("DEV", recover_dev, "/dev/ublkbN or N")->required();
    rc->add_flag("--daemon", recover.daemon, "Return once the device is served again");

    ListOptions list;
    auto* l = app.add_subcommand("list", "List lazyroot devices");
    l->add_flag("--json", list.json, "Machine-readable output");

    StatusOptions status;
    auto* st = app.add_subcommand("status", "Per device: mode, bytes served and fetched, cache, hydration, latency");
    st->add_flag("--json", status.json, "Machine-readable output");

    UpdateSourceOptions update;
    auto* us = app.add_subcommand("update-source",
                                  "Hand a running device a fresh URL of the same image (an expired presigned URL's "
                                  "successor); refused unless size and validators match");
    us->add_option("DEV", update.device, "/dev/ublkbN, N, or the /dev/mapper/NAME on top")->required();
    us->add_option("URL", update.url, "http(s):// URL of the same object")->required();
    us->add_option("--timeout", update.timeout_s, "Seconds to wait for the daemon's answer")
        ->check(whole_number())
        ->check(CLI::Range(1u, 3600u))
        ->capture_default_str();

    ProfileStopOptions profile_stop;
    auto* prof = app.add_subcommand("profile", "Prefetch profiles of running devices");
    prof->require_subcommand(1);
    auto* ps = prof->add_subcommand(
        "stop", "End DEV's --profile-record window now and write its profile (the boot's multi-user.target runs this)");
    ps->add_option("DEV", profile_stop.device,
                   "/dev/ublkbN, N, or the /dev/mapper/NAME on top; default: the device rd.lazyroot= made");
    ps->add_option("--timeout", profile_stop.timeout_s, "Seconds to wait for the daemon's answer")
        ->check(whole_number())
        ->check(CLI::Range(1u, 3600u))
        ->capture_default_str();

    PrepareOptions prepare;
    auto* pr = app.add_subcommand(
        "prepare", "Hash IMAGE for dm-verity: append the tree, write IMAGE.manifest.json, print the root hash");
    pr->add_option("IMAGE", prepare.image, "Image file; its size must be a multiple of 4096")
        ->required()
        ->check(CLI::ExistingFile);
    pr->add_option("--salt", prepare.salt_hex,
                   "Salt: hex (at most 256 bytes), none (or -), or keep (the salt of the manifest being replaced); "
                   "default: 32 new random bytes, so a rerun changes the root hash")
        ->check([](const std::string& v) {
            auto salt = verity::from_hex(v);
            if (v == "-" || v == "none" || v == "keep" || (salt && salt->size() <= 256)) return std::string();
            return std::string("must be hex (at most 256 bytes), none, - or keep");
        });
    auto* sign_key = pr->add_option("--sign-key", prepare.sign_key, "PEM private key to sign the root hash with")
                         ->check(CLI::ExistingFile);
    auto* sign_cert =
        pr->add_option("--sign-cert", prepare.sign_cert, "PEM certificate of --sign-key")->check(CLI::ExistingFile);
    sign_key->needs(sign_cert);
    sign_cert->needs(sign_key);
    pr->add_option("--hash-out", prepare.hash_out, "Write the superblock and tree to this file instead of appending");
    pr->add_option("--profile", prepare.profile,
                   "Embed this prefetch profile of the prepared image in the manifest (signed too with --sign-key); "
                   "its identity must be verity:ROOTHASH, so rerun with --salt=keep");
    pr->add_flag("--compress{3}", prepare.compress_level,
                 "Also write IMAGE.zst, the zstd seekable format (LEVEL 1-19, default 3), and its manifest")
        ->check(CLI::Range(1, 19));
    pr->add_option("--frame-size", prepare.frame_kib,
                   "With --compress: KiB of image per frame, the cache chunk to match (default 64)")
        ->check([](const std::string& v) {
            try {
                const unsigned long k = std::stoul(v);
                if (k >= 4 && k % 4 == 0 && k <= 16384) return std::string();
            } catch (...) {}
            return std::string("must be a multiple of 4 from 4 to 16384");
        });

    // main() runs these two before parsing (they take no options); they are
    // here so that the help lists every subcommand.
    auto* cl =
        app.add_subcommand("cmdline", "Print the attach command rd.lazyroot= on the kernel command line stands for");
    auto* acl = app.add_subcommand(
        "attach-cmdline",
        "Attach what rd.lazyroot= asks for (what the boot unit runs; recovers its device after a restart)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
        for (auto* sub : {a, d, rc, l, st, us, ps, prof, pr, cl, acl})
            if (sub->parsed()) return HelpRequest{sub->help()};
        return HelpRequest{app.help()};
    } catch (const CLI::CallForAllHelp&) {
        return HelpRequest{app.help("", CLI::AppFormatMode::All)};
    } catch (const CLI::CallForVersion& e) {
        return HelpRequest{std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        // CLI11 sometimes spreads one reason over several lines.
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        throw UsageError(msg + " (see lazyroot --help)");
    }

    if (rc->parsed()) {
        recover.recover_dev = parse_device_ref(recover_dev);
        return recover;
    }
    if (a->parsed()) {
        if (!attach_recover.empty()) {
            // Everything else comes from the dead daemon's state file.
            if (!attach.source.empty())
                throw UsageError(
                    "attach --recover takes no SOURCE: the source is the one the device was attached with");
            AttachOptions r;
            r.daemon = attach.daemon;
            r.recover_dev = parse_device_ref(attach_recover);
            return r;
        }
        if (attach.source.empty()) throw UsageError("attach: SOURCE is required (see lazyroot attach --help)");
        for (const CLI::Option* opt : a->get_options())
            if (opt->count() > 0 && !opt->get_lnames().empty())
                attach.given_options.push_back("--" + opt->get_lnames()[0]);
        // A malformed SOURCE is refused before any option is weighed against it.
        const SourceUri uri = parse_source_uri(attach.source);
        if (!attach.key_file.empty() && attach.cert_file.empty()) throw UsageError("--key needs --cert");
        attach.mode = mode_word == "full" ? Mode::Full : mode_word == "hydrate" ? Mode::Hydrate : Mode::Lazy;
        attach.nvme_transport = transport_word == "kernel" ? NvmeTransport::Kernel : NvmeTransport::User;
        attach.http_version = http_version_word == "1.1" ? http::HttpVersion::Http11 : http::HttpVersion::Negotiate;
        attach.verity = parse_verity(verity_word, attach.root_hash);
        check_verity_options(attach, verity_word);
        if (io_timeout_opt->count() > 0) attach.io_timeout = parse_io_timeout(io_timeout);
        if (!handoff.empty()) {
            if (handoff == "yes" || handoff == "true" || handoff == "1" || handoff == "on")
                attach.handoff = true;
            else if (handoff == "no" || handoff == "false" || handoff == "0" || handoff == "off")
                attach.handoff = false;
            else
                throw UsageError("--handoff: yes or no, not " + handoff);
            if (*attach.handoff && attach.mode == Mode::Lazy && attach.cache.empty())
                throw UsageError("--handoff needs a cache to hand off to (--mode=full or hydrate, or --cache)");
        }
        if (!hydrate_rate.empty()) {
            auto r = parse_byte_size(hydrate_rate);
            if (!r || *r == 0) throw UsageError("--hydrate-rate: not a rate in bytes/s: " + hydrate_rate);
            if (attach.mode != Mode::Hydrate) throw UsageError("--hydrate-rate needs --mode=hydrate");
            attach.hydrate_rate = *r;
        }
        if (attach.profile == "record") {
            if (!attach.profile_record.empty())
                throw UsageError("--profile=record and --profile-record name one recording twice");
            attach.profile_record = default_profile_record_path(attach.source);
            attach.profile.clear();
        }
        check_source_options(uri, attach);
        if (!attach.hash_source.empty() && parse_source_uri(attach.hash_source).kind == SourceUri::Kind::NvmeTcp)
            throw UsageError("--hash-source must be file:///path or http(s)://: " + attach.hash_source);
        return attach;
    }
    if (d->parsed()) {
        if (detach.device.rfind("/dev/mapper/", 0) != 0) parse_device_ref(detach.device);
        return detach;
    }
    if (st->parsed()) return status;
    if (ps->parsed()) return profile_stop;
    if (us->parsed()) {
        if (update.device.rfind("/dev/mapper/", 0) != 0) parse_device_ref(update.device);
        return update;
    }
    if (pr->parsed()) return prepare;
    if (cl->parsed() || acl->parsed())
        throw UsageError(std::string(cl->parsed() ? "cmdline" : "attach-cmdline") +
                         " takes no arguments: it reads /proc/cmdline");
    return list;
}

const char* to_string(Mode m) {
    switch (m) {
        case Mode::Lazy:
            return "lazy";
        case Mode::Full:
            return "full";
        case Mode::Hydrate:
            return "hydrate";
    }
    return "?";
}

const char* to_string(VerityKind v) {
    switch (v) {
        case VerityKind::None:
            return "none";
        case VerityKind::RootHash:
            return "root hash";
        case VerityKind::Manifest:
            return "manifest";
        case VerityKind::Ddi:
            return "ddi";
    }
    return "?";
}

std::optional<uint64_t> parse_byte_size(const std::string& text) {
    if (text.empty()) return std::nullopt;
    uint64_t mult = 1;
    std::string digits = text;
    switch (digits.back()) {
        case 'k':
        case 'K':
            mult = 1ull << 10;
            break;
        case 'm':
        case 'M':
            mult = 1ull << 20;
            break;
        case 'g':
        case 'G':
            mult = 1ull << 30;
            break;
        default:
            break;
    }
    if (mult != 1) digits.pop_back();
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    if (n > UINT64_MAX / mult) return std::nullopt;
    return n * mult;
}

io::IoTimeout parse_io_timeout(const std::string& text) {
    std::string lower;
    for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower == "infinity" || lower == "inf") return std::nullopt;
    double s = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
    // from_chars takes "nan" and "inf" too: only plain numbers of seconds here.
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(s))
        throw UsageError("--io-timeout: not a number of seconds (or infinity): " + text);
    if (s < 0.1 || s > 3600)
        throw UsageError("--io-timeout: " + text + " is out of range (0.1 to 3600 seconds, or infinity)");
    return std::chrono::milliseconds(static_cast<long long>(s * 1000 + 0.5));
}

unsigned parse_device_ref(const std::string& ref) {
    std::string_view s = ref;
    for (std::string_view prefix : {"/dev/ublkb", "/dev/ublkc", "ublkb", "ublkc"}) {
        if (s.substr(0, prefix.size()) == prefix) {
            s.remove_prefix(prefix.size());
            break;
        }
    }
    unsigned id = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size())
        throw UsageError("not a ublk device: " + ref + " (expected /dev/ublkbN)");
    return id;
}

}  // namespace lazyroot::cli
