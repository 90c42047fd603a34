#include <gtest/gtest.h>

#include "http/content_range.h"
#include "http/image_identity.h"
#include "http/response_head.h"

using namespace lazyroot::http;

TEST(ContentRange, ParsesARange) {
    auto cr = parse_content_range("bytes 0-499/1234");
    ASSERT_TRUE(cr);
    EXPECT_FALSE(cr->unsatisfied);
    EXPECT_EQ(cr->first, 0u);
    EXPECT_EQ(cr->last, 499u);
    EXPECT_EQ(cr->size, 1234u);
}

TEST(ContentRange, ParsesUnknownSizeAndUnsatisfied) {
    auto a = parse_content_range("bytes 10-19/*");
    ASSERT_TRUE(a);
    EXPECT_FALSE(a->size);
    auto b = parse_content_range("bytes */4096");
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->unsatisfied);
    EXPECT_EQ(b->size, 4096u);
    EXPECT_TRUE(parse_content_range("  Bytes 1-1/2 \r\n"));
}

TEST(ContentRange, RejectsMalformed) {
    for (const char* bad :
         {"", "bytes", "bytes 1-2", "bytes 2-1/10", "bytes 0-10/10", "bytes -1-2/10", "bytes 1-+2/10", "items 0-1/10",
          "bytes */*", "bytes 0-1/x", "bytes a-1/10", "bytes 0-99999999999999999999/1", "bytes 0 -1/10"})
        EXPECT_FALSE(parse_content_range(bad)) << bad;
}

TEST(ContentRange, StatusLines) {
    EXPECT_EQ(parse_status_line("HTTP/1.1 206 Partial Content\r\n"), 206);
    EXPECT_EQ(parse_status_line("HTTP/2 200\r\n"), 200);
    EXPECT_FALSE(parse_status_line("Content-Type: x\r\n"));
    EXPECT_FALSE(parse_status_line("HTTP/1.1 20\r\n"));
    EXPECT_FALSE(parse_status_line("HTTP/1.1 2066 x\r\n"));
}

TEST(ResponseHead, TwoDifferentCopiesOfAHeaderAreAConflict) {
    for (const char* dup : {"Content-Range: bytes 0-0/99\r\n", "Content-Length: 7\r\n", "ETag: \"v2\"\r\n",
                            "Last-Modified: Mon, 23 Nov 2026 04:00:00 GMT\r\n"}) {
        ResponseHead h;
        for (const char* l :
             {"HTTP/1.1 206 Partial Content\r\n", "Content-Range: bytes 0-0/100\r\n", "Content-Length: 1\r\n",
              "ETag: \"v1\"\r\n", "Last-Modified: Sun, 22 Nov 2026 04:00:00 GMT\r\n", dup, "\r\n"})
            h.feed_line(l);
        EXPECT_FALSE(h.conflict.empty()) << dup;
    }
    // The same value twice is no conflict, and a redirect's headers don't count.
    ResponseHead h;
    for (const char* l : {"HTTP/1.1 302 Found\r\n", "ETag: \"old\"\r\n", "\r\n", "HTTP/1.1 206 Partial Content\r\n",
                          "ETag: \"v1\"\r\n", "ETag: \"v1\"\r\n", "Content-Range: bytes 0-0/100\r\n", "\r\n"})
        h.feed_line(l);
    EXPECT_TRUE(h.conflict.empty()) << h.conflict;
    ASSERT_TRUE(h.content_range);
}

TEST(ResponseHead, KeepsTheLastResponseAfterRedirects) {
    ResponseHead h;
    for (const char* l :
         {"HTTP/1.1 302 Found\r\n", "Location: /b\r\n", "ETag: \"old\"\r\n", "\r\n", "HTTP/1.1 206 Partial Content\r\n",
          "content-range: bytes 5-9/100\r\n", "Content-Length: 5\r\n", "ETag: \"v1\"\r\n",
          "Last-Modified: Sun, 22 Nov 2026 04:00:00 GMT\r\n", "\r\n"})
        h.feed_line(l);
    EXPECT_EQ(h.status, 206);
    ASSERT_TRUE(h.content_range);
    EXPECT_EQ(h.content_range->first, 5u);
    EXPECT_EQ(h.content_length, 5u);
    EXPECT_EQ(h.etag, "\"v1\"");
    EXPECT_EQ(h.last_modified, "Sun, 22 Nov 2026 04:00:00 GMT");
}

TEST(ImageIdentity, PreconditionPrefersAStrongEtag) {
    ImageIdentity strong{10, "\"abc\"", "Sun, 22 Nov 2026 04:00:00 GMT"};
    EXPECT_EQ(strong.precondition_header(), "If-Match: \"abc\"");
    ImageIdentity weak{10, "W/\"abc\"", "Sun, 22 Nov 2026 04:00:00 GMT"};
    EXPECT_EQ(weak.precondition_header(), "If-Range: Sun, 22 Nov 2026 04:00:00 GMT");
    ImageIdentity none{10, "", ""};
    EXPECT_EQ(none.precondition_header(), "");
}

TEST(ImageIdentity, ContradictionNeedsADifferentValidator) {
    ImageIdentity id{10, "\"abc\"", "date1"};
    EXPECT_FALSE(id.contradicts("\"abc\"", "date1"));
    EXPECT_FALSE(id.contradicts("", ""));
    EXPECT_TRUE(id.contradicts("\"abd\"", "date1"));
    EXPECT_TRUE(id.contradicts("\"abc\"", "date2"));
}
