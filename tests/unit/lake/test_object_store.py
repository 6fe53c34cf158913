from __future__ import annotations

import pytest

from sora_model.lake import object_store


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for key in object_store.ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    return monkeypatch


def test_without_settings_the_store_is_aws_with_virtual_hosts(clean_env):
    s = object_store.current()
    assert s.endpoint_url is None and s.region == "us-east-1" and not s.path_style
    opts = object_store.delta_options("s3a://b/t")
    assert {k: v for k, v in opts.items() if k.startswith("AWS_")} == {
        "AWS_REGION": "us-east-1", "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "true"}
    assert opts["timeout"] == "30s"  # the client's own settings, given explicitly (see the TIMEOUT test)
    assert object_store.delta_options("/local/table") == {}


def test_an_endpoint_means_path_style_and_plain_http_is_allowed(clean_env):
    object_store.apply(object_store.ObjectStoreConfig(endpoint_url="http://127.0.0.1:9000", region="eu-west-1"))
    s = object_store.current()
    assert (s.endpoint_url, s.region, s.path_style) == ("http://127.0.0.1:9000", "eu-west-1", True)
    opts = object_store.delta_options("s3://b/t")
    assert opts["AWS_ALLOW_HTTP"] == "true" and opts["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"


def test_path_style_can_be_forced_either_way(clean_env):
    object_store.apply(object_store.ObjectStoreConfig(endpoint_url="https://store.example", path_style=False))
    assert not object_store.current().path_style and "AWS_ALLOW_HTTP" not in object_store.delta_options("s3://b")


def test_only_s3_schemes_are_object_store_uris():
    assert object_store.is_s3("s3a://b/k") and object_store.is_s3("s3://b") and not object_store.is_s3("/x/s3")


def test_the_retry_budget_reaches_every_client_and_sizes_the_sdk_attempts(clean_env):
    object_store.apply(object_store.ObjectStoreConfig(endpoint_url="http://127.0.0.1:9", retry_s=10))
    s = object_store.current()
    assert s.retry_s == 10 and 25e-3 * (2 ** (s.sdk_attempts - 1) - 1) >= 10  # the SDKs' pauses add up to it
    assert object_store.delta_options("s3://b/t")["retry_timeout"] == "10s"
    assert object_store.executor_env()["spark.executorEnv.SORA_S3_RETRY_S"] == "10"
    with pytest.raises(ValueError, match="retry_s must be > 0, got 0"):
        object_store.ObjectStoreConfig(retry_s=0)


def test_an_unreachable_store_is_told_from_other_errors_through_causes_and_java_traces():
    refused = OSError("When reading information for key 'a.mp4' in bucket 'b': AWS Error NETWORK_CONNECTION during "
                      "HeadObject operation: curlCode: 7, Could not connect to server")
    try:
        try:
            raise refused
        except OSError as e:
            raise RuntimeError("the task failed") from e
    except RuntimeError as wrapped:
        assert "NETWORK_CONNECTION" in object_store.unreachable_reason(wrapped)
    java = "py4j.Py4JJavaError: ...\nCaused by: java.net.ConnectException: Connection refused\n\tat java.base/..."
    assert object_store.unreachable_reason(java) == "Caused by: java.net.ConnectException: Connection refused"
    assert object_store.unreachable_reason(ValueError("moov atom not found")) is None


def test_a_store_error_in_words_no_marker_knows_is_an_outage_only_while_the_store_does_not_answer(clean_env):
    import socket

    cut = OSError("getFileStatus on s3a://lake/x/_staging/part-0: response body cut off after 512 bytes")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        object_store.apply(object_store.ObjectStoreConfig(endpoint_url=f"http://127.0.0.1:{port}"))
        assert object_store.outage_reason(cut) is None  # the store answers: the error is the run's own
    # The port is closed now: the same error is the outage's.
    assert "s3a://lake/x/_staging/part-0" in object_store.outage_reason(cut)
    assert object_store.outage_reason(ValueError("moov atom not found")) is None  # not the store's
