#pragma once
#include <string>

namespace lazyroot::http {

// s3://BUCKET/KEY, split. Pure: no network.
struct S3Location {
    std::string bucket;
    std::string key;  // as given (not percent-encoded)
};

// Throws std::invalid_argument with a one-line reason for a malformed
// s3:// URL: no bucket, a bucket name S3 would refuse, no key.
S3Location parse_s3_url(const std::string& text);

// The path-style URL of the object at `endpoint` (http(s)://HOST[:PORT][/PREFIX],
// as radosgw and minio serve it): ENDPOINT/BUCKET/KEY, the key
// percent-encoded as SigV4's canonical URI expects (everything but
// A-Z a-z 0-9 - . _ ~ and '/').
std::string s3_object_url(const std::string& endpoint, const S3Location& loc);

// https://s3.REGION.amazonaws.com: AWS's regional endpoint, path style.
std::string default_s3_endpoint(const std::string& region);

// A region name as AWS spells them ("us-east-1", "eu-central-1"); what
// CURLOPT_AWS_SIGV4 takes after "aws:amz:".
bool valid_s3_region(const std::string& region);

}  // namespace lazyroot::http
