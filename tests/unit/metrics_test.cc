#include "parley/metrics/metrics.h"

#include <catch2/catch.hpp>

using parley::metrics::Registry;

TEST_CASE("counters, gauges and histograms render in Prometheus text format", "[metrics]") {
  Registry registry;
  registry.GetCounter("requests_total", "calls", {{"code", "0"}}).Increment(3);
  registry.GetCounter("requests_total", "calls", {{"code", "70001"}}).Increment();
  registry.GetGauge("open", "open connections").Set(7);
  auto& h = registry.GetHistogram("latency_seconds", "latency", {{"m", "x"}});
  h.Observe(0.0002);
  h.Observe(0.03);
  h.Observe(100);
  std::string text = registry.Render();
  CHECK(text.find("# TYPE requests_total counter") != std::string::npos);
  CHECK(text.find("requests_total{code=\"0\"} 3") != std::string::npos);
  CHECK(text.find("requests_total{code=\"70001\"} 1") != std::string::npos);
  CHECK(text.find("open 7") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"0.0005\",m=\"x\"} 1") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"0.05\",m=\"x\"} 2") != std::string::npos);
  CHECK(text.find("latency_seconds_bucket{le=\"+Inf\",m=\"x\"} 3") != std::string::npos);
  CHECK(text.find("latency_seconds_count{m=\"x\"} 3") != std::string::npos);
}

TEST_CASE("the same name and labels give the same metric", "[metrics]") {
  Registry registry;
  auto& a = registry.GetCounter("c", "h", {{"k", "v"}});
  auto& b = registry.GetCounter("c", "h", {{"k", "v"}});
  CHECK(&a == &b);
  CHECK(&a != &registry.GetCounter("c", "h", {{"k", "w"}}));
}

TEST_CASE("label values are escaped", "[metrics]") {
  Registry registry;
  registry.GetCounter("c", "h", {{"k", "a\"b\\c\n"}}).Increment();
  CHECK(registry.Render().find("c{k=\"a\\\"b\\\\c\\n\"} 1") != std::string::npos);
}
