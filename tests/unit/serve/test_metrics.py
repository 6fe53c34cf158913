from __future__ import annotations

import re

from sora_model.serve.metrics import Metrics


def test_metrics_render_as_prometheus_text_with_cumulative_buckets():
    m = Metrics()
    for seconds in (0.01, 0.2, 0.2, 3.0):
        m.request_started()
        m.request_ended("/v1/score", 200, seconds)
    m.request_started()
    m.request_ended("/v1/score", 422, 0.05)
    m.rejected("not_video")
    m.scored(clips=7, seconds=0.2)
    text = m.render("run/1/onnx", "production", 3, swaps=1, pending=5, rss_bytes=1 << 20)
    assert 'sora_serve_requests_total{route="/v1/score",status="200"} 4' in text
    assert 'sora_serve_rejected_total{reason="not_video"} 1' in text
    buckets = [int(n) for n in re.findall(r'sora_serve_request_seconds_bucket\{le="[^"]+"\} (\d+)', text)]
    assert buckets == sorted(buckets) and buckets[-1] == 5
    assert "sora_serve_request_seconds_count 5" in text and "sora_serve_in_flight 0" in text
    assert 'sora_serve_model_info{model_id="run/1/onnx",alias="production",alias_seq="3"} 1' in text
    assert "sora_serve_model_swaps_total 1" in text and "sora_serve_predictions_pending 5" in text
    for line in text.splitlines():  # every sample line: name{labels} value
        assert line.startswith("#") or re.fullmatch(r'[a-z_]+(\{[^}]*\})? [0-9.e+-]+', line), line
