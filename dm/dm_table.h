#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

// Device-mapper tables through libdevmapper (no dmsetup subprocess): what the
// hand-off needs to move a mapping from one lower device to another while it
// is mounted, and the dm-linear device that gives an unverified root a table.
// Every call returns 0 or -errno; the last libdevmapper error is kept for the
// caller's one-line message (last_error()).
namespace lazyroot::dm {

struct Target {
    uint64_t start = 0;   // sectors
    uint64_t length = 0;  // sectors
    std::string type;     // "verity", "linear", …
    std::string params;   // as the kernel prints them: lower devices as MAJOR:MINOR
};

struct Info {
    bool suspended = false;
    bool live_table = false;
    bool inactive_table = false;
    int open_count = 0;
    unsigned major = 0, minor = 0;
};

// nullopt when /dev/mapper/NAME does not exist (or dm is not there).
std::optional<Info> info(const std::string& name);
// The live table.
int table(const std::string& name, std::vector<Target>& out);
// Suspend without freezing the filesystem: these devices are read-only, and a
// frozen filesystem would outlive a daemon killed before its resume.
int suspend(const std::string& name);
// Makes the inactive table live (if any) and lets IO through again.
int resume(const std::string& name);
// Loads `targets` as the inactive table, read-only.
int reload(const std::string& name, const std::vector<Target>& targets);
// A read-only device with this table, live at once. Returns "/dev/mapper/NAME".
int create(const std::string& name, const std::vector<Target>& targets);
int remove(const std::string& name);
std::string last_error();

// "MAJ:MIN" of a block device number, as tables name lower devices.
std::string dev_text(dev_t dev);
// Replaces every whole-word `from` in the targets' params by `to`; returns
// how many it replaced.
size_t replace_device(std::vector<Target>& targets, const std::string& from, const std::string& to);

}  // namespace lazyroot::dm
