"""The boto3 client every script here uses: the running Coffer from AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION, SigV4 (boto3 still presigns with
SigV2 by default, which Coffer refuses), path-style, and no retries (a retry would hide the
error a test looks for).
"""

import os

import boto3
from botocore.client import Config


def client(service="s3", access_key=None, secret_key=None, addressing_style="path", **config):
    """A client of `service`; `addressing_style=None` leaves boto3's default, and `config`
    adds botocore Config settings (request_checksum_calculation, …)."""
    if service == "s3":
        config["signature_version"] = "s3v4"
        config["s3"] = {"addressing_style": addressing_style} if addressing_style else {}
    return boto3.client(
        service,
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id=access_key or os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret_key or os.environ["AWS_SECRET_ACCESS_KEY"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        config=Config(retries={"max_attempts": 1}, **config),
    )
