//! The metric path between a pod and the HPA: Prometheus scrapes, its
//! in-memory TSDB, PromQL evaluated as Prometheus does, prometheus-adapter
//! rules, and metrics-server.

pub mod adapter;
pub mod labels;
pub mod path;
pub mod promql;
pub mod scrape;
pub mod server;
pub mod tsdb;
