#!/usr/bin/python3
"""s3-presign.py ENDPOINT BUCKET KEY SECONDS: prints a presigned GET URL
(SigV4, path style) for s3://BUCKET/KEY at ENDPOINT, valid for SECONDS,
signed by botocore (Debian's python3-botocore) with the keys in
S3_ACCESS_KEY / S3_SECRET_KEY. Offline: the store is not contacted."""
import os
import sys

import botocore.session
from botocore.config import Config

endpoint, bucket, key, seconds = sys.argv[1:5]
client = botocore.session.get_session().create_client(
    "s3",
    region_name="us-east-1",
    endpoint_url=endpoint,
    aws_access_key_id=os.environ["S3_ACCESS_KEY"],
    aws_secret_access_key=os.environ["S3_SECRET_KEY"],
    config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
)
print(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(seconds)))
