#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace lazyroot::testing {

// A minimal NVMe/TCP controller on 127.0.0.1 for host-side tests of the
// initiator: ICResp, Connect, Property Get/Set, Set Features, Keep Alive and
// Read (C2HData with SUCCESS) from an in-memory image, with knobs to hold
// reads back, drop the connection, or fail reads. Blocking, one thread per
// connection; it records what the host did.
class FakeNvmeTarget {
public:
    struct Options {
        std::vector<uint8_t> image;
        uint32_t lba_bytes = 512;
        uint16_t mqes = 7;          // CAP.MQES (0's based): at most 8 IO SQ entries
        bool batch_reads = true;    // answer reads only once the host stops sending
        int drop_after_reads = -1;  // close the IO connection after this many reads, once
        uint16_t read_status = 0;   // answer reads with this status instead of data
        bool never_answer_reads = false;
        bool malformed_once = false;        // the first read gets a C2HData with SUCCESS but not LAST_PDU
        bool bad_data_digest_once = false;  // the first read's data digest is wrong (with data digests on)
        uint16_t port = 0;                  // 0: any free port
    };

    explicit FakeNvmeTarget(Options o);
    ~FakeNvmeTarget();
    uint16_t port() const { return port_; }

    std::atomic<unsigned> reads{0};
    std::atomic<unsigned> max_outstanding{0};
    std::atomic<uint32_t> max_read_bytes{0};
    std::atomic<unsigned> admin_connects{0};
    std::atomic<unsigned> io_connects{0};
    std::atomic<uint16_t> io_sqsize{0};
    std::atomic<unsigned> keep_alives{0};
    std::atomic<unsigned> term_reqs{0};  // H2CTermReq PDUs received
    std::atomic<uint32_t> kato_ms{0};

private:
    void accept_loop();
    void serve(int fd);

    Options opts_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> dropped_{false};
    std::atomic<bool> malformed_sent_{false};
    std::atomic<bool> bad_digest_sent_{false};
    std::mutex mu_;
    std::vector<int> conns_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

}  // namespace lazyroot::testing
