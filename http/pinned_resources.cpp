#include "http/pinned_resources.h"

#include <netdb.h>
#include <sys/socket.h>

#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

namespace lazyroot::http {
namespace {

struct Pinned {
    std::mutex mu;
    std::map<std::string, std::unique_ptr<std::string>> files;  // path → contents (stable addresses)
    std::set<std::string> resolved;                             // "host:port" already pinned
    std::vector<curl_slist*> lists;                             // every RESOLVE list handed out stays alive
    curl_slist* resolve = nullptr;                              // the newest, with every entry
};

Pinned& pinned() {
    static Pinned p;
    return p;
}

std::string default_ca_bundle() {
    const curl_version_info_data* v = curl_version_info(CURLVERSION_NOW);
    return v && v->cainfo ? v->cainfo : "/etc/ssl/certs/ca-certificates.crt";
}

// Caller holds the lock.
const std::string* load_file(Pinned& p, const std::string& path) {
    if (path.empty()) return nullptr;
    auto it = p.files.find(path);
    if (it == p.files.end()) {
        std::ifstream in(path, std::ios::binary);
        if (!in) return nullptr;  // libcurl reports the missing file as usual
        auto data = std::make_unique<std::string>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        it = p.files.emplace(path, std::move(data)).first;
    }
    return it->second.get();
}

const std::string* load_file_if_pinned(Pinned& p, const std::string& path) {
    auto it = p.files.find(path);
    return it == p.files.end() ? nullptr : it->second.get();
}

// Adds "HOST:PORT:ADDRS" unless HOST:PORT is pinned already. A new list with
// every entry; older ones stay valid for the handles that use them.
void add_resolve_entry(Pinned& p, const std::string& entry) {
    const auto second = entry.find(':', entry.find(':') + 1);
    if (second == std::string::npos) return;
    const std::string key = entry.substr(0, second);
    if (p.resolved.count(key)) return;
    p.resolved.insert(key);
    curl_slist* list = nullptr;
    for (curl_slist* e = p.resolve; e; e = e->next) list = curl_slist_append(list, e->data);
    list = curl_slist_append(list, entry.c_str());
    p.lists.push_back(list);
    p.resolve = list;
}

void pin_host(Pinned& p, const std::string& url) {
    if (auto entry = resolve_url_host(url)) add_resolve_entry(p, *entry);
}

void set_blob(CURL* e, CURLoption opt, const std::string* data) {
    if (!data) return;
    curl_blob blob{const_cast<char*>(data->data()), data->size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(e, opt, &blob);
}

}  // namespace

std::optional<std::string> resolve_url_host(const std::string& url) {
    std::optional<std::string> out;
    CURLU* u = curl_url();
    if (!u) return out;
    char* host = nullptr;
    char* port = nullptr;
    if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        addrinfo hints{};
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_NUMERICHOST;
        addrinfo* res = nullptr;
        const bool numeric = host[0] == '[' || ::getaddrinfo(host, nullptr, &hints, &res) == 0;
        if (res) ::freeaddrinfo(res);
        res = nullptr;
        hints.ai_flags = 0;
        if (!numeric && ::getaddrinfo(host, nullptr, &hints, &res) == 0) {
            std::string addrs;
            for (addrinfo* a = res; a; a = a->ai_next) {
                char buf[NI_MAXHOST];
                if (::getnameinfo(a->ai_addr, a->ai_addrlen, buf, sizeof buf, nullptr, 0, NI_NUMERICHOST) != 0)
                    continue;
                const std::string addr = a->ai_family == AF_INET6 ? "[" + std::string(buf) + "]" : buf;
                if (addrs.find(addr) == std::string::npos) addrs += (addrs.empty() ? "" : ",") + addr;
            }
            ::freeaddrinfo(res);
            if (!addrs.empty()) out = std::string(host) + ":" + port + ":" + addrs;
        }
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

// Addresses given with --resolve: used as they are, never resolved again.
static void pin_given_addresses(Pinned& p, const std::vector<std::string>& entries) {
    for (const auto& entry : entries) add_resolve_entry(p, entry);
}

void pin_resources(const HttpOptions& o) {
    Pinned& p = pinned();
    std::lock_guard lock(p.mu);
    pin_given_addresses(p, o.resolve);
    if (!o.pin_at_attach) return;
    load_file(p, o.ca_file.empty() ? default_ca_bundle() : o.ca_file);
    load_file(p, o.cert_file);
    load_file(p, o.key_file);
    for (const auto& url : o.urls) pin_host(p, url);
}

void apply_pinned_resources(CURL* e, const HttpOptions& o) {
    Pinned& p = pinned();
    std::lock_guard lock(p.mu);
    pin_given_addresses(p, o.resolve);  // also for requests made before the source (the manifest)
    if (!o.pin_at_attach) {
        if (!o.resolve.empty() && p.resolve) curl_easy_setopt(e, CURLOPT_RESOLVE, p.resolve);
        return;
    }
    // Only what was pinned: anything else falls back to the file (and fails
    // visibly if it is gone) rather than being read silently now.
    set_blob(e, CURLOPT_CAINFO_BLOB, load_file_if_pinned(p, o.ca_file.empty() ? default_ca_bundle() : o.ca_file));
    set_blob(e, CURLOPT_SSLCERT_BLOB, load_file_if_pinned(p, o.cert_file));
    set_blob(e, CURLOPT_SSLKEY_BLOB, load_file_if_pinned(p, o.key_file));
    curl_easy_setopt(e, CURLOPT_CAPATH, nullptr);
    if (p.resolve) curl_easy_setopt(e, CURLOPT_RESOLVE, p.resolve);
}

}  // namespace lazyroot::http
