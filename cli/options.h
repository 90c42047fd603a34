#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "http/http_options.h"
#include "io/timeout.h"
#include "verity/prepare.h"

namespace lazyroot::cli {

// --mode: when the image is fetched.
enum class Mode {
    Lazy,     // on demand
    Full,     // all of it before the device appears
    Hydrate,  // on demand, plus a background fill of the cache
};
// --verity: where the root hash comes from.
enum class VerityKind {
    None,      // no dm-verity
    RootHash,  // given on the command line (AttachOptions::root_hash)
    Manifest,  // the signed SOURCE.manifest.json
    Ddi,       // a GPT image's root-verity and root-verity-sig partitions
};
// --nvme-transport: whose NVMe/TCP initiator serves an nvme+tcp:// SOURCE.
enum class NvmeTransport {
    User,    // lazyroot's own, on the queue loops
    Kernel,  // the kernel's nvme-tcp, connected through libnvme
};
// The words the command line uses for them ("lazy", "manifest", "kernel"…).
const char* to_string(Mode m);
const char* to_string(VerityKind v);

struct AttachOptions {
    std::string source;
    unsigned queues = 0;  // 0: one per CPU, capped
    unsigned depth = 128;
    std::string name = "lazyroot";
    bool daemon = false;
    Mode mode = Mode::Lazy;
    std::string cache;  // file or block device; empty: none
    unsigned chunk_kib = 64;
    uint64_t hydrate_rate = 0;  // bytes/s, 0: unlimited
    // dm-verity on top of the device.
    VerityKind verity = VerityKind::None;
    std::string root_hash;  // VerityKind::RootHash: hex, as given
    std::optional<uint64_t> hash_offset;
    std::string hash_source;          // the tree in a separate SOURCE; empty: in SOURCE
    std::string trust_file;           // CA/cert that must have signed the root hash (manifest, ddi)
    bool verity_sig_keyring = false;  // also hand the signature to the kernel's keyring check
    // Network sources.
    std::vector<std::string> mirrors;
    // "HOST:PORT:ADDR[,ADDR…]": addresses to use instead of the resolver,
    // recorded in the initrd so a restarted root daemon needs no /etc.
    std::vector<std::string> resolve;
    unsigned connections = 8;
    unsigned max_connections = 64;  // grown to under load, HTTP/1.1; ≤ connections: fixed
    http::HttpVersion http_version = http::HttpVersion::Negotiate;
    unsigned readahead_mib = 16;     // 0: off
    std::string zero_copy = "auto";  // or "off"
    // Buffers of all queues together: half for ublk IO buffers, half for
    // readahead slices (cli/attach.cpp, cli/source_stack.cpp).
    unsigned memory_budget_mib = 24;
    unsigned coalesce_kib = 1024;
    io::IoTimeout io_timeout = std::chrono::seconds(30);  // nullopt: infinity
    bool insecure = false;
    std::string ca_file;
    std::string cert_file;
    std::string key_file;
    // Extra HTTP request headers (a bearer token): the path is all that is
    // kept or recorded; the file is read when the source is opened.
    std::string header_file;
    // s3://BUCKET/KEY: the endpoint (path style; empty: AWS's for the
    // region), the region signed for, and an AWS shared-credentials file
    // (empty: the AWS_* environment). Only the path is kept or recorded.
    std::string s3_endpoint;
    std::string s3_region = "us-east-1";
    std::string s3_credentials;
    std::string hostnqn;  // nvme+tcp: empty means /etc/nvme/hostnqn or generated
    NvmeTransport nvme_transport = NvmeTransport::User;
    // Take over /dev/ublkbN whose daemon died, from its state file, instead
    // of attaching SOURCE (`attach --recover DEV` or `recover DEV`).
    std::optional<unsigned> recover_dev;
    // The words after argv[0] that asked for this attach: recorded in the
    // state file, so that a successor rebuilds exactly the same stack.
    std::vector<std::string> words;
    bool from_kernel_cmdline = false;  // attach-cmdline
    // The options the command line gave ("--connections", …), defaults or
    // not: one that does nothing for the SOURCE is refused, not ignored.
    std::vector<std::string> given_options;
    bool given(std::string_view option) const {
        for (const auto& g : given_options)
            if (g == option) return true;
        return false;
    }
    // Prefetch profiles (cli/profile_use.h): replay one at attach (a file, a
    // URL, or "auto": SOURCE's name + ".profile"), and record this attach's.
    std::string profile;
    std::string profile_record;
    unsigned profile_record_secs = 120;
    std::string adopt_ram_dir;  // a dead daemon's RAM cache, taken over with its device
    // --handoff[=yes|no]: once the cache holds the whole image, move the
    // mapping onto it and leave (cli/handoff.h); nullopt: the mode's default.
    std::optional<bool> handoff;
};

struct DetachOptions {
    std::string device;  // /dev/ublkbN, /dev/ublkcN or N
    unsigned timeout_s = 30;
    bool force = false;  // also when mounted or held open
};

struct ListOptions {
    bool json = false;
};

struct StatusOptions {
    bool json = false;
};

// lazyroot update-source DEV URL: a fresh URL for the same image (an
// expired presigned URL's successor), handed to the running daemon.
struct UpdateSourceOptions {
    std::string device;  // /dev/ublkbN, N, or the /dev/mapper/NAME on top
    std::string url;
    unsigned timeout_s = 60;  // for the daemon's answer (it probes the URL)
};

struct ProfileStopOptions {
    std::string device;  // empty: the device rd.lazyroot= made
    unsigned timeout_s = 30;
};

// lazyroot prepare IMAGE: defined next to run_prepare, which cli doesn't own.
using PrepareOptions = verity::PrepareOptions;

struct HelpRequest {
    std::string text;
};

using Command = std::variant<AttachOptions, DetachOptions, ListOptions, StatusOptions, UpdateSourceOptions,
                             ProfileStopOptions, PrepareOptions, HelpRequest>;

// A command line that can't be used; what() is one line for stderr.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Parses argv (argv[0] included). Throws UsageError.
Command parse_command_line(int argc, const char* const* argv);

// "10M", "512k", "1G" or plain bytes (powers of 1024). nullopt if malformed.
std::optional<uint64_t> parse_byte_size(const std::string& text);

// --io-timeout: seconds (0.1 to 3600), or "infinity"/"inf". Throws UsageError.
io::IoTimeout parse_io_timeout(const std::string& text);

// "/dev/ublkb3", "/dev/ublkc3", "ublkb3" or "3" -> 3. Throws UsageError.
unsigned parse_device_ref(const std::string& ref);

}  // namespace lazyroot::cli
