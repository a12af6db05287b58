//! Prometheus metrics: the recorder, the per-request middleware (requests by
//! matched route and status, a latency histogram) and gauges read at scrape time.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder (installed once; later calls share it, which lets
/// tests start several servers in one process).
pub fn recorder() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("parkd_http_request_duration_seconds".into()),
                    &[
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ],
                )
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let installed = metrics::set_global_recorder(recorder);
            if installed.is_err() {
                // An embedding program installed its own recorder first; /metrics
                // then shows only what reaches ours (nothing), and says so in logs.
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Counts and times every request by its matched route (never the raw path, so
/// ids do not explode the label set).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("parkd_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("parkd_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    #[test]
    fn counters_show_up_in_the_rendered_text() {
        let handle = super::recorder();
        metrics::counter!("parkd_test_counter_total", "route" => "/x").increment(2);
        let text = handle.render();
        assert!(
            text.contains("parkd_test_counter_total{route=\"/x\"} 2"),
            "{text}"
        );
    }
}
