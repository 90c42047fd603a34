#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace lazyroot::http {

// An S3 key pair (and the token of temporary credentials). Secrets: kept in
// memory, handed to libcurl's SigV4 signer, never logged or persisted.
struct S3Credentials {
    std::string access_key;
    std::string secret_key;
    std::string session_token;  // empty unless temporary credentials
};

// The [default] profile of an AWS shared-credentials file (the ini format of
// ~/.aws/credentials: aws_access_key_id, aws_secret_access_key, optional
// aws_session_token; '#' and ';' comments). Throws std::runtime_error with a
// one-line reason naming the file and line, never a value.
S3Credentials parse_s3_credentials(std::string_view text, const std::string& path);
S3Credentials read_s3_credentials_file(const std::string& path);

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; nullopt
// when the first two are not both set.
std::optional<S3Credentials> s3_credentials_from_env();

}  // namespace lazyroot::http
